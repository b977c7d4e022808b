// The syscall policy decision: given a domain's compiled policy table (see
// src/policy/compile.ts for the layout) and one system call with its
// arguments, allow or deny it, with a reason a person can read. The rules
// keycell enforces whatever a policy says (invariants 3 and 5 of the design)
// live here too, ahead of the table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace keycell::policy {

struct Request {
  long nr = 0;
  uint64_t args[6] = {};
  // Where in the domain the call came from (for reports; not part of any decision).
  uint64_t caller = 0;
};

// What the decision may know of the calling domain.
struct Context {
  // Domain memory, as [start, end) ranges.
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
  // Descriptors the domain opened itself (0, 1 and 2 count as its own too).
  std::vector<int> own_fds;
  // The host's working directory, for relative paths.
  std::string cwd = "/";
  // Copies a NUL-terminated string out of domain memory; false when it is not there.
  std::function<bool(uintptr_t address, std::string* out)> read_string;
};

struct Decision {
  bool allowed = false;
  int error = 0;  // errno to return when denied
  std::string reason;
  // For calls with a path: the absolute, lexically normalised path that was checked,
  // and the index of the argument that held it.
  std::string path;
  int path_arg = -1;
};

struct AlwaysDenied {
  long nr;
  const char* reason;
};

// System calls no policy can allow.
const std::vector<AlwaysDenied>& AlwaysDeniedList();

class Table {
 public:
  // Validates a compiled table; on failure returns false and says why.
  static bool Parse(const uint8_t* data, size_t size, Table* out, std::string* error);

  Decision Decide(const Request& request, const Context& context) const;

  // For a call the table allows with path conditions: whether `path` (absolute,
  // normalised) satisfies them and is not one keycell always refuses.
  bool PathAllowed(long nr, const std::string& path) const;

 private:
  struct Entry {
    uint8_t allow, fd_mode, fd_arg, path_arg, flags_arg, access, prot_arg, prot_allowed;
    uint32_t path_offset, path_count;
    uint64_t fd_bitmap;
    uint8_t dirfd_arg;
  };
  std::vector<Entry> entries_;
  std::vector<std::vector<std::string>> prefixes_;
};

// True for paths that expose or change process memory (/proc/<pid>/..., /dev/mem...).
bool IsMemoryExposingPath(const std::string& path);

// Makes `path` absolute against `cwd` and removes "." and ".." lexically.
std::string NormalisePath(const std::string& cwd, const std::string& path);

}  // namespace keycell::policy
