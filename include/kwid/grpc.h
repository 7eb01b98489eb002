/* grpc.h - the server side of gRPC over one HTTP/2 connection (nghttp2,
 * h2c with prior knowledge), independent of the socket and of the service.
 *
 * Bytes go in with grpc_conn_recv() and come out through the write
 * callback given at creation, so the same code serves a real socket and a
 * fuzzer. A request is handed to on_request() once its stream is
 * half-closed by the client and holds exactly one well-framed message;
 * everything else (bad HTTP/2, bad gRPC framing, oversized messages or
 * headers, too many streams) is answered or refused here.
 *
 * Responses: grpc_conn_send() queues one message on a stream; a message
 * still waiting to be sent is replaced by a newer one (streams carry full
 * state, so only the newest matters and a slow reader costs at most two
 * messages per stream). grpc_conn_finish() ends the stream with trailers,
 * or with a trailers-only response when nothing was sent. */
#ifndef KWID_GRPC_H
#define KWID_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum grpc_status {
	GRPC_STATUS_OK = 0,
	GRPC_STATUS_CANCELLED = 1,
	GRPC_STATUS_UNKNOWN = 2,
	GRPC_STATUS_INVALID_ARGUMENT = 3,
	GRPC_STATUS_DEADLINE_EXCEEDED = 4,
	GRPC_STATUS_NOT_FOUND = 5,
	GRPC_STATUS_ALREADY_EXISTS = 6,
	GRPC_STATUS_PERMISSION_DENIED = 7,
	GRPC_STATUS_RESOURCE_EXHAUSTED = 8,
	GRPC_STATUS_FAILED_PRECONDITION = 9,
	GRPC_STATUS_ABORTED = 10,
	GRPC_STATUS_OUT_OF_RANGE = 11,
	GRPC_STATUS_UNIMPLEMENTED = 12,
	GRPC_STATUS_INTERNAL = 13,
	GRPC_STATUS_UNAVAILABLE = 14,
	GRPC_STATUS_DATA_LOSS = 15,
	GRPC_STATUS_UNAUTHENTICATED = 16,
};
#define GRPC_STATUS_COUNT 17

/* "OK", "INVALID_ARGUMENT", ...; "?" for values outside the enum. */
const char *grpc_status_name(int status);

/* Percent-encode a grpc-message value (bytes outside 0x20..0x7e and '%'
 * become %XX). Returns the length written (without NUL), truncating
 * whole escapes to fit outlen-1. */
size_t grpc_percent_encode(const char *in, char *out, size_t outlen);
/* Decode in place; invalid escapes are kept literally. */
void grpc_percent_decode(char *s);

#define GRPC_PATH_MAX 256

struct grpc_limits {
	uint32_t max_message_bytes;  /* one inbound request message */
	uint32_t max_streams;	     /* concurrent streams per connection */
	uint32_t max_header_bytes;   /* one request's header block, decoded */
	uint32_t max_response_bytes; /* one outbound message */
};

/* A complete request, valid during on_request() only. */
struct grpc_request {
	const char *path;	  /* ":path", at most GRPC_PATH_MAX bytes */
	unsigned captured_count;  /* how many times the captured header appeared */
	const char *captured;	  /* its first value, or NULL */
	const uint8_t *msg;	  /* the request message, without the 5-byte prefix */
	size_t len;
};

struct grpc_conn;

struct grpc_conn_ops {
	/* Metadata key (lowercase) whose values are reported in the request,
	 * or NULL. */
	const char *capture_header;
	/* Send bytes to the peer: returns how many were taken (may be fewer
	 * than len), -EAGAIN when none can be taken now, other -errno to
	 * fail the connection. */
	ssize_t (*write)(void *ud, const uint8_t *data, size_t len);
	/* A complete request on a new stream: answer now or later with
	 * grpc_conn_send()/grpc_conn_finish(). */
	void (*on_request)(void *ud, struct grpc_conn *c, int32_t stream_id, const struct grpc_request *req);
	/* A stream handed to on_request() closed before grpc_conn_finish()
	 * (client cancel, reset, or connection teardown is NOT reported:
	 * the owner knows when it frees the connection). */
	void (*on_cancel)(void *ud, struct grpc_conn *c, int32_t stream_id);
};

int grpc_conn_new(const struct grpc_limits *limits, const struct grpc_conn_ops *ops, void *ud,
		  struct grpc_conn **out);
void grpc_conn_free(struct grpc_conn *c);

/* Feed bytes read from the peer. 0, or -EPROTO when the peer broke
 * HTTP/2 so badly that the connection must be closed now. */
int grpc_conn_recv(struct grpc_conn *c, const uint8_t *data, size_t len);

/* Write what is pending through ops->write until it would block.
 * 0, or -errno when the connection failed. */
int grpc_conn_flush(struct grpc_conn *c);
/* Bytes are waiting for the peer to become writable. */
bool grpc_conn_want_write(const struct grpc_conn *c);
/* The connection has nothing left to do: close it (after a GOAWAY, a
 * fatal protocol error, or when the peer ended the session). */
bool grpc_conn_done(const struct grpc_conn *c);

/* Queue a response message on a stream (copied). Replaces a message not
 * yet started. -ENOENT when the stream is gone or already finished,
 * -EMSGSIZE above max_response_bytes. */
int grpc_conn_send(struct grpc_conn *c, int32_t stream_id, const uint8_t *msg, size_t len);
/* End a stream with a status and an optional message (plain text; it is
 * percent-encoded here). Queued messages are sent first. */
int grpc_conn_finish(struct grpc_conn *c, int32_t stream_id, int status, const char *message);
/* Graceful GOAWAY: streams already open complete, new ones are refused,
 * and the connection is done once they have. */
void grpc_conn_goaway(struct grpc_conn *c);

/* Streams handed to on_request() and not finished yet. */
size_t grpc_conn_active_streams(const struct grpc_conn *c);
/* The peer broke HTTP/2 or gRPC framing (the connection is or will be
 * closed for it). */
bool grpc_conn_protocol_error(const struct grpc_conn *c);
/* Requests completed on this connection so far. */
uint64_t grpc_conn_requests(const struct grpc_conn *c);

#endif
