// JavaScript access to the policy decision (policy.h): the list of system
// calls keycell always denies, for the policy compiler's messages, and the
// decision itself over a described domain, which the tests drive directly.
#include <napi.h>

#include <memory>

#include "policy.h"
#include "policy_js.h"
#include "syscall_monitor.h"

namespace keycell {

bool TableFromJs(Napi::Env env, Napi::Value value, const char* caller, policy::Table* table) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, std::string(caller) + ": the policy table must be a Uint8Array")
        .ThrowAsJavaScriptException();
    return false;
  }
  Napi::Uint8Array bytes = value.As<Napi::Uint8Array>();
  std::string error;
  if (!policy::Table::Parse(bytes.Data(), bytes.ByteLength(), table, &error)) {
    Napi::Error::New(env, std::string(caller) + ": " + error).ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

namespace {

Napi::Value AlwaysDenied(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& list = policy::AlwaysDeniedList();
  Napi::Array result = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); i++) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("nr", Napi::Number::New(env, static_cast<double>(list[i].nr)));
    entry.Set("reason", Napi::String::New(env, list[i].reason));
    result.Set(i, entry);
  }
  return result;
}

// Numbers and BigInts both name 64-bit register values.
uint64_t RegisterValue(Napi::Value value) {
  if (value.IsBigInt()) {
    bool lossless;
    return value.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return static_cast<uint64_t>(value.As<Napi::Number>().Int64Value());
}

// decide(table, { nr, args }, { ranges: [[start, end]], ownFds, cwd, strings: { address: text } })
Napi::Value Decide(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || !info[1].IsObject() || !info[2].IsObject()) {
    Napi::TypeError::New(
        env,
        "decide(table, request, context): table must be a Uint8Array, request and context objects")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  policy::Table table;
  if (!TableFromJs(env, info[0], "decide", &table)) return env.Undefined();

  Napi::Object request_object = info[1].As<Napi::Object>();
  policy::Request request;
  request.nr = request_object.Get("nr").As<Napi::Number>().Int64Value();
  Napi::Array args = request_object.Get("args").As<Napi::Array>();
  for (uint32_t i = 0; i < args.Length() && i < 6; i++)
    request.args[i] = RegisterValue(args.Get(i));

  Napi::Object context_object = info[2].As<Napi::Object>();
  policy::Context context;
  Napi::Array ranges = context_object.Get("ranges").As<Napi::Array>();
  for (uint32_t i = 0; i < ranges.Length(); i++) {
    Napi::Array range = ranges.Get(i).As<Napi::Array>();
    context.ranges.emplace_back(RegisterValue(range.Get(0u)), RegisterValue(range.Get(1u)));
  }
  Napi::Array own = context_object.Get("ownFds").As<Napi::Array>();
  for (uint32_t i = 0; i < own.Length(); i++)
    context.own_fds.push_back(own.Get(i).As<Napi::Number>().Int32Value());
  if (context_object.Has("cwd"))
    context.cwd = context_object.Get("cwd").As<Napi::String>().Utf8Value();
  Napi::Object strings = context_object.Get("strings").As<Napi::Object>();
  context.read_string = [&](uintptr_t address, std::string* out) {
    Napi::Value text = strings.Get(std::to_string(address));
    if (!text.IsString()) return false;
    *out = text.As<Napi::String>().Utf8Value();
    return true;
  };

  policy::Decision decision = table.Decide(request, context);
  Napi::Object result = Napi::Object::New(env);
  result.Set("allowed", Napi::Boolean::New(env, decision.allowed));
  result.Set("errno", Napi::Number::New(env, decision.error));
  result.Set("reason", Napi::String::New(env, decision.reason));
  result.Set("path", decision.path.empty() ? env.Null() : Napi::String::New(env, decision.path));
  return result;
}

// A monitor over host memory that stands in for a domain's: the same checks and
// the same system calls as in a domain, driven from JavaScript by the tests.
class NativeMonitor : public Napi::ObjectWrap<NativeMonitor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeMonitor",
                       {InstanceMethod<&NativeMonitor::Execute>("execute"),
                        InstanceMethod<&NativeMonitor::OwnFds>("ownFds")});
  }

  // new NativeMonitor(table, memory, cwd): `memory` plays the domain's memory.
  explicit NativeMonitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeMonitor>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || !info[1].IsBuffer() || !info[2].IsString()) {
      Napi::TypeError::New(env, "NativeMonitor(table, memory, cwd): Uint8Array, Buffer, string")
          .ThrowAsJavaScriptException();
      return;
    }
    policy::Table table;
    if (!TableFromJs(env, info[0], "NativeMonitor", &table)) return;
    Napi::Buffer<uint8_t> memory = info[1].As<Napi::Buffer<uint8_t>>();
    memory_ref_ = Napi::Persistent(memory);
    auto start = reinterpret_cast<uintptr_t>(memory.Data());
    monitor_ = std::make_unique<monitor::Monitor>(
        std::move(table),
        std::vector<std::pair<uintptr_t, uintptr_t>>{{start, start + memory.Length()}},
        info[2].As<Napi::String>().Utf8Value());
  }

 private:
  // execute(nr, args): performs the call if allowed; returns the outcome.
  Napi::Value Execute(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    policy::Request request;
    request.nr = info[0].As<Napi::Number>().Int64Value();
    Napi::Array args = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < args.Length() && i < 6; i++)
      request.args[i] = RegisterValue(args.Get(i));
    monitor::Outcome outcome = monitor_->Execute(request);
    Napi::Object result = Napi::Object::New(env);
    result.Set("result", Napi::Number::New(env, static_cast<double>(outcome.result)));
    result.Set("allowed", Napi::Boolean::New(env, outcome.decision.allowed));
    result.Set("errno", Napi::Number::New(env, outcome.decision.error));
    result.Set("reason", Napi::String::New(env, outcome.decision.reason));
    result.Set("path", outcome.decision.path.empty()
                           ? env.Null()
                           : Napi::String::New(env, outcome.decision.path));
    return result;
  }

  Napi::Value OwnFds(const Napi::CallbackInfo& info) {
    const auto& fds = monitor_->own_fds();
    Napi::Array result = Napi::Array::New(info.Env(), fds.size());
    for (size_t i = 0; i < fds.size(); i++) result.Set(i, Napi::Number::New(info.Env(), fds[i]));
    return result;
  }

  std::unique_ptr<monitor::Monitor> monitor_;
  Napi::Reference<Napi::Buffer<uint8_t>> memory_ref_;
};

}  // namespace

void InitPolicy(Napi::Env env, Napi::Object exports) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("alwaysDenied", Napi::Function::New(env, AlwaysDenied, "alwaysDenied"));
  object.Set("decide", Napi::Function::New(env, Decide, "decide"));
  object.Set("NativeMonitor", NativeMonitor::Define(env));
  exports.Set("policy", object);
}

}  // namespace keycell
