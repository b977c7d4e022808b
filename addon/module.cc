// Entry point of the keycell addon: each part registers its own exports.
#include <napi.h>

namespace keycell {
void InitBench(Napi::Env env, Napi::Object exports);
void InitCpuFeatures(Napi::Env env, Napi::Object exports);
void InitPolicy(Napi::Env env, Napi::Object exports);
void InitSelftest(Napi::Env env, Napi::Object exports);
void InitDomain(Napi::Env env, Napi::Object exports);
}  // namespace keycell

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  keycell::InitBench(env, exports);
  keycell::InitCpuFeatures(env, exports);
  keycell::InitPolicy(env, exports);
  keycell::InitSelftest(env, exports);
  keycell::InitDomain(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(keycell, Init)
