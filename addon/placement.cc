// Random placement away from the host's mappings.
//
// Domain code learns its own addresses, so nothing it can compute from them
// may point near host code: a domain next to libc could find libc's PKRU
// gadgets by offset. Each reservation therefore picks a random page-aligned
// address in the lower 47-bit user half and maps it, with a PROT_NONE moat on
// both sides, using MAP_FIXED_NOREPLACE: the kernel refuses the whole range if
// any existing mapping overlaps it, so success proves the moat is empty, and
// keeping the moat mapped stops later host mappings from landing next to it.
#include "placement.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sys/mman.h>
#include <sys/random.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

namespace keycell {
namespace {

constexpr uintptr_t kMoat = uintptr_t{1} << 30;
// Candidates lie between 1 TiB and 112 TiB; the kernel's default mmap area and
// the stack sit near 128 TiB.
constexpr uintptr_t kLowest = uintptr_t{1} << 40;
constexpr uintptr_t kHighest = uintptr_t{112} << 40;
constexpr uintptr_t kAlignment = uintptr_t{1} << 21;
constexpr int kAttempts = 64;

uintptr_t RandomCandidate(size_t span) {
  uint64_t random = 0;
  while (getrandom(&random, sizeof random, 0) != sizeof random) {
  }
  uintptr_t slots = (kHighest - kLowest - span) / kAlignment;
  return kLowest + (random % slots) * kAlignment;
}

}  // namespace

void* ReserveAwayFromHost(size_t size, std::string* error) {
  size_t span = size + 2 * kMoat;
  for (int attempt = 0; attempt < kAttempts; attempt++) {
    void* wanted = reinterpret_cast<void*>(RandomCandidate(span));
    void* got = mmap(wanted, span, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (got == MAP_FAILED) {
      if (errno == EEXIST) continue;
      *error = std::string("mmap of a domain reservation failed: ") + strerror(errno);
      return nullptr;
    }
    // Kernels without MAP_FIXED_NOREPLACE treat the address as a hint.
    if (got != wanted) {
      munmap(got, span);
      continue;
    }
    return static_cast<char*>(got) + kMoat;
  }
  *error = "no free address range far from the host's mappings was found";
  return nullptr;
}

void ReleaseAwayFromHost(void* start, size_t size) {
  munmap(static_cast<char*>(start) - kMoat, size + 2 * kMoat);
}

}  // namespace keycell
