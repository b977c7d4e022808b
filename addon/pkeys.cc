// Protection keys: the only source is pkey_alloc (V8 already holds one key in
// every Node process, so no key number is ever assumed) and every key goes
// back with pkey_free.
//
// PKRU holds two bits per key: access-disable at bit 2k, write-disable at bit
// 2k+1 (Intel SDM vol. 3A, 4.6.2). pkey_alloc(0, 0) enables the new key in the
// calling thread's PKRU only.
#include "pkeys.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "pkru.h"

namespace keycell {
namespace {

// PKRU the kernel installs on signal delivery: key 0 read-write, all else denied.
constexpr uint32_t kKernelSignalPkru = 0x55555554u;

std::mutex shared_mutex;
SharedPkeys shared;

}  // namespace

bool EnsureSharedPkeys(SharedPkeys* keys, std::string* error) {
  std::lock_guard<std::mutex> lock(shared_mutex);
  if (shared.gate < 0) {
    int gate = pkey_alloc(0, 0);
    int signal_stack = gate < 0 ? -1 : pkey_alloc(0, 0);
    if (gate < 0 || signal_stack < 0) {
      *error = std::string("pkey_alloc for keycell's gate keys failed: ") + strerror(errno);
      if (gate >= 0) pkey_free(gate);
      return false;
    }
    shared.gate = gate;
    shared.signal_stack = signal_stack;
  }
  *keys = shared;
  return true;
}

int AllocateDomainPkey() { return pkey_alloc(0, 0); }

void FreeDomainPkey(int pkey) { pkey_free(pkey); }

uint32_t DomainPkru(int pkey, const SharedPkeys& keys) {
  uint32_t pkru = 0xffffffffu;
  pkru &= ~(PkruAccessDisable(pkey) | PkruWriteDisable(pkey));
  pkru &= ~(PkruAccessDisable(keys.signal_stack) | PkruWriteDisable(keys.signal_stack));
  pkru &= ~PkruAccessDisable(keys.gate);
  return pkru;
}

uint32_t SignalPkru(const SharedPkeys& keys) {
  // The gate page too: handlers set the Syscall User Dispatch selector there,
  // and the kernel must be able to read it for every syscall they make.
  return kKernelSignalPkru & ~PkruAccessDisable(keys.signal_stack) &
         ~(PkruAccessDisable(keys.gate) | PkruWriteDisable(keys.gate));
}

}  // namespace keycell
