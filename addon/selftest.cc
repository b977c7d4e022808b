// Self-tests of the protection-key hardware, reached from JavaScript through
// `native.selftest`. They prove, on the machine at hand, that PKRU can be read
// and written and that a page tagged with a denied key faults with
// SEGV_PKUERR. The domain machinery relies on both facts.
#include <napi.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "pkru.h"

namespace keycell {
namespace {

bool RequirePku(Napi::Env env) {
  if (OsEnabledPku()) return true;
  Napi::Error::New(env,
                   "protection keys are not enabled on this CPU and kernel "
                   "(run `keycell doctor` for details)")
      .ThrowAsJavaScriptException();
  return false;
}

Napi::Value PkruRead(const Napi::CallbackInfo& info) {
  if (!RequirePku(info.Env())) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), keycell_pkru_read());
}

// Writes `value` into PKRU, reads it back and restores the previous value
// before returning, so JavaScript never runs with the test value in force.
Napi::Value PkruRoundTrip(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequirePku(env)) return env.Undefined();
  if (!info[0].IsNumber()) {
    Napi::TypeError::New(env, "pkruRoundTrip(value): value must be a number")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint32_t value = info[0].As<Napi::Number>().Uint32Value();

  uint32_t before = keycell_pkru_read();
  keycell_pkru_write_checked(value);
  uint32_t seen = keycell_pkru_read();
  keycell_pkru_write_checked(before);
  uint32_t after = keycell_pkru_read();

  Napi::Object result = Napi::Object::New(env);
  result.Set("before", Napi::Number::New(env, before));
  result.Set("written", Napi::Number::New(env, value));
  result.Set("read", Napi::Number::New(env, seen));
  result.Set("after", Napi::Number::New(env, after));
  return result;
}

// Writes one line to stderr with write(2): the only output that is safe from
// a signal handler.
void ReportFromHandler(const char* text) {
  ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
  (void)ignored;
}

void OnProbeFault(int, siginfo_t* info, void*) {
  char line[160];
  snprintf(line, sizeof line, "keycell-fault-probe si_code=%d si_pkey=%u si_addr=%p\n",
           info->si_code, info->si_pkey, info->si_addr);
  ReportFromHandler(line);
  _exit(77);
}

// Tags a fresh page with a new key, denies the key in PKRU and reads the page.
// The fault handler prints what the kernel reported and ends the process with
// status 77, so this must only run in a child process made for it. Returns
// (and restores PKRU) only when the read did not fault.
Napi::Value PkeyFaultProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequirePku(env)) return env.Undefined();

  long page_size = sysconf(_SC_PAGESIZE);
  void* page = mmap(nullptr, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    Napi::Error::New(env, std::string("mmap: ") + strerror(errno)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int pkey = pkey_alloc(0, 0);
  if (pkey < 0 || pkey_mprotect(page, page_size, PROT_READ | PROT_WRITE, pkey) != 0) {
    Napi::Error::New(env, std::string("pkey_alloc/pkey_mprotect: ") + strerror(errno))
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  static_cast<volatile char*>(page)[0] = 42;

  struct sigaction action = {};
  action.sa_sigaction = OnProbeFault;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSEGV, &action, nullptr);

  char line[96];
  snprintf(line, sizeof line, "keycell-fault-probe pkey=%d page=%p\n", pkey, page);
  ReportFromHandler(line);

  uint32_t before = keycell_pkru_read();
  keycell_pkru_write_checked(before | PkruAccessDisable(pkey));
  char seen = static_cast<volatile char*>(page)[0];
  keycell_pkru_write_checked(before);

  Napi::Object result = Napi::Object::New(env);
  result.Set("faulted", Napi::Boolean::New(env, false));
  result.Set("value", Napi::Number::New(env, seen));
  return result;
}

// Returns the host address of a typed array's bytes, so that tests can aim
// domain code at host memory and check that it faults.
Napi::Value BufferAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) {
    Napi::TypeError::New(env, "bufferAddress(bytes): bytes must be a typed array")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::TypedArray bytes = info[0].As<Napi::TypedArray>();
  auto* data = static_cast<uint8_t*>(bytes.ArrayBuffer().Data()) + bytes.ByteOffset();
  return Napi::Number::New(env, static_cast<double>(reinterpret_cast<uintptr_t>(data)));
}

// Returns an address on the calling thread's host stack.
Napi::Value HostStackAddress(const Napi::CallbackInfo& info) {
  volatile uint64_t local = 0;
  return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(&local)));
}

// Returns the floating-point and flag state host code runs with: x87 control,
// status and tag words (FNSTENV), MXCSR, EFLAGS, and the sum of eight long
// doubles, which needs all eight x87 registers empty to come out as 36.
Napi::Value HostExecutionState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct {
    uint16_t control, unused0, status, unused1, tags, unused2;
    uint32_t rest[4];
  } x87;
  uint32_t mxcsr;
  uint64_t flags;
  asm volatile("fnstenv %0\n\tfldenv %0" : "+m"(x87));
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("pushfq\n\tpopq %0" : "=r"(flags));

  volatile long double values[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  long double a = values[0], b = values[1], c = values[2], d = values[3];
  long double e = values[4], f = values[5], g = values[6], h = values[7];
  long double sum = ((a + b) + (c + d)) + ((e + f) + (g + h));

  Napi::Object state = Napi::Object::New(env);
  state.Set("x87Control", Napi::Number::New(env, x87.control));
  state.Set("x87Status", Napi::Number::New(env, x87.status));
  state.Set("x87Tags", Napi::Number::New(env, x87.tags));
  state.Set("mxcsr", Napi::Number::New(env, mxcsr));
  state.Set("flags", Napi::Number::New(env, static_cast<double>(flags)));
  state.Set("x87Sum", Napi::Number::New(env, static_cast<double>(sum)));
  return state;
}

}  // namespace

void InitSelftest(Napi::Env env, Napi::Object exports) {
  Napi::Object selftest = Napi::Object::New(env);
  selftest.Set("pkruRead", Napi::Function::New(env, PkruRead, "pkruRead"));
  selftest.Set("pkruRoundTrip", Napi::Function::New(env, PkruRoundTrip, "pkruRoundTrip"));
  selftest.Set("pkeyFaultProbe", Napi::Function::New(env, PkeyFaultProbe, "pkeyFaultProbe"));
  selftest.Set("bufferAddress", Napi::Function::New(env, BufferAddress, "bufferAddress"));
  selftest.Set("hostStackAddress", Napi::Function::New(env, HostStackAddress, "hostStackAddress"));
  selftest.Set("hostExecutionState",
               Napi::Function::New(env, HostExecutionState, "hostExecutionState"));
  exports.Set("selftest", selftest);
}

}  // namespace keycell
