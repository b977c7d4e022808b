// Per-thread trusted state for gate calls.
//
// Each thread that enters domains gets a two-page gate block (layout in
// gate_layout.h) at a random address, and its GS base is set to it with
// WRGSBASE: x86-64 Linux user space leaves GS unused, and GS base survives
// context switches and signal delivery unchanged. The gate page is tagged with
// the shared gate key (read-only for domains), the state page keeps key 0.
//
// The thread also gets an alternate signal stack, tagged with the shared
// signal-stack key that every domain PKRU allows: Linux 6.1 writes a signal
// frame with the interrupted PKRU, so a frame for a fault in domain code must
// land on memory the domain PKRU can write (6.12 enables all keys while
// writing frames, and works either way). SS_AUTODISARM makes the kernel start
// every frame at the top of that stack, whatever RSP domain code left. It is
// installed only while asynchronous signals are held: other handlers that ask
// for the alternate stack (V8's SIGPROF sampler) start with the kernel's PKRU,
// which denies that key, and must find the host's own alternate stack instead.
// Domains on one thread run one at a time, and domains are bound to the thread
// that created them, so no other thread can rewrite a frame there.
//
// Restartable sequences are unregistered on such threads: glibc registers an
// rseq area in the thread's (key-0) TLS, and the kernel writes it on signal
// delivery and after preemption with the thread's current PKRU. With the
// domain PKRU in force that write fails and the kernel forces a SIGSEGV.
// glibc falls back to a system call for sched_getcpu when rseq is off.
#include "thread_state.h"

#include <asm/prctl.h>
#include <cpuid.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <ctime>

#include "pkeys.h"
#include "pkru.h"
#include "placement.h"

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif
#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

namespace keycell {

static_assert(offsetof(ThreadBlock, gate) + offsetof(GatePage, selector) == GC_SELECTOR, "");
static_assert(offsetof(ThreadBlock, gate) + offsetof(GatePage, resume_rip) == GC_RESUME_RIP, "");
static_assert(offsetof(ThreadBlock, gate) + offsetof(GatePage, resume_rax) == GC_RESUME_RAX, "");
static_assert(offsetof(ThreadBlock, gate) + offsetof(GatePage, resume_rcx) == GC_RESUME_RCX, "");
static_assert(offsetof(ThreadBlock, gate) + offsetof(GatePage, resume_rdx) == GC_RESUME_RDX, "");
static_assert(offsetof(ThreadBlock, gate) + offsetof(GatePage, resume_flags) == GC_RESUME_FLAGS,
              "");
static_assert(offsetof(ThreadBlock, gate) + offsetof(GatePage, host_pkru) == GC_HOST_PKRU, "");
static_assert(offsetof(ThreadBlock, gate) + offsetof(GatePage, target) == GC_TARGET, "");
static_assert(offsetof(ThreadBlock, gate) + offsetof(GatePage, vector_clear) == GC_VECTOR_CLEAR,
              "");
static_assert(offsetof(ThreadBlock, gate) + offsetof(GatePage, domain_pkru) == GC_DOMAIN_PKRU, "");
#define KEYCELL_STATE_AT(field, offset)                                                \
  static_assert(offsetof(ThreadBlock, state) + offsetof(StatePage, field) == (offset), \
                #field " must match gate_layout.h")
KEYCELL_STATE_AT(self, TS_SELF);
KEYCELL_STATE_AT(signal_pkru, TS_SIGNAL_PKRU);
KEYCELL_STATE_AT(pku_available, TS_PKU_AVAILABLE);
KEYCELL_STATE_AT(in_domain, TS_IN_DOMAIN);
KEYCELL_STATE_AT(host_rsp, TS_HOST_RSP);
KEYCELL_STATE_AT(host_fsbase, TS_HOST_FSBASE);
KEYCELL_STATE_AT(rbx, TS_RBX);
KEYCELL_STATE_AT(r15, TS_R15);
KEYCELL_STATE_AT(mxcsr, TS_MXCSR);
KEYCELL_STATE_AT(fpucw, TS_FPUCW);
KEYCELL_STATE_AT(domain_rsp, TS_DOMAIN_RSP);
KEYCELL_STATE_AT(domain_fsbase, TS_DOMAIN_FSBASE);
KEYCELL_STATE_AT(args, TS_ARGS);
KEYCELL_STATE_AT(float_args, TS_FLOAT_ARGS);
KEYCELL_STATE_AT(result, TS_RESULT);
KEYCELL_STATE_AT(float_result, TS_FLOAT_RESULT);
KEYCELL_STATE_AT(signal_fsbase, TS_SIGNAL_FSBASE);
KEYCELL_STATE_AT(syscall_rsp, TS_SYSCALL_RSP);
KEYCELL_STATE_AT(syscall_fsbase, TS_SYSCALL_FSBASE);
KEYCELL_STATE_AT(syscall_result, TS_SYSCALL_RESULT);
KEYCELL_STATE_AT(resume_rsp, TS_RESUME_RSP);
KEYCELL_STATE_AT(resume_rbx, TS_RESUME_RBX);
KEYCELL_STATE_AT(resume_rbp, TS_RESUME_RBP);
KEYCELL_STATE_AT(resume_rsi, TS_RESUME_RSI);
KEYCELL_STATE_AT(resume_rdi, TS_RESUME_RDI);
KEYCELL_STATE_AT(resume_r8, TS_RESUME_R8);
KEYCELL_STATE_AT(resume_r9, TS_RESUME_R9);
KEYCELL_STATE_AT(resume_r10, TS_RESUME_R10);
KEYCELL_STATE_AT(resume_r11, TS_RESUME_R11);
KEYCELL_STATE_AT(resume_r12, TS_RESUME_R12);
KEYCELL_STATE_AT(resume_r13, TS_RESUME_R13);
KEYCELL_STATE_AT(resume_r14, TS_RESUME_R14);
KEYCELL_STATE_AT(resume_r15, TS_RESUME_R15);
static_assert(sizeof(ThreadBlock) == KEYCELL_THREAD_BLOCK_SIZE, "two pages");

namespace {

constexpr size_t kSignalStackSize = 64 * 1024;
// Held asynchronous signals are let through at least this often.
constexpr int64_t kHoldLimitNs = 10 * 1000 * 1000;
// Calls between two looks at the clock while signals are held.
constexpr uint32_t kCallsPerClockCheck = 256;

uint64_t ReadGsBase() {
  uint64_t base;
  asm volatile("rdgsbase %0" : "=r"(base));
  return base;
}

// Through arch_prctl rather than WRGSBASE: GS base is the anchor of trusted
// per-thread state, and a WRGSBASE in keycell's own code would be a gadget for
// forging it. This runs twice in a thread's life, so the syscall costs nothing.
void WriteGsBase(uint64_t base) { syscall(SYS_arch_prctl, ARCH_SET_GS, base); }

uint64_t ReadFsBase() {
  uint64_t base;
  asm volatile("rdfsbase %0" : "=r"(base));
  return base;
}

int64_t CoarseNowNs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
}

// Everything but the synchronous fault signals (and SIGKILL/SIGSTOP, which
// cannot be blocked anyway).
sigset_t AsyncSignals() {
  sigset_t set;
  sigfillset(&set);
  for (int signo : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS}) sigdelset(&set, signo);
  return set;
}

// Which vector state the entry gate must clear, as the CPU has it and the
// kernel enables it in XCR0 (Intel SDM vol. 1, 13.3): host values left in
// the upper halves of YMM/ZMM registers, in ZMM16-31 or in the mask
// registers would otherwise reach domain code. glibc's memcpy moves data,
// pointers included, through exactly these registers.
uint32_t VectorStateToClear() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  constexpr unsigned kOsXsave = 1u << 27, kAvx = 1u << 28;
  if ((ecx & (kOsXsave | kAvx)) != (kOsXsave | kAvx)) return 0;
  uint32_t xcr0_low, xcr0_high;
  asm volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  constexpr uint32_t kSseAvxState = 0x6, kAvx512State = 0xe0;
  if ((xcr0_low & kSseAvxState) != kSseAvxState) return 0;

  uint32_t clear = VECTOR_CLEAR_AVX;
  constexpr unsigned kAvx512F = 1u << 16;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    if ((ebx & kAvx512F) && (xcr0_low & kAvx512State) == kAvx512State) {
      clear |= VECTOR_CLEAR_AVX512;
    }
  }
  return clear;
}

// Owns this thread's block and signal stack; undone when the thread exits.
struct ThreadResources {
  ThreadBlock* block = nullptr;
  void* signal_stack = nullptr;
  stack_t previous_signal_stack = {};
  sigset_t saved_mask;

  ~ThreadResources() {
    if (!block) return;
    ReleaseAsyncSignals();
    if (block->state.syscall_dispatch)
      prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
    WriteGsBase(0);
    ReleaseAwayFromHost(signal_stack, kSignalStackSize);
    ReleaseAwayFromHost(block, sizeof(ThreadBlock));
  }
};

thread_local ThreadResources resources;

// glibc (2.35 and later) publishes where it registered this thread's rseq area.
extern "C" {
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));
}
constexpr int kRseqFlagUnregister = 1;
constexpr uint32_t kRseqSignature = 0x53053053;  // glibc's RSEQ_SIG on x86
constexpr unsigned int kRseqAreaSize = 32;       // glibc registers 32 bytes

// Unregisters glibc's rseq area for this thread, if there is one.
bool UnregisterRseq(std::string* error) {
  if (&__rseq_size == nullptr || &__rseq_offset == nullptr || __rseq_size == 0) return true;
  char* area = static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset;
  for (unsigned int length : {kRseqAreaSize, __rseq_size}) {
    if (syscall(SYS_rseq, area, length, kRseqFlagUnregister, kRseqSignature) == 0) return true;
  }
  *error = std::string("cannot unregister this thread's rseq area: ") + strerror(errno);
  return false;
}

// Maps the thread's domain signal stack; it is installed only while
// asynchronous signals are held (HoldAsyncSignals).
bool MapSignalStack(const SharedPkeys* keys, std::string* error) {
  void* stack = ReserveAwayFromHost(kSignalStackSize, error);
  if (!stack) return false;
  int rc = keys ? pkey_mprotect(stack, kSignalStackSize, PROT_READ | PROT_WRITE, keys->signal_stack)
                : mprotect(stack, kSignalStackSize, PROT_READ | PROT_WRITE);
  if (rc != 0) {
    *error = std::string("cannot map the signal stack: ") + strerror(errno);
    ReleaseAwayFromHost(stack, kSignalStackSize);
    return false;
  }
  resources.signal_stack = stack;
  return true;
}

}  // namespace

ThreadBlock* CurrentThreadBlock(std::string* error) {
  if (resources.block) return resources.block;

  if (!(getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE)) {
    *error =
        "the kernel does not enable the FSGSBASE instructions, which keycell's gates "
        "need (Linux 5.9 or newer on a CPU with FSGSBASE)";
    return nullptr;
  }
  if (ReadGsBase() != 0) {
    *error = "GS base of this thread is already in use; keycell needs it for its gate state";
    return nullptr;
  }

  bool pku = OsEnabledPku();
  if (pku && !UnregisterRseq(error)) return nullptr;
  SharedPkeys keys;
  if (pku && !EnsureSharedPkeys(&keys, error)) return nullptr;

  auto* block = static_cast<ThreadBlock*>(ReserveAwayFromHost(sizeof(ThreadBlock), error));
  if (!block) return nullptr;
  int rc = pku ? pkey_mprotect(&block->gate, sizeof(GatePage), PROT_READ | PROT_WRITE, keys.gate)
               : mprotect(&block->gate, sizeof(GatePage), PROT_READ | PROT_WRITE);
  if (rc == 0) rc = mprotect(&block->state, sizeof(StatePage), PROT_READ | PROT_WRITE);
  if (rc != 0) {
    *error = std::string("cannot map the gate block: ") + strerror(errno);
    ReleaseAwayFromHost(block, sizeof(ThreadBlock));
    return nullptr;
  }

  // Threads that existed before the shared keys were allocated still deny
  // them in their PKRU: enable both here.
  if (pku) {
    uint32_t pkru = keycell_pkru_read();
    pkru &= ~(PkruAccessDisable(keys.gate) | PkruWriteDisable(keys.gate));
    pkru &= ~(PkruAccessDisable(keys.signal_stack) | PkruWriteDisable(keys.signal_stack));
    keycell_pkru_write_checked(pkru);
  }

  if (!MapSignalStack(pku ? &keys : nullptr, error)) {
    ReleaseAwayFromHost(block, sizeof(ThreadBlock));
    return nullptr;
  }

  block->gate.vector_clear = VectorStateToClear();
  StatePage& state = block->state;
  state.self = reinterpret_cast<uint64_t>(block);
  state.pku_available = pku ? 1 : 0;
  state.signal_pkru = pku ? SignalPkru(keys) : 0;
  state.host_fsbase = ReadFsBase();
  state.signal_stack.ss_sp = resources.signal_stack;
  state.signal_stack.ss_size = kSignalStackSize;
  state.signal_stack.ss_flags = SS_AUTODISARM;
  sigset_t held = AsyncSignals();
  state.domain_sigmask = held;

  WriteGsBase(reinterpret_cast<uint64_t>(block));
  resources.block = block;

  // Syscall User Dispatch with no exempt range: the gates set the selector to
  // block while domain code runs, so its raw syscalls arrive as SIGSYS.
  if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, 0, 0, &block->gate.selector) == 0) {
    state.syscall_dispatch = 1;
  } else if (pku) {
    *error = std::string("Syscall User Dispatch is unavailable (Linux 5.11 or newer): ") +
             strerror(errno);
    return nullptr;
  }
  return block;
}

void WipeSignalStackIfDirty(ThreadBlock* block) {
  if (!block->state.signal_stack_dirty) return;
  explicit_bzero(resources.signal_stack, kSignalStackSize);
  block->state.signal_stack_dirty = 0;
}

void HoldAsyncSignals(ThreadBlock* block) {
  StatePage& state = block->state;
  if (state.async_held) {
    if (++state.calls_since_clock_check < kCallsPerClockCheck) return;
    state.calls_since_clock_check = 0;
    if (CoarseNowNs() - state.held_since_ns < kHoldLimitNs) return;
    // Held long enough: let pending signals in, between two calls.
    ReleaseAsyncSignals();
  }
  pthread_sigmask(SIG_BLOCK, &state.domain_sigmask, &resources.saved_mask);
  sigaltstack(&state.signal_stack, &resources.previous_signal_stack);
  state.async_held = 1;
  state.held_since_ns = CoarseNowNs();
  state.calls_since_clock_check = 0;
}

void ReleaseAsyncSignals() {
  ThreadBlock* block = resources.block;
  if (!block || !block->state.async_held) return;
  block->state.async_held = 0;
  sigaltstack(&resources.previous_signal_stack, nullptr);
  pthread_sigmask(SIG_SETMASK, &resources.saved_mask, nullptr);
}

}  // namespace keycell
