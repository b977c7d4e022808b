// Syscall policy decisions (see policy.h). The order of checks matters:
// first the calls and arguments keycell always denies, then the domain's
// table, then each argument condition the table sets for the call.
#include "policy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace keycell::policy {
namespace {

constexpr uint32_t kMagic = 0x4c50434b;  // "KCPL"
constexpr uint32_t kVersion = 1;
constexpr uint32_t kEntries = 512;
constexpr size_t kHeaderSize = 16;
constexpr size_t kEntrySize = 32;
constexpr uint8_t kNoArg = 255;
enum FdMode : uint8_t { kUnchecked = 0, kAny = 1, kOwn = 2, kList = 3 };

uint32_t Read32(const uint8_t* at) {
  uint32_t value;
  memcpy(&value, at, sizeof value);
  return value;
}

uint64_t Read64(const uint8_t* at) {
  uint64_t value;
  memcpy(&value, at, sizeof value);
  return value;
}

Decision Deny(int error, std::string reason) {
  Decision decision;
  decision.error = error;
  decision.reason = std::move(reason);
  return decision;
}

// Calls that take [args[0], args[0] + args[1]) of memory: it must all be the domain's.
bool IsMemoryRangeCall(long nr) {
  switch (nr) {
    case SYS_mprotect:
    case SYS_madvise:
    case SYS_mlock:
    case SYS_munlock:
    case SYS_mlock2:
    case SYS_msync:
    case SYS_mincore: return true;
    default: return false;
  }
}

bool InsideDomain(const Context& context, uint64_t start, uint64_t length) {
  uint64_t end;
  if (length == 0 || __builtin_add_overflow(start, length, &end)) return false;
  for (const auto& range : context.ranges) {
    if (start >= range.first && end <= range.second) return true;
  }
  return false;
}

bool StartsWithComponent(const std::string& path, const std::string& prefix) {
  if (prefix == "/") return true;
  std::string bare = prefix.back() == '/' ? prefix.substr(0, prefix.size() - 1) : prefix;
  return path.compare(0, bare.size(), bare) == 0 &&
         (path.size() == bare.size() || path[bare.size()] == '/');
}

std::string Describe(const char* what, uint64_t value) {
  return std::string(what) + " " + std::to_string(static_cast<int64_t>(value));
}

}  // namespace

// /proc entries of any process expose or change memory (mem, maps, pagemap,
// auxv, environ...), and /dev/mem and friends are physical memory.
bool IsMemoryExposingPath(const std::string& path) {
  for (const char* prefix :
       {"/proc/self", "/proc/thread-self", "/dev/mem", "/dev/kmem", "/dev/port"}) {
    if (StartsWithComponent(path, prefix)) return true;
  }
  if (path.compare(0, 6, "/proc/") == 0) {
    size_t end = path.find('/', 6);
    std::string entry = path.substr(6, end == std::string::npos ? std::string::npos : end - 6);
    return !entry.empty() &&
           std::all_of(entry.begin(), entry.end(), [](char c) { return c >= '0' && c <= '9'; });
  }
  return false;
}

const std::vector<AlwaysDenied>& AlwaysDeniedList() {
  static const std::vector<AlwaysDenied> list = {
      {SYS_pkey_alloc, "protection keys belong to keycell"},
      {SYS_pkey_free, "protection keys belong to keycell"},
      {SYS_pkey_mprotect, "protection keys belong to keycell"},
      {SYS_mmap,
       "new mappings would lie outside the domain; the runtime serves mmap from the domain heap"},
      {SYS_munmap, "domain memory stays mapped for the domain's life"},
      {SYS_mremap, "it could move memory into or out of the domain"},
      {SYS_brk, "the domain has no program break"},
      {SYS_process_vm_readv, "it reads another address space"},
      {SYS_process_vm_writev, "it writes another address space"},
      {SYS_ptrace, "it controls processes"},
      {SYS_prctl, "it changes process state, Syscall User Dispatch included"},
      {SYS_arch_prctl, "it sets FS and GS bases, which keycell relies on"},
      {SYS_seccomp, "it changes the process's syscall filter"},
      {SYS_rt_sigaction, "signal handlers belong to the host"},
      {SYS_rt_sigprocmask, "the signal mask belongs to the host"},
      {SYS_sigaltstack, "signal stacks belong to the host"},
      {SYS_rt_sigreturn, "a forged signal frame would restore any PKRU"},
      {SYS_clone, "the domain may not create threads or processes"},
      {SYS_clone3, "the domain may not create threads or processes"},
      {SYS_fork, "the domain may not create processes"},
      {SYS_vfork, "the domain may not create processes"},
      {SYS_execve, "it replaces the process"},
      {SYS_execveat, "it replaces the process"},
      {SYS_exit, "only the host ends threads"},
      {SYS_exit_group, "only the host ends the process"},
      {SYS_kill, "it signals processes"},
      {SYS_tkill, "it signals threads"},
      {SYS_tgkill, "it signals threads"},
      {SYS_userfaultfd, "it intercepts page faults"},
      {SYS_bpf, "it loads code into the kernel"},
      {SYS_io_uring_setup, "io_uring performs system calls the policy never sees"},
      {SYS_io_uring_enter, "io_uring performs system calls the policy never sees"},
      {SYS_io_uring_register, "io_uring performs system calls the policy never sees"},
      {SYS_rseq, "restartable sequences redirect execution on preemption"},
      {SYS_modify_ldt, "it changes segment descriptors"},
      {SYS_personality, "it changes the process's execution domain"},
      {SYS_memfd_create, "shared memory could map the same pages twice"},
      {SYS_memfd_secret, "it creates memory outside the domain"},
      {SYS_shmget, "shared memory could map the same pages twice"},
      {SYS_shmat, "shared memory could map the same pages twice"},
      {SYS_shmctl, "shared memory could map the same pages twice"},
      {SYS_remap_file_pages, "it rearranges mappings"},
      {SYS_process_madvise, "it acts on another process's memory"},
      {SYS_pidfd_getfd, "it takes descriptors from other processes"},
      {SYS_kexec_load, "it replaces the kernel"},
      {SYS_kexec_file_load, "it replaces the kernel"},
      {SYS_init_module, "it loads kernel modules"},
      {SYS_finit_module, "it loads kernel modules"},
      {SYS_perf_event_open, "it observes the host"},
      {SYS_set_mempolicy, "it changes memory placement for the process"},
      {SYS_mbind, "it changes memory placement for the process"},
      {SYS_migrate_pages, "it moves another process's memory"},
      {SYS_move_pages, "it moves another process's memory"},
  };
  return list;
}

bool Table::Parse(const uint8_t* data, size_t size, Table* out, std::string* error) {
  if (size < kHeaderSize + kEntries * kEntrySize) {
    *error = "policy table is too short";
    return false;
  }
  if (Read32(data) != kMagic || Read32(data + 4) != kVersion || Read32(data + 8) != kEntries) {
    *error = "policy table has a wrong magic, version or entry count";
    return false;
  }
  uint32_t string_bytes = Read32(data + 12);
  const uint8_t* strings = data + kHeaderSize + kEntries * kEntrySize;
  if (size != kHeaderSize + kEntries * kEntrySize + string_bytes) {
    *error = "policy table size does not match its header";
    return false;
  }

  Table table;
  table.entries_.resize(kEntries);
  table.prefixes_.resize(kEntries);
  for (uint32_t nr = 0; nr < kEntries; nr++) {
    const uint8_t* at = data + kHeaderSize + nr * kEntrySize;
    Entry& entry = table.entries_[nr];
    entry = {at[0], at[1], at[2],          at[3],           at[4],           at[5],
             at[6], at[7], Read32(at + 8), Read32(at + 12), Read64(at + 16), at[24]};
    if (entry.fd_mode > kList || entry.access > 2) {
      *error = "policy table entry " + std::to_string(nr) + " is malformed";
      return false;
    }
    uint32_t offset = entry.path_offset;
    for (uint32_t i = 0; i < entry.path_count; i++) {
      const void* end =
          offset < string_bytes ? memchr(strings + offset, 0, string_bytes - offset) : nullptr;
      if (!end) {
        *error = "policy table entry " + std::to_string(nr) +
                 " has a path prefix outside its string table";
        return false;
      }
      std::string prefix(reinterpret_cast<const char*>(strings + offset));
      table.prefixes_[nr].push_back(prefix);
      offset += prefix.size() + 1;
    }
  }
  *out = std::move(table);
  return true;
}

bool Table::PathAllowed(long nr, const std::string& path) const {
  if (nr < 0 || nr >= static_cast<long>(entries_.size()) || IsMemoryExposingPath(path)) {
    return false;
  }
  const auto& prefixes = prefixes_[nr];
  if (entries_[nr].path_arg == kNoArg) return true;
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& prefix) { return StartsWithComponent(path, prefix); });
}

std::string NormalisePath(const std::string& cwd, const std::string& path) {
  std::string joined = path.empty() || path[0] != '/' ? cwd + "/" + path : path;
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= joined.size()) {
    size_t end = joined.find('/', start);
    if (end == std::string::npos) end = joined.size();
    std::string part = joined.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string result;
  for (const auto& part : parts) result += "/" + part;
  return result.empty() ? "/" : result;
}

Decision Table::Decide(const Request& request, const Context& context) const {
  const auto& always = AlwaysDeniedList();
  auto found = std::find_if(always.begin(), always.end(),
                            [&](const AlwaysDenied& entry) { return entry.nr == request.nr; });
  if (found != always.end()) return Deny(EPERM, std::string("always denied: ") + found->reason);

  if (IsMemoryRangeCall(request.nr) && !InsideDomain(context, request.args[0], request.args[1])) {
    return Deny(EPERM, "memory outside the domain");
  }
  if (request.nr == SYS_mprotect &&
      (request.args[2] & ~static_cast<uint64_t>(PROT_READ | PROT_WRITE))) {
    return Deny(EPERM, request.args[2] & PROT_EXEC ? "executable memory is never allowed"
                                                   : "unsupported protection bits");
  }

  if (request.nr < 0 || request.nr >= static_cast<long>(entries_.size()) ||
      !entries_[request.nr].allow) {
    return Deny(EPERM, "not allowed by the domain's policy");
  }
  const Entry& entry = entries_[request.nr];
  Decision decision;

  if (entry.fd_arg != kNoArg && entry.fd_mode != kUnchecked && entry.fd_mode != kAny) {
    int64_t fd = static_cast<int64_t>(request.args[entry.fd_arg]);
    bool own = fd >= 0 && fd <= 2;
    own = own ||
          std::find(context.own_fds.begin(), context.own_fds.end(), fd) != context.own_fds.end();
    bool listed = fd >= 0 && fd < 64 && (entry.fd_bitmap >> fd) & 1;
    if (entry.fd_mode == kOwn ? !own : !listed) {
      return Deny(EBADF, Describe("descriptor", fd) + (entry.fd_mode == kOwn
                                                           ? " was not opened by this domain"
                                                           : " is not in the policy's list"));
    }
  }

  if (entry.dirfd_arg != kNoArg && static_cast<int>(request.args[entry.dirfd_arg]) != AT_FDCWD) {
    return Deny(EPERM, "only AT_FDCWD is accepted as a directory descriptor");
  }

  if (entry.flags_arg != kNoArg && entry.access == 1) {
    uint64_t flags = request.args[entry.flags_arg];
    if ((flags & O_ACCMODE) != O_RDONLY ||
        (flags & (O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY)))) {
      return Deny(EACCES, "the policy allows opening for reading only");
    }
  }

  if (entry.prot_arg != kNoArg &&
      (request.args[entry.prot_arg] & ~static_cast<uint64_t>(entry.prot_allowed))) {
    return Deny(EPERM, Describe("protection", request.args[entry.prot_arg]) +
                           " is not allowed by the policy");
  }

  if (entry.path_arg != kNoArg) {
    std::string raw;
    if (!context.read_string || !context.read_string(request.args[entry.path_arg], &raw)) {
      return Deny(EFAULT, "the path does not lie in domain memory");
    }
    std::string path = NormalisePath(context.cwd, raw);
    const auto& prefixes = prefixes_[request.nr];
    bool inside = std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& prefix) {
      return StartsWithComponent(path, prefix);
    });
    if (IsMemoryExposingPath(path)) {
      decision = Deny(EACCES, "always denied: " + path + " exposes process memory");
    } else if (!inside) {
      decision = Deny(EACCES, path + " is outside the policy's paths");
    }
    decision.path = path;
    decision.path_arg = entry.path_arg;
    if (!decision.reason.empty()) return decision;
  }

  decision.allowed = true;
  return decision;
}

}  // namespace keycell::policy
