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

#include <cpuid.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "pkru.h"
#include "thread_state.h"

extern "C" {
void keycell_signal_entry(int signo, siginfo_t* info, void* context);
void keycell_sigsys_resume(void);
// addon/syscall_gate.cc: the monitor's answer to a domain's system call.
long keycell_serve_trapped_syscall(long nr, const uint64_t args[6], uint64_t caller);
extern const char keycell_gate_text_start[];
void keycell_gate_exit(void);
extern const char keycell_gate_text_end[];
__attribute__((visibility("hidden"))) void keycell_signal_dispatch(int signo, siginfo_t* info,
                                                                   void* context);
}

namespace keycell {
namespace {

constexpr int kFaultSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS};
// si_code of a SIGSYS raised by Syscall User Dispatch (<asm-generic/siginfo.h>).
constexpr int kSysUserDispatch = 2;
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
  state.fault.pkey =
      (signo == SIGSEGV && info->si_code == SEGV_PKUERR) ? static_cast<int32_t>(info->si_pkey) : -1;
  state.faulted = 1;

  registers[REG_RIP] = reinterpret_cast<greg_t>(keycell_gate_exit);
  registers[REG_EFL] = kCleanFlags;
  context->uc_stack = state.signal_stack;
  context->uc_sigmask = state.domain_sigmask;
}

// A raw SYSCALL in domain code, trapped by Syscall User Dispatch: the monitor
// serves it, then the frame is rewritten to come back through the resume
// trampoline with the result in RAX, as the instruction would have left it
// (RCX the return address, R11 the flags).
void ServeTrappedSyscall(ThreadBlock* block, siginfo_t* info, ucontext_t* context) {
  StatePage& state = block->state;
  GatePage& gate = block->gate;
  greg_t* registers = context->uc_mcontext.gregs;
  const uint64_t args[6] = {
      static_cast<uint64_t>(registers[REG_RDI]), static_cast<uint64_t>(registers[REG_RSI]),
      static_cast<uint64_t>(registers[REG_RDX]), static_cast<uint64_t>(registers[REG_R10]),
      static_cast<uint64_t>(registers[REG_R8]),  static_cast<uint64_t>(registers[REG_R9])};
  uint64_t rip = static_cast<uint64_t>(registers[REG_RIP]);
  // The monitor reads paths and the kernel copies buffers in domain memory,
  // which the signal PKRU denies: serve the call with the host PKRU of this
  // call (from the gate page, which domain code cannot write), then go back.
  bool pku = state.pku_available != 0;
  if (pku) keycell_pkru_write_checked(gate.host_pkru);
  long result = keycell_serve_trapped_syscall(info->si_syscall, args, rip);
  if (pku) keycell_pkru_write_checked(state.signal_pkru);

  gate.resume_rip = rip;
  gate.resume_rax = static_cast<uint64_t>(result);
  gate.resume_rcx = rip;
  gate.resume_rdx = static_cast<uint64_t>(registers[REG_RDX]);
  gate.resume_flags = static_cast<uint64_t>(registers[REG_EFL]);
  state.resume_rsp = static_cast<uint64_t>(registers[REG_RSP]);
  state.resume_rbx = static_cast<uint64_t>(registers[REG_RBX]);
  state.resume_rbp = static_cast<uint64_t>(registers[REG_RBP]);
  state.resume_rsi = static_cast<uint64_t>(registers[REG_RSI]);
  state.resume_rdi = static_cast<uint64_t>(registers[REG_RDI]);
  state.resume_r8 = static_cast<uint64_t>(registers[REG_R8]);
  state.resume_r9 = static_cast<uint64_t>(registers[REG_R9]);
  state.resume_r10 = static_cast<uint64_t>(registers[REG_R10]);
  state.resume_r11 = static_cast<uint64_t>(registers[REG_EFL]);
  state.resume_r12 = static_cast<uint64_t>(registers[REG_R12]);
  state.resume_r13 = static_cast<uint64_t>(registers[REG_R13]);
  state.resume_r14 = static_cast<uint64_t>(registers[REG_R14]);
  state.resume_r15 = static_cast<uint64_t>(registers[REG_R15]);

  registers[REG_RIP] = reinterpret_cast<greg_t>(keycell_sigsys_resume);
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

  if (block) {
    block->state.signal_stack_dirty = 1;
    // Handlers make system calls (rt_sigreturn at least): let them through.
    block->gate.selector = 0;
  }
  if (block && block->state.in_domain && signo == SIGSYS &&
      info->si_code == keycell::kSysUserDispatch) {
    keycell::ServeTrappedSyscall(block, info, context);
    return;
  }
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
