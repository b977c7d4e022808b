// The JavaScript face of a domain (`native.domain.NativeDomain`): creation
// and release of its key and memory, the memory API the loader builds on, and
// calls through the gate. src/domain.ts wraps it; errors carry a `code` that
// it turns into keycell's typed errors.
#include <napi.h>
#include <pthread.h>
#include <sys/prctl.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <vector>

#include "domain_memory.h"
#include "gate_call.h"
#include "gate_layout.h"
#include "pkeys.h"
#include "pkru.h"
#include "policy_js.h"
#include "signals.h"
#include "syscall_monitor.h"
#include "thread_state.h"

extern "C" {
void keycell_gate_syscall_pku(void);
void keycell_gate_syscall_open(void);
}

namespace keycell {
namespace {

// Slots of the call area shared with JavaScript, in 8-byte units. The
// status slot holds two 32-bit words: how the last call ended (CallStatus)
// and whether the monitor holds system call reports for JavaScript to take.
constexpr size_t kArgSlot = 0;
constexpr size_t kFloatArgSlot = 6;
constexpr size_t kResultSlot = 12;
constexpr size_t kFloatResultSlot = 13;
constexpr size_t kStatusSlot = 14;
constexpr size_t kCallAreaSlots = 15;

// How a call ended; src/domain.ts turns each into its typed error.
enum CallStatus : uint32_t {
  kCallReturned = 0,
  kCallFaulted = 1,
  kCallPoisoned = 2,
  kCallClosed = 3,
  kCallWrongThread = 4,
  kCallReentered = 5,
  kCallBadEntry = 6,
};

std::atomic<int> open_domains{0};

// Throws an Error whose `code` src/domain.ts maps to a typed error.
Napi::Value Fail(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Value().Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

// Returns argument `index` as a non-negative integer below 2^53, or false
// after throwing a TypeError naming `what`.
bool ReadOffset(const Napi::CallbackInfo& info, size_t index, const char* what, uint64_t* value) {
  if (info[index].IsNumber()) {
    double number = info[index].As<Napi::Number>().DoubleValue();
    if (number >= 0 && number <= 9007199254740991.0 && number == static_cast<uint64_t>(number)) {
      *value = static_cast<uint64_t>(number);
      return true;
    }
  }
  Napi::TypeError::New(info.Env(), std::string(what) + " must be a non-negative integer")
      .ThrowAsJavaScriptException();
  return false;
}

class NativeDomain : public Napi::ObjectWrap<NativeDomain> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NativeDomain",
        {
            InstanceMethod<&NativeDomain::Close>("close"),
            InstanceMethod<&NativeDomain::Layout>("layout"),
            InstanceMethod<&NativeDomain::SetThreadVector>("setThreadVector"),
            InstanceMethod<&NativeDomain::Protect>("protect"),
            InstanceMethod<&NativeDomain::Read>("read"),
            InstanceMethod<&NativeDomain::Write>("write"),
            InstanceMethod<&NativeDomain::View>("view"),
            InstanceMethod<&NativeDomain::CallArea>("callArea"),
            InstanceMethod<&NativeDomain::Call>("call"),
            InstanceMethod<&NativeDomain::Bind>("bind"),
            InstanceMethod<&NativeDomain::Fault>("fault"),
            InstanceMethod<&NativeDomain::SetPolicy>("setPolicy"),
            InstanceMethod<&NativeDomain::SyscallGate>("syscallGate"),
            InstanceMethod<&NativeDomain::RecordSyscalls>("recordSyscalls"),
            InstanceMethod<&NativeDomain::TakeSyscalls>("takeSyscalls"),
            InstanceMethod<&NativeDomain::SelftestReentryFromSignal>("selftestReentryFromSignal"),
            InstanceMethod<&NativeDomain::SelftestVectorClearing>("selftestVectorClearing"),
        });
  }

  // new NativeDomain('pku' | 'none')
  explicit NativeDomain(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeDomain>(info) {
    Napi::Env env = info.Env();
    std::string isolation = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (isolation != "pku" && isolation != "none") {
      Napi::TypeError::New(env, "isolation must be 'pku' or 'none'").ThrowAsJavaScriptException();
      return;
    }
    pku_ = isolation == "pku";
    if (pku_ && !OsEnabledPku()) {
      Fail(env, "ISOLATION_UNAVAILABLE",
           "this CPU or kernel does not enable protection keys (CPUID OSPKE is clear)");
      return;
    }

    std::string error;
    if (!InstallFaultHandlers(&error) || !(block_ = CurrentThreadBlock(&error))) {
      Fail(env, "ISOLATION_UNAVAILABLE", error);
      return;
    }
    if (pku_) {
      SharedPkeys keys;
      if (!EnsureSharedPkeys(&keys, &error)) {
        Fail(env, "PKEYS_EXHAUSTED", error);
        return;
      }
      pkey_ = AllocateDomainPkey();
      if (pkey_ < 0) {
        Fail(env, "PKEYS_EXHAUSTED", std::string("pkey_alloc failed: ") + strerror(errno));
        return;
      }
      target_.domain_pkru = DomainPkru(pkey_, keys);
    }
    if (!memory_.Create(pkey_, &error)) {
      ReleaseKey();
      Fail(env, "SYSTEM", error);
      return;
    }
    target_.stack_top = memory_.stack_top();
    target_.thread_pointer = memory_.thread_pointer();
    owner_ = pthread_self();

    Napi::ArrayBuffer area = Napi::ArrayBuffer::New(env, kCallAreaSlots * sizeof(double));
    call_area_ = static_cast<uint64_t*>(area.Data());
    call_area_ref_ = Napi::Persistent(area);
    open_ = true;
    open_domains++;
  }

  ~NativeDomain() override { Release(); }

 private:
  void ReleaseKey() {
    if (pkey_ >= 0) FreeDomainPkey(pkey_);
    pkey_ = -1;
  }

  // Memory before key: a key must not return to the kernel while pages
  // still carry it.
  void Release() {
    if (!open_) return;
    open_ = false;
    memory_.Release();
    ReleaseKey();
    open_domains--;
  }

  // Detaches live views over image pages in [offset, offset + length), so
  // JavaScript cannot touch memory that is gone or no longer writable.
  void DetachViews(uint64_t offset, uint64_t length) {
    std::vector<ViewRecord> kept;
    for (ViewRecord& view : views_) {
      if (view.buffer.IsEmpty()) continue;
      Napi::ArrayBuffer buffer = view.buffer.Value();
      if (buffer.IsEmpty() || buffer.IsDetached()) continue;
      bool overlaps = view.offset < offset + length && offset < view.offset + view.length;
      if (overlaps) {
        buffer.Detach();
      } else {
        kept.push_back(std::move(view));
      }
    }
    views_ = std::move(kept);
  }

  // True when the domain can be used from this call; throws otherwise.
  bool Usable(Napi::Env env) {
    if (!open_) {
      Fail(env, "DOMAIN_CLOSED", "the domain is closed");
      return false;
    }
    if (!pthread_equal(owner_, pthread_self())) {
      Fail(env, "WRONG_THREAD", "a domain can only be used on the thread that created it");
      return false;
    }
    return true;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!open_) return info.Env().Undefined();
    DetachViews(0, DomainMemory::kImageSize);
    Release();
    return info.Env().Undefined();
  }

  Napi::Value Layout(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Usable(env)) return env.Undefined();
    Napi::Object layout = Napi::Object::New(env);
    layout.Set("imageBase", Napi::Number::New(env, reinterpret_cast<uint64_t>(memory_.image())));
    layout.Set("imageSize", Napi::Number::New(env, DomainMemory::kImageSize));
    layout.Set("stackTop", Napi::Number::New(env, memory_.stack_top()));
    layout.Set("stackSize", Napi::Number::New(env, DomainMemory::kStackSize));
    layout.Set("threadPointer", Napi::Number::New(env, memory_.thread_pointer()));
    layout.Set("tlsSize", Napi::Number::New(env, memory_.tls_size()));
    layout.Set("pkey", Napi::Number::New(env, pkey_));
    layout.Set("pkru", pku_ ? Napi::Number::New(env, target_.domain_pkru) : env.Null());
    return layout;
  }

  // setThreadVector(address): the DTV the runtime's __tls_get_addr reads at %fs:8.
  Napi::Value SetThreadVector(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t offset;
    if (!Usable(env) || !ReadOffset(info, 0, "offset", &offset) ||
        !CheckRange(env, offset, 8, kRead)) {
      return env.Undefined();
    }
    memory_.SetThreadVector(reinterpret_cast<uint64_t>(memory_.image()) + offset);
    return env.Undefined();
  }

  // protect(offset, length, protection): protection bits 1 read, 2 write, 4 execute.
  Napi::Value Protect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t offset, length, protection;
    if (!Usable(env) || !ReadOffset(info, 0, "offset", &offset) ||
        !ReadOffset(info, 1, "length", &length) ||
        !ReadOffset(info, 2, "protection", &protection)) {
      return env.Undefined();
    }
    if (protection > 7) {
      Napi::TypeError::New(env, "protection must combine 1 (read), 2 (write), 4 (execute)")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!(protection & kWrite)) DetachViews(offset, length);
    std::string error;
    if (!memory_.Protect(offset, length, static_cast<int>(protection), &error)) {
      return Fail(env, "MEMORY_RANGE", error);
    }
    return env.Undefined();
  }

  // Checks [offset, offset + length) against `protection`, throwing when any
  // page of it does not allow that.
  bool CheckRange(Napi::Env env, uint64_t offset, uint64_t length, int protection) {
    if (memory_.Allows(offset, length, protection)) return true;
    Fail(env, "MEMORY_RANGE",
         "range [" + std::to_string(offset) + ", +" + std::to_string(length) + ") is not " +
             (protection & kWrite ? "writable" : "readable") + " domain image memory");
    return false;
  }

  // read(offset, length): a copy of domain memory in a new Buffer.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t offset, length;
    if (!Usable(env) || !ReadOffset(info, 0, "offset", &offset) ||
        !ReadOffset(info, 1, "length", &length) || !CheckRange(env, offset, length, kRead)) {
      return env.Undefined();
    }
    return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(memory_.image() + offset),
                                       length);
  }

  // write(offset, bytes): copies a Uint8Array into domain memory.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t offset;
    if (!Usable(env) || !ReadOffset(info, 0, "offset", &offset)) return env.Undefined();
    if (!info[1].IsTypedArray() ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      Napi::TypeError::New(env, "bytes must be a Uint8Array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
    if (!CheckRange(env, offset, bytes.ByteLength(), kWrite)) return env.Undefined();
    memcpy(memory_.image() + offset, bytes.Data(), bytes.ByteLength());
    return env.Undefined();
  }

  // view(offset, length): an ArrayBuffer over read-write domain memory, no
  // copy. Detached when the domain closes or the pages lose write access.
  Napi::Value View(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t offset, length;
    if (!Usable(env) || !ReadOffset(info, 0, "offset", &offset) ||
        !ReadOffset(info, 1, "length", &length) ||
        !CheckRange(env, offset, length, kRead | kWrite)) {
      return env.Undefined();
    }
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, memory_.image() + offset, length);
    DetachViews(0, 0);  // drops records of views already collected
    views_.push_back({Napi::Weak(buffer), offset, length});
    return buffer;
  }

  Napi::Value CallArea(const Napi::CallbackInfo&) { return call_area_ref_.Value(); }

  // call(entry): runs the domain function at address `entry` with the
  // arguments in the call area, and leaves its results and a CallStatus there.
  Napi::Value Call(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t entry;
    if (ReadOffset(info, 0, "entry", &entry)) CallFromArea(entry);
    return env.Undefined();
  }

  // bind(entry): a function of no arguments that does what call(entry) does.
  // It is a plain N-API function whose data names this domain and the entry,
  // so a call costs no object unwrapping and no argument conversion: this is
  // the path every library function takes (src/library.ts).
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t entry;
    if (!Usable(env) || !ReadOffset(info, 0, "entry", &entry)) return env.Undefined();
    if (!memory_.IsExecutable(entry)) {
      return Fail(env, "BAD_ENTRY", "entry is not in an executable page of this domain");
    }

    auto bound = std::make_unique<BoundEntry>();
    bound->domain = this;
    bound->entry = entry;
    napi_value function;
    if (napi_create_function(env, "callDomainEntry", NAPI_AUTO_LENGTH, &BoundEntry::Invoke,
                             bound.get(), &function) != napi_ok ||
        napi_create_reference(env, Value(), 1, &bound->domain_ref) != napi_ok) {
      return Fail(env, "SYSTEM", "could not create the bound entry function");
    }
    // The function keeps this domain object alive; its finalizer lets go.
    if (napi_add_finalizer(env, function, bound.get(), &BoundEntry::Finalize, nullptr, nullptr) !=
        napi_ok) {
      napi_delete_reference(env, bound->domain_ref);
      return Fail(env, "SYSTEM", "could not create the bound entry function");
    }
    bound.release();
    return Napi::Value(env, function);
  }

  // Runs the call staged in the call area and records how it ended. Checks
  // everything a call needs on every call: closed, other thread, poisoned,
  // entry still executable, re-entry.
  void CallFromArea(uint64_t entry) {
    uint32_t* status = reinterpret_cast<uint32_t*>(call_area_ + kStatusSlot);
    status[0] = CheckCall(entry);
    status[1] = 0;
    if (status[0] != kCallReturned) return;

    GateCall call = {entry, call_area_ + kArgSlot,
                     reinterpret_cast<const double*>(call_area_ + kFloatArgSlot)};
    uint64_t result = 0;
    double float_result = 0;
    GateOutcome outcome = CallThroughGate(block_, target_, call, &result, &float_result, &fault_);
    status[1] = monitor_ && monitor_->has_reports();
    if (outcome == GateOutcome::kReentered) {
      status[0] = kCallReentered;
    } else if (outcome == GateOutcome::kFaulted) {
      poisoned_ = true;
      status[0] = kCallFaulted;
    } else {
      call_area_[kResultSlot] = result;
      memcpy(call_area_ + kFloatResultSlot, &float_result, sizeof float_result);
    }
  }

  CallStatus CheckCall(uint64_t entry) const {
    if (!open_) return kCallClosed;
    if (!pthread_equal(owner_, pthread_self())) return kCallWrongThread;
    if (poisoned_) return kCallPoisoned;
    if (!memory_.IsExecutable(entry)) return kCallBadEntry;
    return kCallReturned;
  }

  // The data of a function made by bind().
  struct BoundEntry {
    NativeDomain* domain;
    uint64_t entry;
    napi_ref domain_ref = nullptr;

    static napi_value Invoke(napi_env env, napi_callback_info info) {
      void* data = nullptr;
      napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data);
      auto* bound = static_cast<BoundEntry*>(data);
      bound->domain->CallFromArea(bound->entry);
      return nullptr;
    }

    static void Finalize(napi_env env, void* data, void*) {
      auto* bound = static_cast<BoundEntry*>(data);
      napi_delete_reference(env, bound->domain_ref);
      delete bound;
    }
  };

  // setPolicy(table, cwd): the compiled policy (src/policy/compile.ts) that the
  // monitor applies to every system call this domain makes through the gate.
  Napi::Value SetPolicy(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Usable(env)) return env.Undefined();
    if (!info[0].IsTypedArray() || !info[1].IsString()) {
      Napi::TypeError::New(env, "setPolicy(table, cwd): a Uint8Array and a string")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    policy::Table table;
    if (!TableFromJs(env, info[0], "setPolicy", &table)) return env.Undefined();
    monitor_ = std::make_unique<monitor::Monitor>(std::move(table), memory_.Ranges(),
                                                  info[1].As<Napi::String>().Utf8Value());
    target_.monitor = monitor_.get();
    return env.Undefined();
  }

  // syscallGate(): the address domain code calls for a system call.
  Napi::Value SyscallGate(const Napi::CallbackInfo& info) {
    auto gate = pku_ ? &keycell_gate_syscall_pku : &keycell_gate_syscall_open;
    return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(gate)));
  }

  // recordSyscalls(on): keep every call for takeSyscalls(), not only denials.
  Napi::Value RecordSyscalls(const Napi::CallbackInfo& info) {
    if (monitor_) monitor_->set_recording(info[0].ToBoolean());
    return info.Env().Undefined();
  }

  // takeSyscalls(): { events, denials } since the last take.
  Napi::Value TakeSyscalls(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object result = Napi::Object::New(env);
    std::vector<monitor::Event> events, denials;
    if (monitor_) {
      events = monitor_->TakeEvents();
      denials = monitor_->TakeDenials();
    }
    result.Set("events", EventsToJs(env, events));
    result.Set("denials", EventsToJs(env, denials));
    return result;
  }

  static Napi::Array EventsToJs(Napi::Env env, const std::vector<monitor::Event>& events) {
    Napi::Array array = Napi::Array::New(env, events.size());
    for (size_t i = 0; i < events.size(); i++) {
      const monitor::Event& event = events[i];
      Napi::Object object = Napi::Object::New(env);
      object.Set("nr", Napi::Number::New(env, static_cast<double>(event.request.nr)));
      Napi::Array args = Napi::Array::New(env, 6);
      for (uint32_t a = 0; a < 6; a++) args.Set(a, Napi::BigInt::New(env, event.request.args[a]));
      object.Set("args", args);
      object.Set("caller", Napi::BigInt::New(env, event.request.caller));
      object.Set("allowed", Napi::Boolean::New(env, event.outcome.decision.allowed));
      object.Set("result", Napi::Number::New(env, static_cast<double>(event.outcome.result)));
      object.Set("errno", Napi::Number::New(env, event.outcome.decision.error));
      object.Set("reason", Napi::String::New(env, event.outcome.decision.reason));
      const std::string& path = event.outcome.decision.path;
      object.Set("path", path.empty() ? env.Null() : Napi::String::New(env, path));
      array.Set(i, object);
    }
    return array;
  }

  // fault(): what ended the domain's last call, or null.
  Napi::Value Fault(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!poisoned_) return env.Null();
    Napi::Object fault = Napi::Object::New(env);
    fault.Set("signal", Napi::Number::New(env, fault_.signo));
    fault.Set("code", Napi::Number::New(env, fault_.code));
    fault.Set("address", Napi::BigInt::New(env, fault_.address));
    fault.Set("instructionPointer", Napi::BigInt::New(env, fault_.instruction_pointer));
    fault.Set("pkey", Napi::Number::New(env, fault_.pkey));
    return fault;
  }

  // Reads the entry argument of a self-test, which runs only in an open
  // 'none' domain at an executable entry; false after throwing otherwise.
  bool ReadSelftestEntry(const Napi::CallbackInfo& info, uint64_t* entry) {
    Napi::Env env = info.Env();
    if (!Usable(env) || !ReadOffset(info, 0, "entry", entry)) return false;
    if (pku_ || !memory_.IsExecutable(*entry)) {
      Napi::TypeError::New(env, "needs an open 'none' domain and an executable entry")
          .ThrowAsJavaScriptException();
      return false;
    }
    return true;
  }

  // selftestReentryFromSignal(entry): for tests of isolation 'none' only.
  // Lets SIGUSR1 through during one call of `entry`, which must raise SIGUSR1
  // on its own thread; the handler tries to enter this domain again. Returns
  // whether that inner attempt was refused as a re-entry and whether the outer
  // call then returned normally. With protection keys a host handler could
  // not run on the domain stack at all, which is why signals are held.
  Napi::Value SelftestReentryFromSignal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t entry;
    if (!ReadSelftestEntry(info, &entry)) return env.Undefined();

    static const uint64_t kNoArgs[6] = {};
    static const double kNoFloatArgs[6] = {};
    reentry_probe = {
        block_, target_, {entry, kNoArgs, kNoFloatArgs}, GateOutcome::kReturned, false};
    struct sigaction probe = {}, previous = {};
    probe.sa_handler = [](int) {
      uint64_t result;
      double float_result;
      FaultRecord fault;
      reentry_probe.inner = CallThroughGate(reentry_probe.block, reentry_probe.target,
                                            reentry_probe.call, &result, &float_result, &fault);
      reentry_probe.handled = true;
    };
    sigemptyset(&probe.sa_mask);
    sigaction(SIGUSR1, &probe, &previous);
    // The probe's domain code raises SIGUSR1 with raw syscalls, which Syscall
    // User Dispatch would hand to the (absent) policy: let them through here.
    bool dispatch = block_->state.syscall_dispatch != 0;
    if (dispatch) prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
    HoldAsyncSignals(block_);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &usr1, nullptr);

    uint64_t result;
    double float_result;
    GateOutcome outer =
        CallThroughGate(block_, target_, reentry_probe.call, &result, &float_result, &fault_);
    pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
    sigaction(SIGUSR1, &previous, nullptr);
    if (dispatch) {
      prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, 0, 0, &block_->gate.selector);
    }

    Napi::Object report = Napi::Object::New(env);
    report.Set("handled", Napi::Boolean::New(env, reentry_probe.handled));
    report.Set("innerRefused",
               Napi::Boolean::New(env, reentry_probe.inner == GateOutcome::kReentered));
    report.Set("outerReturned", Napi::Boolean::New(env, outer == GateOutcome::kReturned));
    return report;
  }

  // selftestVectorClearing(entry): for tests of isolation 'none' only. Sets
  // every bit of the YMM registers (and with AVX-512 of ZMM16-31 and k0-k7),
  // then calls `entry` with the thread's clearing level as first argument;
  // `entry` returns 0 when it finds them all zero. Runs once with the
  // clearing the gate does and once with it switched off, which shows the
  // filled registers do reach a gate that does not clear them.
  Napi::Value SelftestVectorClearing(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t entry;
    if (!ReadSelftestEntry(info, &entry)) return env.Undefined();
    const uint32_t level = block_->gate.vector_clear;
    Napi::Object report = Napi::Object::New(env);
    report.Set("level", Napi::Number::New(env, level));
    if (level == 0) return report;

    auto run = [&](uint32_t clear) {
      const uint64_t args[6] = {level & VECTOR_CLEAR_AVX512 ? 2u : 1u};
      static const double kNoFloatArgs[6] = {};
      GateCall call = {entry, args, kNoFloatArgs};
      uint64_t result = 1;
      double float_result;
      block_->gate.vector_clear = clear;
      FillVectorRegisters(level);
      CallThroughGate(block_, target_, call, &result, &float_result, &fault_);
      block_->gate.vector_clear = level;
      return result;
    };
    report.Set("dirtyWithClearing", Napi::Number::New(env, static_cast<double>(run(level))));
    report.Set("dirtyWithoutClearing", Napi::Number::New(env, static_cast<double>(run(0))));
    return report;
  }

  // Sets every bit of YMM0-15, and with AVX-512 of ZMM16-31 and k0-k7.
  static void FillVectorRegisters(uint32_t level) {
    asm volatile(
        "vcmpps $15, %%ymm0, %%ymm0, %%ymm0\n\t"
        ".irp n, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
        "vmovaps %%ymm0, %%ymm\\n\n\t"
        ".endr" ::
            : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
              "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    if (!(level & VECTOR_CLEAR_AVX512)) return;
    asm volatile(
        ".irp n, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n\t"
        "vpternlogd $0xff, %%zmm\\n, %%zmm\\n, %%zmm\\n\n\t"
        ".endr\n\t"
        ".irp n, 0,1,2,3,4,5,6,7\n\t"
        "kxnorw %%k\\n, %%k\\n, %%k\\n\n\t"
        ".endr" ::
            :);
  }

  struct ReentryProbe {
    ThreadBlock* block;
    GateTarget target;
    GateCall call;
    GateOutcome inner;
    bool handled;
  };
  // Not thread_local: the handler runs with the domain's FS base.
  static ReentryProbe reentry_probe;

  struct ViewRecord {
    Napi::Reference<Napi::ArrayBuffer> buffer;
    uint64_t offset;
    uint64_t length;
  };

  bool pku_ = false;
  bool open_ = false;
  bool poisoned_ = false;
  int pkey_ = -1;
  ThreadBlock* block_ = nullptr;
  pthread_t owner_;
  DomainMemory memory_;
  GateTarget target_ = {};
  std::unique_ptr<monitor::Monitor> monitor_;
  FaultRecord fault_ = {};
  std::vector<ViewRecord> views_;
  uint64_t* call_area_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> call_area_ref_;
};

NativeDomain::ReentryProbe NativeDomain::reentry_probe;

Napi::Value ReleaseHeldSignals(const Napi::CallbackInfo& info) {
  ReleaseAsyncSignals();
  return info.Env().Undefined();
}

Napi::Value OpenDomains(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), open_domains.load());
}

}  // namespace

void InitDomain(Napi::Env env, Napi::Object exports) {
  Napi::Object domain = Napi::Object::New(env);
  domain.Set("NativeDomain", NativeDomain::Define(env));
  domain.Set("releaseAsyncSignals", Napi::Function::New(env, ReleaseHeldSignals));
  domain.Set("openDomains", Napi::Function::New(env, OpenDomains));
  exports.Set("domain", domain);
}

}  // namespace keycell
