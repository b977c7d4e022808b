// Per-thread trusted state: the gate block of gate_layout.h, the alternate
// signal stack, and the window in which asynchronous signals are held back.
#pragma once

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <string>

#include "gate_layout.h"

namespace keycell {

// What the kernel reported about a fault in domain code.
struct FaultRecord {
  int32_t signo;
  int32_t code;
  uint64_t address;
  uint64_t instruction_pointer;
  int32_t pkey;
};

// The gate page: readable by domains, writable only by the host.
struct alignas(KEYCELL_PAGE_SIZE) GatePage {
  // Syscall User Dispatch reads this byte on every system call of the thread:
  // 0 lets calls through (host code), 1 turns them into SIGSYS (domain code).
  volatile uint8_t selector;
  uint8_t unused[7];
  uint32_t host_pkru;
  uint32_t domain_pkru;
  uint64_t resume_rip;
  uint64_t resume_rax;
  uint64_t resume_rcx;
  uint64_t resume_rdx;
  uint64_t resume_flags;
  uint64_t target;
  uint32_t vector_clear;
};

// The state page: key 0, denied to domains. The fields up to signal_fsbase
// are shared with assembly; the rest belong to C++.
struct alignas(KEYCELL_PAGE_SIZE) StatePage {
  uint64_t self;
  uint32_t signal_pkru;
  uint32_t pku_available;
  uint64_t in_domain;
  uint64_t host_rsp;
  uint64_t host_fsbase;
  uint64_t rbx, rbp, r12, r13, r14, r15;
  uint32_t mxcsr;
  uint16_t fpucw;
  uint16_t unused;
  uint64_t domain_rsp;
  uint64_t domain_fsbase;
  uint64_t args[6];
  double float_args[6];
  uint64_t result;
  double float_result;
  uint64_t signal_fsbase;
  uint64_t syscall_rsp;
  uint64_t syscall_fsbase;
  uint64_t syscall_result;
  uint64_t resume_rsp, resume_rbx, resume_rbp, resume_rsi, resume_rdi;
  uint64_t resume_r8, resume_r9, resume_r10, resume_r11;
  uint64_t resume_r12, resume_r13, resume_r14, resume_r15;

  // The monitor serving system calls of the domain being called, or nullptr.
  void* monitor;
  // Syscall User Dispatch is on for this thread.
  uint32_t syscall_dispatch;
  // A gate call is staged or running on this thread; a second one is refused.
  uint32_t call_active;
  // Set by the signal dispatcher when domain code faulted during the call.
  uint32_t faulted;
  FaultRecord fault;
  // Something ran on the signal stack since it was last wiped.
  uint32_t signal_stack_dirty;
  // The alternate stack as it must be after sigreturn (SS_AUTODISARM restores
  // it from the frame, which lies in memory domains can write).
  stack_t signal_stack;
  // The signal mask domain code runs with: asynchronous signals blocked.
  sigset_t domain_sigmask;
  // HoldAsyncSignals: signals are held, since when, and calls since the
  // clock was last read. Here rather than in a thread_local, which would cost
  // a __tls_get_addr call on every domain call.
  uint32_t async_held;
  uint32_t calls_since_clock_check;
  int64_t held_since_ns;
};

struct ThreadBlock {
  GatePage gate;
  StatePage state;
};

// Returns this thread's block, creating it on first use: gate and state
// pages, GS base, alternate signal stack. nullptr with `error` on failure.
ThreadBlock* CurrentThreadBlock(std::string* error);

// Zeroes the alternate signal stack if a handler ran on it since the last
// wipe: frames and handler stacks left there hold host addresses, and every
// domain on this thread can read that stack.
void WipeSignalStackIfDirty(ThreadBlock* block);

// Keeps asynchronous signals blocked on this thread from the first domain call
// of a macrotask until ReleaseAsyncSignals, so that no host handler runs on
// a domain stack with the domain PKRU, and installs the domain signal stack
// for that time. Long synchronous runs release and block again every few
// milliseconds so pending signals still arrive.
void HoldAsyncSignals(ThreadBlock* block);

// Restores the alternate stack and signal mask saved by HoldAsyncSignals;
// pending signals are delivered now. Does nothing when nothing is held.
void ReleaseAsyncSignals();

}  // namespace keycell
