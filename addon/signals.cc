// Fault signals raised by domain code become SandboxFaults; all others go on
// to whatever handler was installed before keycell's.
//
// Every handler starts in gates/signal_entry.S, which makes PKRU, the stack
// and FS base safe to use and then calls keycell_signal_dispatch below. A
// fault in domain code (the thread's gate block says a call is in progress)
// is recorded in the block's key-0 state page and the frame is rewritten to
// resume in the exit gate, which writes and checks the host PKRU and restores
// the host's registers from trusted storage: nothing domain code could have
// shaped decides where the host resumes or with which rights.
//
// A fault outside domain code (V8 uses SIGSEGV for WebAssembly bounds checks)
// is handed to the previous handler with the same arguments.
#include "signals.h"

#include <cerrno>
#include <csignal>
#include <cpuid.h>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <ucontext.h>
#include <unistd.h>

#include "thread_state.h"

extern "C" {
void keycell_signal_entry(int signo, siginfo_t* info, void* context);
extern const char keycell_gate_text_start[];
void keycell_gate_exit(void);
extern const char keycell_gate_text_end[];
__attribute__((visibility("hidden"))) void keycell_signal_dispatch(int signo,
                                                             siginfo_t* info, void* context);
}

namespace keycell {
namespace {

constexpr int kFaultSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};
// EFLAGS for the exit gate: TF, AC and DF clear; IF as user mode always has it.
constexpr greg_t kCleanFlags = 0x202;

std::once_flag install_once;
bool installed = false;
std::string install_error;
struct sigaction previous[NSIG];

void WriteToStderr(const char* text) {
  ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
  (void)ignored;
}

// Called only on impossible states: a failed PKRU check or a fault inside a
// gate. Running on would mean running with unknown rights.
[[noreturn]] void AbortFromHandler(const char* why) {
  WriteToStderr("keycell: ");
  WriteToStderr(why);
  WriteToStderr("; aborting\n");
  abort();
}

ThreadBlock* BlockFromGsBase() {
  uint64_t base;
  asm volatile("rdgsbase %0" : "=r"(base));
  auto* block = reinterpret_cast<ThreadBlock*>(base);
  if (!block || block->state.self != base) return nullptr;
  return block;
}

bool InGateText(uint64_t ip) {
  return ip >= reinterpret_cast<uint64_t>(keycell_gate_text_start) &&
         ip < reinterpret_cast<uint64_t>(keycell_gate_text_end);
}

// Runs the handler that was installed before keycell's, as the kernel would
// have. A default action is reproduced by restoring it and raising the signal
// again: it stays blocked until sigreturn, then acts on the faulting code.
void ChainToPrevious(int signo, siginfo_t* info, void* context) {
  const struct sigaction& action = previous[signo];
  if (action.sa_flags & SA_SIGINFO) {
    if (action.sa_sigaction) action.sa_sigaction(signo, info, context);
    return;
  }
  if (action.sa_handler == SIG_DFL || action.sa_handler == SIG_IGN) {
    // An ignored fault signal gets the default action too, as the kernel
    // gives it to faults it cannot deliver.
    struct sigaction fallback = {};
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(signo, &fallback, nullptr);
    raise(signo);
    return;
  }
  action.sa_handler(signo);
}

// Records the fault and rewrites the interrupted context so that rt_sigreturn
// lands in the exit gate with clean flags, the domain's signal mask and the
// thread's signal stack re-armed (SS_AUTODISARM restores it from the frame).
void EndDomainCall(ThreadBlock* block, int signo, siginfo_t* info, ucontext_t* context) {
  StatePage& state = block->state;
  greg_t* registers = context->uc_mcontext.gregs;

  state.fault.signo = signo;
  state.fault.code = info->si_code;
  state.fault.address = reinterpret_cast<uint64_t>(info->si_addr);
  state.fault.instruction_pointer = static_cast<uint64_t>(registers[REG_RIP]);
  state.fault.pkey = (signo == SIGSEGV && info->si_code == SEGV_PKUERR)
                         ? static_cast<int32_t>(info->si_pkey)
                         : -1;
  state.faulted = 1;

  registers[REG_RIP] = reinterpret_cast<greg_t>(keycell_gate_exit);
  registers[REG_EFL] = kCleanFlags;
  context->uc_stack = state.signal_stack;
  context->uc_sigmask = state.domain_sigmask;
}

}  // namespace

bool InstallFaultHandlers(std::string* error) {
  std::call_once(install_once, [] {
    struct sigaction action = {};
    action.sa_sigaction = keycell_signal_entry;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    // Nothing may interrupt the handler: a second signal on the same stack
    // would see a half-made state. A fault inside the handler ends the process.
    sigfillset(&action.sa_mask);
    for (int signo : kFaultSignals) {
      if (sigaction(signo, &action, &previous[signo]) != 0) {
        install_error = std::string("sigaction failed: ") + strerror(errno);
        return;
      }
    }
    installed = true;
  });
  if (!installed) *error = install_error;
  return installed;
}

}  // namespace keycell

using keycell::ThreadBlock;

extern "C" void keycell_signal_dispatch(int signo, siginfo_t* info, void* raw_context) {
  auto* context = static_cast<ucontext_t*>(raw_context);
  ThreadBlock* block = keycell::BlockFromGsBase();
  uint64_t ip = static_cast<uint64_t>(context->uc_mcontext.gregs[REG_RIP]);

  if (block) block->state.signal_stack_dirty = 1;
  if (block && block->state.in_domain) {
    // Inside the gate text only a single-step trap is possible, after domain
    // code returned with TF set; it ends the call like any fault. Anything
    // else there is a failed PKRU check.
    if (keycell::InGateText(ip) && signo != SIGTRAP) {
      keycell::AbortFromHandler("a PKRU check failed or a call gate faulted");
    }
    keycell::EndDomainCall(block, signo, info, context);
    return;
  }
  if (block && keycell::InGateText(ip)) {
    keycell::AbortFromHandler("a call gate faulted outside a domain call");
  }
  keycell::ChainToPrevious(signo, info, raw_context);
}
