// Domain memory, tagged with the domain's key through pkey_mprotect.
//
// Layout of one domain's region (each piece page aligned):
//   guard | image (64 MiB) | guard | stack (1 MiB) | guard | thread area | guard
// The region sits inside a random reservation far from host mappings
// (placement.cc). Guards stay PROT_NONE. Image pages start PROT_NONE and are
// mapped by the loader, never writable and executable at once. The top page
// of the thread area is the thread control block that the domain's FS base
// points at: %fs:0 and %fs:0x10 hold its own address and %fs:0x28 the stack
// canary, as glibc-built code expects; static TLS goes below it.
#include "domain_memory.h"

#include <sys/mman.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "placement.h"

namespace keycell {
namespace {

constexpr size_t kPageSize = DomainMemory::kPageSize;
constexpr size_t kTcbSelf = 0x00;
constexpr size_t kTcbThreadVector = 0x08;
constexpr size_t kTcbSelfAgain = 0x10;
constexpr size_t kTcbStackGuard = 0x28;
constexpr size_t kTcbPointerGuard = 0x30;

int ToProt(int protection) {
  int prot = PROT_NONE;
  if (protection & kRead) prot |= PROT_READ;
  if (protection & kWrite) prot |= PROT_WRITE;
  if (protection & kExecute) prot |= PROT_EXEC;
  return prot;
}

int ProtectTagged(void* start, size_t length, int prot, int pkey) {
  return pkey >= 0 ? pkey_mprotect(start, length, prot, pkey) : mprotect(start, length, prot);
}

uint64_t RandomWord() {
  uint64_t word = 0;
  while (getrandom(&word, sizeof word, 0) != sizeof word) {
  }
  return word;
}

}  // namespace

size_t DomainMemory::RegionSize() {
  return kGuardSize + kImageSize + kGuardSize + kStackSize + kGuardSize + kThreadAreaSize +
         kGuardSize;
}

bool DomainMemory::Create(int pkey, std::string* error) {
  pkey_ = pkey;
  region_ = static_cast<char*>(ReserveAwayFromHost(RegionSize(), error));
  if (!region_) return false;

  image_ = region_ + kGuardSize;
  char* stack = image_ + kImageSize + kGuardSize;
  thread_area_ = stack + kStackSize + kGuardSize;
  stack_top_ = reinterpret_cast<uint64_t>(stack + kStackSize);
  thread_pointer_ = reinterpret_cast<uint64_t>(thread_area_ + kThreadAreaSize - kPageSize);
  page_protection_.assign(kImageSize / kPageSize, 0);

  // Tag the whole region, guards included, so no page of it carries key 0.
  if (ProtectTagged(region_, RegionSize(), PROT_NONE, pkey) != 0 ||
      ProtectTagged(stack, kStackSize, PROT_READ | PROT_WRITE, pkey) != 0 ||
      ProtectTagged(thread_area_, kThreadAreaSize, PROT_READ | PROT_WRITE, pkey) != 0) {
    *error = std::string("pkey_mprotect of domain memory failed: ") + strerror(errno);
    Release();
    return false;
  }
  SetUpThreadControlBlock();
  return true;
}

void DomainMemory::SetUpThreadControlBlock() {
  auto* tcb = reinterpret_cast<char*>(thread_pointer_);
  uint64_t self = thread_pointer_;
  // Like glibc, keep the canary's low byte zero so string overflows stop at it.
  uint64_t canary = RandomWord() & ~uint64_t{0xff};
  uint64_t pointer_guard = RandomWord();
  memcpy(tcb + kTcbSelf, &self, sizeof self);
  memcpy(tcb + kTcbSelfAgain, &self, sizeof self);
  memcpy(tcb + kTcbStackGuard, &canary, sizeof canary);
  memcpy(tcb + kTcbPointerGuard, &pointer_guard, sizeof pointer_guard);
}

void DomainMemory::SetThreadVector(uint64_t dtv) {
  memcpy(reinterpret_cast<char*>(thread_pointer_) + kTcbThreadVector, &dtv, sizeof dtv);
}

std::vector<std::pair<uintptr_t, uintptr_t>> DomainMemory::Ranges() const {
  auto image = reinterpret_cast<uintptr_t>(image_);
  auto thread_area = reinterpret_cast<uintptr_t>(thread_area_);
  return {{image, image + kImageSize},
          {stack_top_ - kStackSize, stack_top_},
          {thread_area, thread_area + kThreadAreaSize}};
}

void DomainMemory::Release() {
  if (!region_) return;
  ReleaseAwayFromHost(region_, RegionSize());
  region_ = image_ = thread_area_ = nullptr;
  stack_top_ = thread_pointer_ = 0;
  page_protection_.clear();
}

bool DomainMemory::Protect(uint64_t offset, uint64_t length, int protection, std::string* error) {
  if ((protection & kWrite) && (protection & kExecute)) {
    *error = "domain pages are never writable and executable at once";
    return false;
  }
  if (offset % kPageSize != 0 || length % kPageSize != 0 || length == 0 || offset > kImageSize ||
      length > kImageSize - offset) {
    *error = "protect needs a page-aligned, non-empty range inside the domain image";
    return false;
  }
  if (ProtectTagged(image_ + offset, length, ToProt(protection), pkey_) != 0) {
    *error = std::string("pkey_mprotect failed: ") + strerror(errno);
    return false;
  }
  for (uint64_t page = offset / kPageSize; page < (offset + length) / kPageSize; page++) {
    page_protection_[page] = static_cast<uint8_t>(protection);
  }
  return true;
}

bool DomainMemory::Allows(uint64_t offset, uint64_t length, int protection) const {
  if (!region_ || length == 0 || offset > kImageSize || length > kImageSize - offset) {
    return false;
  }
  for (uint64_t page = offset / kPageSize; page <= (offset + length - 1) / kPageSize; page++) {
    if ((page_protection_[page] & protection) != protection) return false;
  }
  return true;
}

}  // namespace keycell
