/* grpc_client.h - a small blocking gRPC client over HTTP/2 (nghttp2, h2c
 * prior knowledge) on a Unix socket: what kwidctl's fetch, watch and
 * validate commands (and the Workload API benchmark) need. */
#ifndef KWID_GRPC_CLIENT_H
#define KWID_GRPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct grpc_client;

/* Called for every response message; return non-zero to stop the call
 * (it is cancelled and grpc_client_call returns with status CANCELLED). */
typedef int (*grpc_client_msg_fn)(void *ud, const uint8_t *msg, size_t len);

int grpc_client_connect(const char *socket_path, struct grpc_client **out);
void grpc_client_free(struct grpc_client *c);

/* One call with the Workload API security header. Returns 0 when the
 * call completed (then *status holds grpc-status and *message, malloc'd or
 * NULL, grpc-message decoded), or -errno when the transport failed
 * (-ETIMEDOUT after timeout_ms; -1 for none). */
int grpc_client_call(struct grpc_client *c, const char *path, const uint8_t *req, size_t len,
		     grpc_client_msg_fn fn, void *ud, int timeout_ms, int *status, char **message);

#endif
