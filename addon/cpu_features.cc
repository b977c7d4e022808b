// Machine facts for `keycell doctor` and for refusing PKU isolation where it
// cannot work. Everything is read from CPUID, the auxiliary vector and probing
// system calls that change nothing in the process.
#include <cpuid.h>
#include <napi.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "pkru.h"

namespace keycell {
namespace {

// CPUID leaf 7, sub-leaf 0: EBX bit 0 FSGSBASE, ECX bit 3 PKU, ECX bit 4 OSPKE.
struct Leaf7 {
  bool present = false;
  uint32_t ebx = 0;
  uint32_t ecx = 0;
};

Leaf7 ReadLeaf7() {
  Leaf7 leaf;
  unsigned eax, ebx, ecx, edx;
  if (__get_cpuid_max(0, nullptr) < 7) return leaf;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  leaf.present = true;
  leaf.ebx = ebx;
  leaf.ecx = ecx;
  return leaf;
}

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#endif

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

// Syscall User Dispatch exists from Linux 5.11. Switching it off is harmless
// and fails with EINVAL on kernels that do not know the prctl option.
Napi::Value ProbeSyscallUserDispatch(Napi::Env env) {
  Napi::Object result = Napi::Object::New(env);
  int rc = prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
  result.Set("supported", Napi::Boolean::New(env, rc == 0));
  result.Set("error", rc == 0 ? env.Null() : Napi::String::New(env, strerror(errno)));
  return result;
}

// Allocates keys until the kernel refuses, then frees them all: the count is
// how many domains this process could still open.
Napi::Value ProbeFreePkeys(Napi::Env env) {
  Napi::Object result = Napi::Object::New(env);
  std::vector<int> taken;
  int error = 0;
  for (;;) {
    int pkey = pkey_alloc(0, 0);
    if (pkey < 0) {
      error = errno;
      break;
    }
    taken.push_back(pkey);
  }
  for (int pkey : taken) pkey_free(pkey);

  result.Set("free", Napi::Number::New(env, static_cast<double>(taken.size())));
  Napi::Array keys = Napi::Array::New(env, taken.size());
  for (size_t i = 0; i < taken.size(); i++) keys.Set(i, Napi::Number::New(env, taken[i]));
  result.Set("keys", keys);
  result.Set("stopReason", Napi::String::New(env, strerror(error)));
  return result;
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Leaf7 leaf = ReadLeaf7();
  unsigned long hwcap2 = getauxval(AT_HWCAP2);

  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("pku", Napi::Boolean::New(env, leaf.present && (leaf.ecx & (1u << 3))));
  cpu.Set("ospke", Napi::Boolean::New(env, leaf.present && (leaf.ecx & (1u << 4))));
  cpu.Set("fsgsbase", Napi::Boolean::New(env, leaf.present && (leaf.ebx & 1u)));
  cpu.Set("fsgsbaseEnabled", Napi::Boolean::New(env, (hwcap2 & HWCAP2_FSGSBASE) != 0));

  Napi::Object result = Napi::Object::New(env);
  result.Set("cpu", cpu);
  result.Set("syscallUserDispatch", ProbeSyscallUserDispatch(env));
  result.Set("pkeys", ProbeFreePkeys(env));
  result.Set("pkru", OsEnabledPku() ? Napi::Number::New(env, keycell_pkru_read()) : env.Null());
  return result;
}

}  // namespace

bool OsEnabledPku() {
  Leaf7 leaf = ReadLeaf7();
  return leaf.present && (leaf.ecx & (1u << 4));
}

void InitCpuFeatures(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
}

}  // namespace keycell
