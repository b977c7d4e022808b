// Staging a call in the thread's gate block and crossing the gate.
#pragma once

#include <cstdint>

#include "thread_state.h"

namespace keycell {

// What the gate needs to know about the domain being entered.
struct GateTarget {
  // PKRU to run the domain with; 0 for isolation 'none' (PKRU untouched).
  uint32_t domain_pkru;
  uint64_t stack_top;
  uint64_t thread_pointer;
  // Serves the domain's system calls through the syscall gate (a monitor::Monitor).
  void* monitor;
};

// A staged call: the entry and where its six integer and six double
// arguments lie (the call area, or zeros).
struct GateCall {
  uint64_t entry;
  const uint64_t* args;
  const double* float_args;
};

enum class GateOutcome { kReturned, kFaulted, kReentered };

// Runs `call` inside the domain on this thread. kReentered: a call is already
// in progress on this thread (from a signal handler or from domain code) and
// nothing ran. kFaulted: `fault` says what the kernel reported.
GateOutcome CallThroughGate(ThreadBlock* block, const GateTarget& target, const GateCall& call,
                            uint64_t* result, double* float_result, FaultRecord* fault);

}  // namespace keycell
