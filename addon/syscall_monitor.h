// The syscall monitor: performs a system call on a domain's behalf once its
// policy allows it, so that the kernel never becomes the domain's deputy.
//
// The policy decides on the call and its scalar arguments (policy.h). The
// monitor then checks what the policy cannot: every buffer the kernel would
// read or write lies in domain memory, paths are used from the host's copy
// (the domain cannot change them after the check), an opened file is
// re-checked by its real path (a symlink may lead elsewhere), and the
// descriptors the domain opens are tracked so `fds: 'own'` means something.
// A call whose memory arguments the monitor does not know is refused.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "policy.h"

namespace keycell::monitor {

struct Outcome {
  // Result for the domain: a value, or a negated errno.
  long result = 0;
  policy::Decision decision;
};

// One system call as the monitor saw it.
struct Event {
  policy::Request request;
  Outcome outcome;
};

class Monitor {
 public:
  Monitor(policy::Table table, std::vector<std::pair<uintptr_t, uintptr_t>> ranges,
          std::string cwd);

  Outcome Execute(const policy::Request& request);

  // The context reads strings through this object: it stays where it was made.
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  const std::vector<int>& own_fds() const { return context_.own_fds; }

  // With recording on, every call is kept until TakeEvents; denials are always
  // kept (the most recent 64) until TakeDenials.
  void set_recording(bool on) { recording_ = on; }
  std::vector<Event> TakeEvents() { return std::move(events_); }
  std::vector<Event> TakeDenials() { return std::move(denials_); }
  bool has_reports() const { return !events_.empty() || !denials_.empty(); }

 private:
  Outcome Decide(const policy::Request& request);
  bool Inside(uint64_t address, uint64_t length) const;
  bool ReadString(uintptr_t address, std::string* out) const;
  // Checks the memory arguments of `request`: 0 when they are fine, else the
  // errno to return, with the reason in `why`.
  int CheckMemory(const policy::Request& request, std::string* why) const;
  long Perform(const policy::Request& request, const policy::Decision& decision, std::string* why);
  long Open(const policy::Request& request, const policy::Decision& decision, std::string* why);
  void Track(long nr, const policy::Request& request, long result);

  policy::Table table_;
  // What the policy decision knows of the domain, kept up to date as the
  // domain opens and closes descriptors rather than rebuilt for every call.
  policy::Context context_;
  bool recording_ = false;
  std::vector<Event> events_;
  std::vector<Event> denials_;
};

}  // namespace keycell::monitor
