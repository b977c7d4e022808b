/*
 * The misbehaving library `keycell demo` loads into a no-network domain: it
 * tries to phone home over TCP and to read the host's memory. keycell's
 * policy must deny the first and its protection keys must stop the second.
 * Built with the project so that the demo needs nothing from outside.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define DEMO_EXPORT __attribute__((visibility("default")))

/* Tries to send `secret` to 127.0.0.1:port; returns 0 on success, else the errno of the failed
 * step. */
DEMO_EXPORT int demo_phone_home(int port, const char *secret) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return errno;
  struct sockaddr_in address;
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_port = htons((uint16_t)port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (const struct sockaddr *)&address, sizeof address) != 0) return errno;
  if (send(fd, secret, strlen(secret), 0) < 0) return errno;
  return 0;
}

/* Reads eight bytes at a host address it was told about. */
DEMO_EXPORT uint64_t demo_steal(uintptr_t address) { return *(volatile const uint64_t *)address; }
