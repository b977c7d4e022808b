// The host side of the syscall gate (gates/syscall_gate.S): hands a domain's
// system call to the monitor of the domain being called on this thread.
#include <cerrno>
#include <string>

#include "syscall_monitor.h"
#include "thread_state.h"

extern "C" long keycell_syscall_from_domain(long nr, long a1, long a2, long a3, long a4, long a5,
                                            long a6) {
  std::string error;
  keycell::ThreadBlock* block = keycell::CurrentThreadBlock(&error);
  auto* monitor = block ? static_cast<keycell::monitor::Monitor*>(block->state.monitor) : nullptr;
  if (!monitor) return -ENOSYS;

  keycell::policy::Request request;
  request.nr = nr;
  const long args[6] = {a1, a2, a3, a4, a5, a6};
  for (int i = 0; i < 6; i++) request.args[i] = static_cast<uint64_t>(args[i]);
  // The gate's return address, on the domain stack: the instruction after the call.
  request.caller = *reinterpret_cast<const uint64_t*>(block->state.syscall_rsp);
  return monitor->Execute(request).result;
}

// For a raw syscall trapped by Syscall User Dispatch (addon/signals.cc).
extern "C" long keycell_serve_trapped_syscall(long nr, const uint64_t args[6], uint64_t caller) {
  std::string error;
  keycell::ThreadBlock* block = keycell::CurrentThreadBlock(&error);
  auto* monitor = block ? static_cast<keycell::monitor::Monitor*>(block->state.monitor) : nullptr;
  if (!monitor) return -ENOSYS;
  keycell::policy::Request request;
  request.nr = nr;
  for (int i = 0; i < 6; i++) request.args[i] = args[i];
  request.caller = caller;
  return monitor->Execute(request).result;
}
