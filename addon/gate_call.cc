// The C++ side of a gate crossing: checks that no call is in progress, holds
// asynchronous signals back, stages target and arguments in the key-0 state
// page and the domain PKRU in the gate page, then enters gates/gate.S.
#include "gate_call.h"

extern "C" {
void keycell_gate_call_pku(void);
void keycell_gate_call_open(void);
}

namespace keycell {

GateOutcome CallThroughGate(ThreadBlock* block, const GateTarget& target, const GateCall& call,
                            uint64_t* result, double* float_result, FaultRecord* fault) {
  StatePage& state = block->state;
  if (state.call_active || state.in_domain) return GateOutcome::kReentered;
  state.call_active = 1;

  WipeSignalStackIfDirty(block);
  HoldAsyncSignals(block);

  block->gate.domain_pkru = target.domain_pkru;
  block->gate.target = call.entry;
  state.domain_rsp = target.stack_top;
  state.domain_fsbase = target.thread_pointer;
  state.monitor = target.monitor;
  for (int i = 0; i < 6; i++) {
    state.args[i] = call.args[i];
    state.float_args[i] = call.float_args[i];
  }
  state.faulted = 0;

  if (target.domain_pkru != 0) {
    keycell_gate_call_pku();
  } else {
    keycell_gate_call_open();
  }

  GateOutcome outcome = GateOutcome::kReturned;
  if (*static_cast<volatile uint32_t*>(&state.faulted)) {
    *fault = state.fault;
    outcome = GateOutcome::kFaulted;
    // The fault's frame and the handler's stack still lie on the signal stack.
    WipeSignalStackIfDirty(block);
  } else {
    *result = state.result;
    *float_result = state.float_result;
  }
  state.monitor = nullptr;
  state.call_active = 0;
  return outcome;
}

}  // namespace keycell
