// keycell's handlers for the synchronous fault signals.
#pragma once

#include <string>

namespace keycell {

// Installs the handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGTRAP once
// per process, keeping the previous handlers to chain to. False, with `error`,
// when sigaction refuses.
bool InstallFaultHandlers(std::string* error);

}  // namespace keycell
