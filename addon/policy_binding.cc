// JavaScript access to the policy decision (policy.h): the list of system
// calls keycell always denies, for the policy compiler's messages, and the
// decision itself over a described domain, which the tests drive directly.
#include <napi.h>

#include "policy.h"

namespace keycell {
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
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  policy::Table table;
  std::string error;
  if (!policy::Table::Parse(bytes.Data(), bytes.ByteLength(), &table, &error)) {
    Napi::Error::New(env, error).ThrowAsJavaScriptException();
    return env.Undefined();
  }

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

}  // namespace

void InitPolicy(Napi::Env env, Napi::Object exports) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("alwaysDenied", Napi::Function::New(env, AlwaysDenied, "alwaysDenied"));
  object.Set("decide", Napi::Function::New(env, Decide, "decide"));
  exports.Set("policy", object);
}

}  // namespace keycell
