/* wlapi.h - the SPIFFE Workload API (gRPC over a Unix socket), split in two
 * processes (docs/WORKLOAD_API.md):
 *
 *  - the core, inside kwid-agent: binds the socket, spawns and restarts
 *    the front, binds every connection to the exec that opened it, attests
 *    the caller on every RPC, and encodes responses and stream updates;
 *  - the front (kwid-agent --wlapi-front): unprivileged and seccomp'd; it
 *    accepts connections, enforces the limits, runs HTTP/2 and gRPC, and
 *    parses every request byte.
 */
#ifndef KWID_WLAPI_H
#define KWID_WLAPI_H

struct kwid_agent;
struct kwid_wlapi;

/* Bind the socket (directory 0755, socket 0666), start the front and
 * subscribe to the changes that concern callers. */
int wlapi_new(struct kwid_agent *a, struct kwid_wlapi **out);
void wlapi_free(struct kwid_wlapi *w);

/* The front process: kwid-agent execs the kwid-wlapi-front binary (found
 * next to kwid-agent, else in KWID_LIBEXECDIR) with the listening socket on
 * WLAPI_FRONT_LISTEN_FD and the core's socket on WLAPI_FRONT_IPC_FD.
 * wlapi_front_main() is its main; it returns the exit code. */
#define WLAPI_FRONT_BINARY "kwid-wlapi-front"
#define WLAPI_FRONT_LISTEN_FD 3
#define WLAPI_FRONT_IPC_FD 4
int wlapi_front_main(void);

#endif
