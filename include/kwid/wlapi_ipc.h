/* wlapi_ipc.h - the internal protocol between the Workload API's
 * unprivileged front process (which parses every byte from the public
 * socket) and the agent core (which attests callers and holds the keys).
 *
 * One SOCK_SEQPACKET socketpair; every datagram is a 16-byte header
 * (host byte order: both ends are the same binary on the same host)
 * followed by `len` payload bytes. Messages larger than one datagram
 * (responses, the JWT key set) are split into fragments flagged
 * WLAPI_IPC_MORE; fragments of one message are never interleaved with
 * another message. docs/WORKLOAD_API.md describes every message.
 *
 * The core treats whatever the front sends as untrusted: the decoders
 * here check every length, type, flag, id and string, and the core kills
 * and restarts a front that breaks the protocol. */
#ifndef KWID_WLAPI_IPC_H
#define KWID_WLAPI_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kwid/grpc.h"

#define WLAPI_IPC_VERSION 1
#define WLAPI_IPC_HDR_SIZE 16
#define WLAPI_IPC_MAX_DATAGRAM (64 * 1024)
#define WLAPI_IPC_FRAGMENT (32 * 1024) /* payload bytes per fragment */
#define WLAPI_IPC_MAX_STATUS_MSG 512

/* Bounds of FetchJWTSVID parameters (checked by both ends). */
#define WLAPI_MAX_AUDIENCES 32
#define WLAPI_MAX_AUDIENCE_LEN 1024
#define WLAPI_MAX_SPIFFE_ID_LEN 2048

enum wlapi_ipc_type {
	/* front -> core */
	WLAPI_F_HELLO = 1,  /* payload: u32 version */
	WLAPI_F_CONN_OPEN,  /* conn; payload: u64 accept time (CLOCK_BOOTTIME ns); the
			     * accepted socket passed with SCM_RIGHTS */
	WLAPI_F_CONN_CLOSE, /* conn */
	WLAPI_F_RPC,	    /* conn, stream; payload: struct wlapi_rpc encoding */
	WLAPI_F_CANCEL,	    /* conn, stream */
	WLAPI_F_STATS,	    /* payload: struct wlapi_front_stats */
	/* core -> front */
	WLAPI_C_CONFIG = 64, /* payload: struct wlapi_front_config */
	WLAPI_C_MSG,	     /* conn, stream, MORE; payload: encoded response message */
	WLAPI_C_END,	     /* conn, stream; payload: u8 grpc status, then message text */
	WLAPI_C_RETIRE,	     /* conn: GOAWAY; open streams were ended, no new RPCs */
	WLAPI_C_JWT_KEYS,    /* MORE; payload: {"spiffe://<td>": JWKS, ...} */
};

#define WLAPI_IPC_MORE 0x1 /* flags: another fragment of this message follows */

struct wlapi_ipc_hdr {
	uint16_t type;
	uint16_t flags;
	uint32_t conn;
	uint32_t stream;
	uint32_t len;
};

/* Methods the front forwards to the core. */
enum wlapi_method {
	WLAPI_FETCH_X509_SVID = 1,
	WLAPI_FETCH_X509_BUNDLES,
	WLAPI_FETCH_JWT_SVID,
	WLAPI_FETCH_JWT_BUNDLES,
	WLAPI_METHOD_MAX = WLAPI_FETCH_JWT_BUNDLES,
};
bool wlapi_method_is_stream(enum wlapi_method m);
const char *wlapi_method_name(enum wlapi_method m);

/* An RPC as the core sees it: the method and its bounded parameters.
 * Encoding: u8 method; for FETCH_JWT_SVID then u16 naud, naud times
 * (u16 len, bytes), then (u16 len, bytes) of the requested SPIFFE ID (len
 * 0: none). Strings hold no NUL and no control characters and are valid
 * UTF-8. */
struct wlapi_rpc {
	enum wlapi_method method;
	char *aud[WLAPI_MAX_AUDIENCES];
	size_t naud;
	char *spiffe_id; /* NULL: every identity */
};
void wlapi_rpc_clear(struct wlapi_rpc *rpc);
int wlapi_rpc_encode(const struct wlapi_rpc *rpc, uint8_t *buf, size_t cap, size_t *len);
int wlapi_rpc_decode(const uint8_t *buf, size_t len, struct wlapi_rpc *out);

/* true when s[0..len) is UTF-8 without NUL or control characters. */
bool wlapi_string_ok(const char *s, size_t len);

struct wlapi_front_config {
	uint32_t version;
	uint32_t log_level;
	uint32_t max_message_bytes;
	uint32_t max_header_bytes;
	uint32_t max_response_bytes;
	uint32_t max_streams_per_conn;
	uint32_t max_conns;
	uint32_t max_conns_per_uid;
	uint32_t first_request_timeout_ms;
	uint32_t max_pending_to_core; /* bytes queued towards the core before RPCs are refused */
};

/* Counters of the front, sent every second while they change. */
struct wlapi_front_stats {
	uint64_t conns_accepted;
	uint64_t conns_refused;	     /* over max_conns or max_conns_per_uid */
	uint64_t protocol_errors;    /* connections closed for bad HTTP/2 or gRPC framing */
	uint64_t first_request_timeouts;
	uint64_t front_rpcs[GRPC_STATUS_COUNT]; /* RPCs answered by the front alone, by status */
	uint32_t conns_open;
	uint32_t streams_open; /* handed to on_request and not finished */
};

/* A decoded front -> core message. */
struct wlapi_front_msg {
	struct wlapi_ipc_hdr hdr;
	int fd; /* WLAPI_F_CONN_OPEN: the connection's socket (owned); else -1 */
	union {
		uint32_t version;
		uint64_t accepted_boot_ns;
		struct wlapi_rpc rpc;
		struct wlapi_front_stats stats;
	} u;
};
void wlapi_front_msg_clear(struct wlapi_front_msg *m);

/* Decode and check one datagram from the front. `fd` is the descriptor
 * received with it or -1; it is owned by *out on success (closed by
 * wlapi_front_msg_clear) and closed here on failure. -EBADMSG for any
 * violation, with *why naming it. */
int wlapi_front_msg_decode(const uint8_t *buf, size_t len, int fd, struct wlapi_front_msg *out,
			   const char **why);

/* Decode a datagram's header and check its length against the datagram. */
int wlapi_ipc_hdr_decode(const uint8_t *buf, size_t len, struct wlapi_ipc_hdr *out);
void wlapi_ipc_hdr_encode(uint8_t *buf, const struct wlapi_ipc_hdr *h);

/* Receive one datagram (MSG_CMSG_CLOEXEC). At most one fd is accepted
 * (*fd, else -1); extra fds are closed and the datagram is refused with
 * -EBADMSG, as is a truncated one. Returns its length, -EAGAIN, 0 on EOF. */
ssize_t wlapi_ipc_recv(int sock, uint8_t *buf, size_t cap, int *fd);

/* ---- outbound queue: logical messages split into datagrams ---- */

struct wlapi_ipc_item;
struct wlapi_ipc_queue {
	int sock;
	struct wlapi_ipc_item *head, *tail;
	size_t bytes; /* payload bytes queued */
	size_t count;
};

void wlapi_ipc_queue_init(struct wlapi_ipc_queue *q, int sock);
void wlapi_ipc_queue_clear(struct wlapi_ipc_queue *q);
/* Queue a message (payload copied; fd, if >= 0, is taken and passed
 * with SCM_RIGHTS). When `slot` is given, it is set to the queued item
 * while that item waits, and cleared when it is sent or dropped, so a
 * caller can replace a message that has not started (see
 * wlapi_ipc_queue_replace). */
int wlapi_ipc_queue_push(struct wlapi_ipc_queue *q, uint16_t type, uint32_t conn, uint32_t stream,
			 const void *payload, size_t len, int fd, struct wlapi_ipc_item **slot);
/* Replace the payload of *slot if it has not started; -EBUSY otherwise
 * (push a new one then). */
int wlapi_ipc_queue_replace(struct wlapi_ipc_queue *q, struct wlapi_ipc_item *item, const void *payload,
			    size_t len);
/* Forget a slot (its owner goes away); the item is still sent. */
void wlapi_ipc_item_detach(struct wlapi_ipc_item *item);
/* Send as much as the socket takes. 0 when everything went out, -EAGAIN
 * when more is waiting (watch EPOLLOUT), other -errno on failure. */
int wlapi_ipc_queue_flush(struct wlapi_ipc_queue *q);

#endif
