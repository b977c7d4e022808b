/*
 * Socket calls, so that libraries that use the network link and then meet
 * their domain's policy: every preset denies them, and the monitor performs
 * none of them (it does not mediate their address arguments).
 */
#include "internal.h"

#define SOCKET_CALL(nr, a, b, c, d, e, f) \
  kc_result(kc_syscall(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f)))

KC_EXPORT int socket(int domain, int type, int protocol) {
  return (int)SOCKET_CALL(__NR_socket, domain, type, protocol, 0, 0, 0);
}
KC_EXPORT int connect(int fd, const void *address, unsigned length) {
  return (int)SOCKET_CALL(__NR_connect, fd, address, length, 0, 0, 0);
}
KC_EXPORT int bind(int fd, const void *address, unsigned length) {
  return (int)SOCKET_CALL(__NR_bind, fd, address, length, 0, 0, 0);
}
KC_EXPORT int listen(int fd, int backlog) {
  return (int)SOCKET_CALL(__NR_listen, fd, backlog, 0, 0, 0, 0);
}
KC_EXPORT int accept(int fd, void *address, unsigned *length) {
  return (int)SOCKET_CALL(__NR_accept, fd, address, length, 0, 0, 0);
}
KC_EXPORT long sendto(int fd, const void *data, size_t size, int flags, const void *address,
                      unsigned length) {
  return SOCKET_CALL(__NR_sendto, fd, data, size, flags, address, length);
}
KC_EXPORT long send(int fd, const void *data, size_t size, int flags) {
  return sendto(fd, data, size, flags, 0, 0);
}
KC_EXPORT long recvfrom(int fd, void *data, size_t size, int flags, void *address,
                        unsigned *length) {
  return SOCKET_CALL(__NR_recvfrom, fd, data, size, flags, address, length);
}
KC_EXPORT long recv(int fd, void *data, size_t size, int flags) {
  return recvfrom(fd, data, size, flags, 0, 0);
}
KC_EXPORT int shutdown(int fd, int how) {
  return (int)SOCKET_CALL(__NR_shutdown, fd, how, 0, 0, 0, 0);
}
KC_EXPORT int setsockopt(int fd, int level, int name, const void *value, unsigned length) {
  return (int)SOCKET_CALL(__NR_setsockopt, fd, level, name, value, length, 0);
}
KC_EXPORT int getsockopt(int fd, int level, int name, void *value, unsigned *length) {
  return (int)SOCKET_CALL(__NR_getsockopt, fd, level, name, value, length, 0);
}
