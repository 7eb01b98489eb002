/* sockutil.h - Unix socket helpers shared by the agent and kwidctl. */
#ifndef KWID_SOCKUTIL_H
#define KWID_SOCKUTIL_H

#include <sys/socket.h>
#include <sys/types.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* Create a listening SOCK_STREAM Unix socket at path with the given mode.
 * A stale socket file is replaced; a socket some live process still
 * listens on is not (-EADDRINUSE). Returns the fd or -errno. */
int unix_listen(const char *path, mode_t mode, int backlog);
/* Connect to a Unix stream socket; returns the fd or -errno. */
int unix_connect(const char *path);
/* Peer credentials of a connected Unix socket. */
int unix_peer_cred(int fd, struct ucred *out);

#endif
