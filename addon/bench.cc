// The "plain N-API call" rows of `keycell bench`: the benchmark target's
// functions called straight from a Node-API function, with no isolation.
#include <napi.h>

#include "bench-target/bench_target.h"

namespace keycell {
namespace {

Napi::Value BenchEmpty(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), keycell_bench_empty());
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
  exports.Set("bench", bench);
}

}  // namespace keycell
