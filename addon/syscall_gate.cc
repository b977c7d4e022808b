// The host side of both ways a domain's system call reaches keycell: the
// syscall gate the runtime calls (gates/syscall_gate.S) and a raw SYSCALL
// trapped by Syscall User Dispatch (addon/signals.cc). Either way the call
// goes to the monitor of the domain being called on this thread.
#include <cerrno>
#include <string>

#include "syscall_monitor.h"
#include "thread_state.h"

namespace {

// Serves one system call of the domain being called on this thread; -ENOSYS
// when the domain has no monitor (no policy was installed).
long Serve(keycell::ThreadBlock* block, long nr, const uint64_t args[6], uint64_t caller) {
  auto* monitor = block ? static_cast<keycell::monitor::Monitor*>(block->state.monitor) : nullptr;
  if (!monitor) return -ENOSYS;
  keycell::policy::Request request;
  request.nr = nr;
  for (int i = 0; i < 6; i++) request.args[i] = args[i];
  request.caller = caller;
  return monitor->Execute(request).result;
}

}  // namespace

extern "C" long keycell_syscall_from_domain(long nr, long a1, long a2, long a3, long a4, long a5,
                                            long a6) {
  std::string error;
  keycell::ThreadBlock* block = keycell::CurrentThreadBlock(&error);
  const uint64_t args[6] = {static_cast<uint64_t>(a1), static_cast<uint64_t>(a2),
                            static_cast<uint64_t>(a3), static_cast<uint64_t>(a4),
                            static_cast<uint64_t>(a5), static_cast<uint64_t>(a6)};
  // The gate's return address, on the domain stack: the instruction after the call.
  uint64_t caller = block ? *reinterpret_cast<const uint64_t*>(block->state.syscall_rsp) : 0;
  return Serve(block, nr, args, caller);
}

extern "C" long keycell_serve_trapped_syscall(long nr, const uint64_t args[6], uint64_t caller) {
  std::string error;
  return Serve(keycell::CurrentThreadBlock(&error), nr, args, caller);
}
