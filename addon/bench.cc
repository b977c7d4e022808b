// The "plain N-API call" rows of `keycell bench`: the benchmark target's
// functions called straight from a Node-API function, with no isolation.
#include <napi.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench-target/bench_target.h"

namespace keycell {
namespace {

Napi::Value BenchEmpty(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), keycell_bench_empty());
}

// A system call with no mediation at all: what the mediated paths are measured against.
Napi::Value BenchGetpid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(syscall(SYS_getpid)));
}

Napi::Value BenchSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) {
    Napi::TypeError::New(env, "benchSum(data): data must be a Uint8Array")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint8Array data = info[0].As<Napi::Uint8Array>();
  return Napi::Number::New(env, keycell_bench_sum(data.Data(), data.ByteLength()));
}

}  // namespace

void InitBench(Napi::Env env, Napi::Object exports) {
  Napi::Object bench = Napi::Object::New(env);
  bench.Set("empty", Napi::Function::New(env, BenchEmpty, "empty"));
  bench.Set("sum", Napi::Function::New(env, BenchSum, "sum"));
  bench.Set("getpid", Napi::Function::New(env, BenchGetpid, "getpid"));
  exports.Set("bench", bench);
}

}  // namespace keycell
