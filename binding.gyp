# Builds the same addon as CMakeLists.txt with node-gyp: every addon/*.cc and
# gates/*.S source, listed by the shell so that both builds stay in step, plus
# the sandbox-side runtime, the benchmark target and the demo's library.
{
  "targets": [
    {
      "target_name": "keycell",
      "sources": [
        "<!@(ls -1 addon/*.cc gates/*.S)",
        "addon/bench-target/bench_target.c"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "addon"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fno-exceptions", "-fvisibility=hidden"],
      "ldflags": ["-Wl,-z,noexecstack", "-Wl,-z,now"]
    },
    {
      "target_name": "keycell-runtime",
      "type": "shared_library",
      "product_name": "keycell-runtime",
      "product_extension": "so",
      "sources": ["<!@(ls -1 runtime/*.c)"],
      "cflags": [
        "-std=c11", "-O2", "-Wall", "-Wextra", "-ffreestanding", "-fno-builtin",
        "-fno-stack-protector", "-fno-tree-loop-distribute-patterns", "-fvisibility=hidden",
        "-fno-asynchronous-unwind-tables"
      ],
      "ldflags": [
        "-nostdlib", "-Wl,-Bsymbolic", "-Wl,-z,now", "-Wl,-z,relro", "-Wl,-z,noexecstack",
        "-Wl,--no-undefined"
      ]
    },
    {
      "target_name": "keycell-demo-malicious",
      "type": "shared_library",
      "product_name": "keycell-demo-malicious",
      "product_extension": "so",
      "sources": ["addon/demo/demo_malicious.c"],
      "cflags": ["-O2", "-fvisibility=hidden"]
    },
    {
      "target_name": "keycell-bench-target",
      "type": "shared_library",
      "product_name": "keycell-bench-target",
      "product_extension": "so",
      "sources": ["addon/bench-target/bench_target.c"],
      "ldflags": ["-nostdlib", "-Wl,-z,noexecstack"]
    }
  ]
}
