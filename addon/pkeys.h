// Protection keys owned by keycell and the PKRU values built from them.
#pragma once

#include <cstdint>
#include <string>

namespace keycell {

// Keys shared by every domain in the process, allocated once:
// - gate: tags the gate pages (read-only for domains, see gate_layout.h);
// - signal_stack: tags the alternate signal stacks, which domains must be able
//   to write because Linux 6.1 writes a signal frame with the interrupted PKRU.
struct SharedPkeys {
  int gate = -1;
  int signal_stack = -1;
};

// Allocates the shared keys on first use. False, with `error`, when the
// kernel refuses.
bool EnsureSharedPkeys(SharedPkeys* keys, std::string* error);

// A fresh key for one domain from pkey_alloc, enabled in the calling thread's
// PKRU; -1 with errno set when none is left.
int AllocateDomainPkey();

// Returns a domain's key to the kernel. All memory tagged with it must be
// unmapped first, or the next owner of the key could reach it.
void FreeDomainPkey(int pkey);

// The PKRU a domain runs with: every key denied except its own, the signal
// stack key, and the gate key, which stays readable.
uint32_t DomainPkru(int pkey, const SharedPkeys& keys);

// The PKRU keycell's signal handlers run with: the kernel's handler value
// (key 0 only) plus the signal stack key.
uint32_t SignalPkru(const SharedPkeys& keys);

}  // namespace keycell
