// The memory of one domain: image pages for loaded code and data, a stack and
// a thread area holding the thread control block, all tagged with the
// domain's protection key and separated by guard pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace keycell {

// Page protections as the loader asks for them: read, write, execute bits.
enum DomainProtection : int { kRead = 1, kWrite = 2, kExecute = 4 };

class DomainMemory {
 public:
  static constexpr size_t kPageSize = 4096;
  static constexpr size_t kImageSize = 64u << 20;
  static constexpr size_t kStackSize = 1u << 20;
  static constexpr size_t kThreadAreaSize = 64u << 10;
  static constexpr size_t kGuardSize = 64u << 10;

  // Reserves and tags the memory with `pkey` (-1: no key, isolation 'none').
  bool Create(int pkey, std::string* error);
  // Unmaps everything, moat included. Safe to call twice.
  void Release();

  // Sets the protection of image pages [offset, offset + length), page
  // aligned. Write and execute together are refused.
  bool Protect(uint64_t offset, uint64_t length, int protection, std::string* error);
  // True when every image page in [offset, offset + length) allows `protection`.
  bool Allows(uint64_t offset, uint64_t length, int protection) const;
  // True when `address` lies in an executable image page. Inline: every
  // domain call checks its entry.
  bool IsExecutable(uint64_t address) const {
    uint64_t start = reinterpret_cast<uint64_t>(image_);
    if (!region_ || address < start || address >= start + kImageSize) return false;
    return (page_protection_[(address - start) / kPageSize] & kExecute) != 0;
  }

  // Points the thread control block's DTV slot (%fs:8) at `dtv`, a domain
  // address: the runtime's __tls_get_addr finds TLS blocks through it.
  void SetThreadVector(uint64_t dtv);

  // The domain's memory as [start, end) ranges: image, stack and thread area.
  std::vector<std::pair<uintptr_t, uintptr_t>> Ranges() const;

  char* image() const { return image_; }
  uint64_t stack_top() const { return stack_top_; }
  uint64_t thread_pointer() const { return thread_pointer_; }
  // Static TLS lies below the thread pointer (x86-64 TLS variant II).
  uint64_t tls_size() const { return thread_pointer_ - reinterpret_cast<uint64_t>(thread_area_); }

 private:
  static size_t RegionSize();
  void SetUpThreadControlBlock();

  char* region_ = nullptr;
  char* image_ = nullptr;
  char* thread_area_ = nullptr;
  uint64_t stack_top_ = 0;
  uint64_t thread_pointer_ = 0;
  int pkey_ = -1;
  std::vector<uint8_t> page_protection_;
};

}  // namespace keycell
