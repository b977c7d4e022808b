/**
 * Which argument of a system call is a file descriptor, a path, open flags
 * or memory protections. Policies put conditions on those arguments; the
 * compiled table carries the positions so the native side needs no table of
 * its own.
 */
import type { SyscallName } from './syscalls.js';

export interface ArgumentShape {
  /** Index of the file-descriptor argument. */
  fd?: number;
  /** Index of the directory descriptor of an *at call (only AT_FDCWD is accepted). */
  dirfd?: number;
  /** Index of the pointer to a NUL-terminated path. */
  path?: number;
  /** Index of the open(2) flags. */
  openFlags?: number;
  /** Index of the PROT_* argument. */
  protection?: number;
}

const FD0: ArgumentShape = { fd: 0 };

export const SHAPES: Partial<Record<SyscallName, ArgumentShape>> = {
  read: FD0,
  write: FD0,
  close: FD0,
  fstat: FD0,
  lseek: FD0,
  pread64: FD0,
  pwrite64: FD0,
  readv: FD0,
  writev: FD0,
  preadv: FD0,
  pwritev: FD0,
  preadv2: FD0,
  pwritev2: FD0,
  fcntl: FD0,
  fsync: FD0,
  fdatasync: FD0,
  ftruncate: FD0,
  getdents64: FD0,
  fstatfs: FD0,
  flock: FD0,
  fadvise64: FD0,
  ioctl: FD0,
  dup: FD0,
  dup2: FD0,
  dup3: FD0,
  open: { path: 0, openFlags: 1 },
  openat: { dirfd: 0, path: 1, openFlags: 2 },
  creat: { path: 0 },
  stat: { path: 0 },
  lstat: { path: 0 },
  access: { path: 0 },
  readlink: { path: 0 },
  statfs: { path: 0 },
  unlink: { path: 0 },
  mkdir: { path: 0 },
  rmdir: { path: 0 },
  newfstatat: { dirfd: 0, path: 1 },
  faccessat: { dirfd: 0, path: 1 },
  faccessat2: { dirfd: 0, path: 1 },
  readlinkat: { dirfd: 0, path: 1 },
  statx: { dirfd: 0, path: 1 },
  unlinkat: { dirfd: 0, path: 1 },
  mkdirat: { dirfd: 0, path: 1 },
  mprotect: { protection: 2 },
};
