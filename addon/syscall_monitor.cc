// The syscall monitor (see syscall_monitor.h). The table below is the
// kernel's ABI, not policy: for each call the monitor performs, which
// arguments point at memory the kernel will read or write, and how much.
#include "syscall_monitor.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace keycell::monitor {
namespace {

// A buffer argument: `pointer` is an argument index; its length is the
// argument `length` (when >= 0) or `bytes` (a fixed size). `nullable`
// buffers may be NULL.
struct Buffer {
  int pointer;
  int length;
  uint64_t bytes;
  bool nullable;
};

enum Special { kNone, kIovec, kPoll };

struct Abi {
  long nr;
  std::vector<Buffer> buffers;
  Special special = kNone;
};

constexpr uint64_t kStat = 144, kStatx = 256, kStatfs = 120, kTimespec = 16, kTimeval = 16;
constexpr uint64_t kUtsname = 390, kTimezone = 8, kPollfd = 8, kIovecSize = 16;
constexpr size_t kMaxPath = PATH_MAX;

const std::vector<Abi>& AbiTable() {
  static const std::vector<Abi> table = {
      {SYS_read, {{1, 2, 0, false}}},
      {SYS_write, {{1, 2, 0, false}}},
      {SYS_pread64, {{1, 2, 0, false}}},
      {SYS_pwrite64, {{1, 2, 0, false}}},
      {SYS_readv, {}, kIovec},
      {SYS_writev, {}, kIovec},
      {SYS_getdents64, {{1, 2, 0, false}}},
      {SYS_close, {}},
      {SYS_lseek, {}},
      {SYS_fsync, {}},
      {SYS_fdatasync, {}},
      {SYS_ftruncate, {}},
      {SYS_flock, {}},
      {SYS_fadvise64, {}},
      {SYS_dup, {}},
      {SYS_fcntl, {}},
      {SYS_fstat, {{1, -1, kStat, false}}},
      {SYS_fstatfs, {{1, -1, kStatfs, false}}},
      {SYS_stat, {{1, -1, kStat, false}}},
      {SYS_lstat, {{1, -1, kStat, false}}},
      {SYS_newfstatat, {{2, -1, kStat, false}}},
      {SYS_statx, {{4, -1, kStatx, false}}},
      {SYS_statfs, {{1, -1, kStatfs, false}}},
      {SYS_access, {}},
      {SYS_faccessat, {}},
      {SYS_faccessat2, {}},
      {SYS_readlink, {{1, 2, 0, false}}},
      {SYS_readlinkat, {{2, 3, 0, false}}},
      {SYS_unlink, {}},
      {SYS_unlinkat, {}},
      {SYS_mkdir, {}},
      {SYS_mkdirat, {}},
      {SYS_open, {}},
      {SYS_openat, {}},
      {SYS_poll, {}, kPoll},
      {SYS_getrandom, {{0, 1, 0, false}}},
      {SYS_clock_gettime, {{1, -1, kTimespec, false}}},
      {SYS_clock_getres, {{1, -1, kTimespec, true}}},
      {SYS_gettimeofday, {{0, -1, kTimeval, true}, {1, -1, kTimezone, true}}},
      {SYS_time, {{0, -1, 8, true}}},
      {SYS_nanosleep, {{0, -1, kTimespec, false}, {1, -1, kTimespec, true}}},
      {SYS_clock_nanosleep, {{2, -1, kTimespec, false}, {3, -1, kTimespec, true}}},
      {SYS_sched_yield, {}},
      {SYS_getpid, {}},
      {SYS_gettid, {}},
      {SYS_getuid, {}},
      {SYS_geteuid, {}},
      {SYS_getgid, {}},
      {SYS_getegid, {}},
      {SYS_getcwd, {{0, 1, 0, false}}},
      {SYS_uname, {{0, -1, kUtsname, false}}},
      {SYS_mprotect, {}},
      {SYS_madvise, {}},
      {SYS_mlock, {}},
      {SYS_munlock, {}},
  };
  return table;
}

const Abi* FindAbi(long nr) {
  const auto& table = AbiTable();
  auto found =
      std::find_if(table.begin(), table.end(), [&](const Abi& abi) { return abi.nr == nr; });
  return found == table.end() ? nullptr : &*found;
}

// fcntl commands without pointer arguments; lock and owner commands are refused.
bool SafeFcntl(uint64_t command) {
  switch (command) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
    case F_GETFD:
    case F_SETFD:
    case F_GETFL:
    case F_SETFL: return true;
    default: return false;
  }
}

bool CreatesDescriptor(long nr, const policy::Request& request) {
  return nr == SYS_open || nr == SYS_openat || nr == SYS_dup ||
         (nr == SYS_fcntl && (request.args[1] == F_DUPFD || request.args[1] == F_DUPFD_CLOEXEC));
}

// The path a descriptor really names, from /proc/self/fd.
std::string RealPath(int fd) {
  char link[64], target[PATH_MAX + 1];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t length = readlink(link, target, PATH_MAX);
  return length < 0 ? std::string() : std::string(target, static_cast<size_t>(length));
}

}  // namespace

Monitor::Monitor(policy::Table table, std::vector<std::pair<uintptr_t, uintptr_t>> ranges,
                 std::string cwd)
    : table_(std::move(table)) {
  context_.ranges = std::move(ranges);
  context_.cwd = std::move(cwd);
  context_.read_string = [this](uintptr_t address, std::string* out) {
    return ReadString(address, out);
  };
}

bool Monitor::Inside(uint64_t address, uint64_t length) const {
  uint64_t end;
  if (length == 0) return true;
  if (__builtin_add_overflow(address, length, &end)) return false;
  return std::any_of(context_.ranges.begin(), context_.ranges.end(), [&](const auto& range) {
    return address >= range.first && end <= range.second;
  });
}

bool Monitor::ReadString(uintptr_t address, std::string* out) const {
  // Read up to the end of the range the string starts in, and stop at NUL.
  for (const auto& range : context_.ranges) {
    if (address < range.first || address >= range.second) continue;
    size_t limit = std::min<size_t>(range.second - address, kMaxPath);
    const char* text = reinterpret_cast<const char*>(address);
    const void* end = memchr(text, 0, limit);
    if (!end) return false;
    out->assign(text, static_cast<const char*>(end) - text);
    return true;
  }
  return false;
}

int Monitor::CheckMemory(const policy::Request& request, std::string* why) const {
  const Abi* abi = FindAbi(request.nr);
  if (!abi) {
    *why = "keycell does not mediate this call (its memory arguments are unknown)";
    return EPERM;
  }
  if (request.nr == SYS_fcntl && !SafeFcntl(request.args[1])) {
    *why = "fcntl command " + std::to_string(request.args[1]) + " is not mediated";
    return EPERM;
  }
  for (const Buffer& buffer : abi->buffers) {
    uint64_t address = request.args[buffer.pointer];
    uint64_t length = buffer.length >= 0 ? request.args[buffer.length] : buffer.bytes;
    if (address == 0 && buffer.nullable) continue;
    if (!Inside(address, length)) {
      *why = "a buffer argument lies outside domain memory";
      return EFAULT;
    }
  }
  if (abi->special == kIovec) {
    uint64_t count = request.args[2];
    if (count > IOV_MAX || !Inside(request.args[1], count * kIovecSize)) {
      *why = "the iovec array lies outside domain memory";
      return EFAULT;
    }
    const auto* vectors = reinterpret_cast<const iovec*>(request.args[1]);
    for (uint64_t i = 0; i < count; i++) {
      if (!Inside(reinterpret_cast<uintptr_t>(vectors[i].iov_base), vectors[i].iov_len)) {
        *why = "an iovec buffer lies outside domain memory";
        return EFAULT;
      }
    }
  }
  if (abi->special == kPoll && !Inside(request.args[0], request.args[1] * kPollfd)) {
    *why = "the pollfd array lies outside domain memory";
    return EFAULT;
  }
  return 0;
}

long Monitor::Open(const policy::Request& request, const policy::Decision& decision,
                   std::string* why) {
  int flags_arg = request.nr == SYS_open ? 1 : 2;
  open_how how = {};
  how.flags = request.args[flags_arg] | O_CLOEXEC;
  how.mode = (how.flags & (O_CREAT | __O_TMPFILE)) ? (request.args[flags_arg + 1] & 07777) : 0;
  // Magic links (/proc/<pid>/fd/N, /proc/<pid>/exe...) jump past any prefix check.
  how.resolve = RESOLVE_NO_MAGICLINKS;
  long fd = syscall(SYS_openat2, AT_FDCWD, decision.path.c_str(), &how, sizeof how);
  if (fd < 0) return -errno;

  // A symlink may lead outside the policy's paths, or into /proc: check where it went.
  std::string real = RealPath(static_cast<int>(fd));
  if (real.empty() || !table_.PathAllowed(request.nr, real)) {
    close(static_cast<int>(fd));
    *why = decision.path + " leads to " + (real.empty() ? "an unknown file" : real) +
           ", which the policy does not allow";
    return -EACCES;
  }
  return fd;
}

long Monitor::Perform(const policy::Request& request, const policy::Decision& decision,
                      std::string* why) {
  if (request.nr == SYS_open || request.nr == SYS_openat) return Open(request, decision, why);

  // Every path argument is replaced by the host's checked copy.
  uint64_t args[6];
  memcpy(args, request.args, sizeof args);
  if (decision.path_arg >= 0)
    args[decision.path_arg] = reinterpret_cast<uintptr_t>(decision.path.c_str());
  long result = syscall(request.nr, args[0], args[1], args[2], args[3], args[4], args[5]);
  return result < 0 ? -errno : result;
}

void Monitor::Track(long nr, const policy::Request& request, long result) {
  if (result < 0) return;
  std::vector<int>& own_fds = context_.own_fds;
  if (CreatesDescriptor(nr, request)) own_fds.push_back(static_cast<int>(result));
  if (nr == SYS_close) {
    own_fds.erase(std::remove(own_fds.begin(), own_fds.end(), static_cast<int>(request.args[0])),
                  own_fds.end());
  }
}

Outcome Monitor::Execute(const policy::Request& request) {
  Outcome outcome = Decide(request);
  constexpr size_t kKeptDenials = 64;
  if (!outcome.decision.allowed && denials_.size() < kKeptDenials) {
    denials_.push_back({request, outcome});
  }
  if (recording_) events_.push_back({request, outcome});
  return outcome;
}

Outcome Monitor::Decide(const policy::Request& request) {
  Outcome outcome;
  outcome.decision = table_.Decide(request, context_);
  if (!outcome.decision.allowed) {
    outcome.result = -outcome.decision.error;
    return outcome;
  }
  std::string why;
  int refused = CheckMemory(request, &why);
  outcome.result = refused ? -refused : Perform(request, outcome.decision, &why);
  if (!why.empty()) {
    outcome.decision.allowed = false;
    outcome.decision.error = static_cast<int>(-outcome.result == 0 ? EPERM : -outcome.result);
    outcome.decision.reason = why;
    return outcome;
  }
  Track(request.nr, request, outcome.result);
  return outcome;
}

}  // namespace keycell::monitor
