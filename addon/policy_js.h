// Policy tables handed over from JavaScript (src/policy/compile.ts).
#pragma once

#include <napi.h>

#include "policy.h"

namespace keycell {

// Parses the Uint8Array `value` into `table`. On failure throws a JavaScript
// error saying why, naming `caller`, and returns false.
bool TableFromJs(Napi::Env env, Napi::Value value, const char* caller, policy::Table* table);

}  // namespace keycell
