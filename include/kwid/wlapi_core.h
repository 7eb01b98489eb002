/* wlapi_core.h - the Workload API's core side, shared by its files:
 * wlapi_core.c (connections, streams, the internal protocol, status),
 * wlapi_spawn.c (the front process: start, watch, restart) and
 * wlapi_serve.c (attestation, responses, stream updates).
 *
 * Not an interface for other parts: they use kwid/wlapi.h. */
#ifndef KWID_WLAPI_CORE_H
#define KWID_WLAPI_CORE_H

#include <sys/socket.h>

#include "kwid/agent.h"
#include "kwid/grpc.h"
#include "kwid/idmap.h"
#include "kwid/proc.h"
#include "kwid/wlapi.h"
#include "kwid/wlapi_ipc.h"

struct wlapi_serve_conn;   /* wlapi_serve.c's per-connection state */
struct wlapi_serve_stream; /* wlapi_serve.c's per-stream state */

struct wlapi_stream {
	struct wlapi_conn *conn;
	uint32_t id;
	struct wlapi_rpc rpc;
	bool sent;		       /* a message went out */
	uint8_t digest[32];	       /* SHA-256 of the last message queued */
	struct wlapi_ipc_item *queued; /* that message, while it waits in the queue */
	struct wlapi_serve_stream *serve;
	struct wlapi_stream *next;
};

struct wlapi_conn {
	struct idmap_node node; /* node.id: the id the front gave the connection */
	struct kwid_wlapi *w;
	struct ucred peer;	   /* from the socket, read by the core itself */
	int pidfd;		   /* SO_PEERPIDFD of the socket */
	uint64_t accepted_boot_ns; /* when the front accepted it (CLOCK_BOOTTIME) */
	struct kwid_exec_id exec;  /* the exec bound to this connection */
	int bind_error;		   /* 0 when bound; else why not (-ESRCH, -ENOENT, ...) */
	int retired_status;	   /* non-zero: every RPC gets this status */
	const char *retired_message;
	struct wlapi_stream *streams;
	size_t nstreams;
	struct wlapi_serve_conn *serve;
};

struct wlapi_settings {
	struct wlapi_front_config front;
	uint32_t front_uid, front_gid;
	bool allow_unauthenticated_verifiers;
};

struct kwid_wlapi {
	struct kwid_agent *agent;
	struct wlapi_settings set;
	char *socket_path;
	int listen_fd;
	int exe_fd; /* O_PATH of kwid-wlapi-front, exec'd as the front */

	/* the front process (wlapi_spawn.c) */
	pid_t front_pid;
	int front_pidfd;
	struct kwid_io *front_pidfd_io;
	int ipc_fd;
	struct kwid_io *ipc_io;
	uint32_t ipc_events;
	bool front_ready; /* HELLO received */
	uint64_t front_started_ns;
	uint64_t backoff_ns;
	struct kwid_timer *restart_timer;
	unsigned front_restarts;
	int last_front_exit; /* wait status of the last exit */
	bool stopping;

	struct wlapi_ipc_queue out;
	struct idmap conns;
	size_t nstreams;
	struct wlapi_front_stats front_stats;
	struct wlapi_front_stats front_stats_base; /* counters of the fronts that exited */
	uint64_t rpcs[GRPC_STATUS_COUNT];	       /* RPCs the core answered, by final status */
	uint64_t pushes;			       /* stream updates sent */
	uint64_t ipc_violations;
	uint8_t ibuf[WLAPI_IPC_MAX_DATAGRAM];

	void *serve; /* wlapi_serve.c's global state */
};

/* ---- wlapi_core.c: used by the other two ---- */

/* Queue a response message on a stream unless it equals the last one
 * sent; an update still waiting in the queue is replaced. */
int wlapi_stream_reply(struct wlapi_stream *s, const uint8_t *msg, size_t len);
/* End a stream (and free it). The message is for the client. */
void wlapi_stream_end(struct wlapi_stream *s, int status, const char *fmt, ...) _printf_(3, 4);
/* The bound exec is gone: end every stream with `status`, answer later
 * RPCs the same way, and GOAWAY the connection. */
void wlapi_conn_retire(struct wlapi_conn *c, int status, const char *message);
/* The front is going away: forget every connection (no messages sent). */
void wlapi_conns_drop_all(struct kwid_wlapi *w);
/* Queue a connection-less message for the front (WLAPI_C_JWT_KEYS). */
void wlapi_front_send(struct kwid_wlapi *w, uint16_t type, const void *payload, size_t len);
/* Flush the queue towards the front. */
void wlapi_ipc_kick(struct kwid_wlapi *w);
/* Handle datagrams from the front (wlapi_spawn.c watches the socket). */
void wlapi_on_ipc(struct kwid_io *io, int fd, uint32_t revents, void *userdata);

/* ---- wlapi_spawn.c ---- */
int wlapi_front_start(struct kwid_wlapi *w);
/* Kill the front (protocol violation, write failure; why may be NULL when
 * it closed its socket itself) and, unless stopping, restart it after the
 * backoff. */
void wlapi_front_kill(struct kwid_wlapi *w, const char *why);
void wlapi_front_stop(struct kwid_wlapi *w);

/* ---- wlapi_serve.c ---- */
int wlapi_serve_init(struct kwid_wlapi *w);
void wlapi_serve_fini(struct kwid_wlapi *w);
/* A new connection from the front: bind it (sets c->exec or c->bind_error). */
void wlapi_serve_conn_open(struct wlapi_conn *c);
void wlapi_serve_conn_close(struct wlapi_conn *c);
/* A new RPC on a stream: answer now or later. */
void wlapi_serve_rpc(struct wlapi_stream *s);
/* The stream is going away: cancel whatever runs for it. */
void wlapi_serve_stream_free(struct wlapi_stream *s);
/* The front (re)started and said HELLO: send it what it needs. */
void wlapi_serve_front_ready(struct kwid_wlapi *w);
void wlapi_serve_status(struct kwid_wlapi *w, json_object *out);

#endif
