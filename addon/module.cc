// Entry point of the keycell addon: each part registers its own exports.
#include <napi.h>

namespace keycell {
void InitCpuFeatures(Napi::Env env, Napi::Object exports);
void InitSelftest(Napi::Env env, Napi::Object exports);
void InitDomain(Napi::Env env, Napi::Object exports);
}  // namespace keycell

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  keycell::InitCpuFeatures(env, exports);
  keycell::InitSelftest(env, exports);
  keycell::InitDomain(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(keycell, Init)
