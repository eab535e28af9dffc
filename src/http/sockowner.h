/* sockowner.h -- which local process listens on a TCP address: the
 * listening socket's inode from /proc/net/tcp{,6}, then the process whose
 * /proc/PID/fd holds that socket.  The proxy uses it to name the upstream's
 * PID in every request record, so process samples join the requests. */
#ifndef TK_SOCKOWNER_H
#define TK_SOCKOWNER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Inode of a socket in LISTEN state on `port` whose local address is `addr`
 * (4 or 16 bytes in network order; v6 selects the tcp6 layout) or the
 * wildcard, from the text of /proc/net/tcp or /proc/net/tcp6.  0 if none. */
uint64_t sockowner_listen_inode(const char *text, bool v6, const uint8_t *addr, uint16_t port);

/* Whether sa is an address of this machine (loopback or an interface's). */
bool sockowner_addr_is_local(const struct sockaddr *sa);

/* The PID of the process listening on sa, 0 when none is found (not a local
 * address, not listening, or the process is not visible to us). */
pid_t sockowner_listener_pid(const struct sockaddr *sa);

#endif
