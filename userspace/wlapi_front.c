/* wlapi_front.c - the Workload API front process: unprivileged and
 * seccomp'd, it accepts connections on the public socket, enforces the
 * limits, runs one HTTP/2 + gRPC session per connection and parses every
 * request; what needs the caller's identity goes to the core over the
 * internal protocol (kwid/wlapi_ipc.h), and the core's answers come back
 * to the right stream. */
#include "kwid/grpc.h"
#include "kwid/idmap.h"
#include "kwid/log.h"
#include "kwid/loop.h"
#include "kwid/sandbox.h"
#include "kwid/wlapi.h"
#include "kwid/wlapi_front_jwt.h"
#include "kwid/wlapi_ipc.h"
#include "kwid/wlapi_request.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>

#define READ_CHUNK 16384
#define READS_PER_WAKEUP 8 /* fairness: at most this many reads per connection per wakeup */
#define STATS_INTERVAL_NS 1000000000ull

struct front_conn {
	struct idmap_node node; /* node.id: the connection id shared with the core */
	struct front *f;
	int fd;
	uid_t uid;
	struct kwid_io *io;
	uint32_t events;
	struct grpc_conn *grpc;
	struct kwid_timer *first_request; /* until the first complete request */
};

struct uid_count {
	uid_t uid;
	uint32_t n;
};

/* A core message arriving in fragments. */
struct reassembly {
	bool active;
	struct wlapi_ipc_hdr hdr;
	uint8_t *buf;
	size_t len;
};

struct front {
	struct kwid_loop *loop;
	int listen_fd, ipc_fd;
	struct kwid_io *listen_io, *ipc_io;
	struct wlapi_ipc_queue out;
	uint32_t ipc_events;
	struct wlapi_front_config cfg;
	struct grpc_limits limits;
	struct idmap conns;
	uint32_t next_id;
	struct uid_count *uids;
	size_t nuids, uids_cap;
	struct wlapi_front_stats stats, stats_sent;
	struct kwid_timer *stats_timer;
	uint64_t last_refusal_log_ns;
	struct reassembly frag;
	struct wlapi_jwt_keys *jwt_keys;
	uint8_t rbuf[READ_CHUNK];
	uint8_t ibuf[WLAPI_IPC_MAX_DATAGRAM];
};

static void conn_close(struct front_conn *c);
static void conn_kick(struct front_conn *c);

/* ---- bookkeeping ---- */

static struct front_conn *conn_find(struct front *f, uint32_t id)
{
	struct idmap_node *n = idmap_find(&f->conns, id);

	return n ? container_of(n, struct front_conn, node) : NULL;
}

static uint32_t next_conn_id(struct front *f)
{
	do {
		f->next_id++;
	} while (f->next_id == 0 || conn_find(f, f->next_id));
	return f->next_id;
}

static struct uid_count *uid_slot(struct front *f, uid_t uid, bool create)
{
	for (size_t i = 0; i < f->nuids; i++)
		if (f->uids[i].uid == uid)
			return &f->uids[i];
	if (!create)
		return NULL;
	if (f->nuids == f->uids_cap) {
		size_t ncap = f->uids_cap ? f->uids_cap * 2 : 16;
		struct uid_count *n = reallocarray_safe(f->uids, ncap, sizeof(*n));
		if (!n)
			return NULL;
		f->uids = n;
		f->uids_cap = ncap;
	}
	f->uids[f->nuids] = (struct uid_count){uid, 0};
	return &f->uids[f->nuids++];
}

static void uid_release(struct front *f, uid_t uid)
{
	struct uid_count *u = uid_slot(f, uid, false);

	if (u && --u->n == 0)
		*u = f->uids[--f->nuids];
}

/* ---- towards the core ---- */

static void ipc_kick(struct front *f)
{
	int r = wlapi_ipc_queue_flush(&f->out);
	uint32_t want = EPOLLIN | (r == -EAGAIN ? EPOLLOUT : 0);

	if (r < 0 && r != -EAGAIN) {
		log_error_errno(r, "wlapi front: cannot write to the core, exiting");
		loop_exit(f->loop, 1);
		return;
	}
	if (want != f->ipc_events && loop_io_set_events(f->ipc_io, want) == 0)
		f->ipc_events = want;
}

static int to_core(struct front *f, uint16_t type, uint32_t conn, uint32_t stream, const void *payload,
		   size_t len, int fd)
{
	int r = wlapi_ipc_queue_push(&f->out, type, conn, stream, payload, len, fd, NULL);

	if (r < 0)
		return r;
	ipc_kick(f);
	return 0;
}

static void count_answer(struct front *f, int status)
{
	if (status >= 0 && status < GRPC_STATUS_COUNT)
		f->stats.front_rpcs[status]++;
}

/* ---- gRPC callbacks ---- */

static ssize_t conn_write(void *ud, const uint8_t *data, size_t len)
{
	struct front_conn *c = ud;
	ssize_t n;

	do {
		n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

static void forward_rpc(struct front_conn *c, int32_t stream_id, const struct wlapi_rpc *rpc)
{
	struct front *f = c->f;
	uint8_t buf[WLAPI_IPC_MAX_DATAGRAM - WLAPI_IPC_HDR_SIZE];
	size_t len;
	int r;

	if (f->out.bytes > f->cfg.max_pending_to_core) {
		count_answer(f, GRPC_STATUS_UNAVAILABLE);
		grpc_conn_finish(c->grpc, stream_id, GRPC_STATUS_UNAVAILABLE, "the agent is busy; retry");
		return;
	}
	r = wlapi_rpc_encode(rpc, buf, sizeof(buf), &len);
	if (r == 0)
		r = to_core(f, WLAPI_F_RPC, c->node.id, (uint32_t)stream_id, buf, len, -1);
	if (r < 0) {
		count_answer(f, GRPC_STATUS_INTERNAL);
		grpc_conn_finish(c->grpc, stream_id, GRPC_STATUS_INTERNAL, "cannot forward the request");
	}
}

static void validate_jwt(struct front_conn *c, int32_t stream_id, const struct wlapi_request *req)
{
	_cleanup_free_ uint8_t *resp = NULL;
	const char *why = NULL;
	size_t len = 0;
	int status = wlapi_jwt_validate(c->f->jwt_keys, req->token, req->audience, &resp, &len, &why);

	count_answer(c->f, status);
	if (status == GRPC_STATUS_OK && grpc_conn_send(c->grpc, stream_id, resp, len) == 0)
		grpc_conn_finish(c->grpc, stream_id, GRPC_STATUS_OK, NULL);
	else
		grpc_conn_finish(c->grpc, stream_id, status == GRPC_STATUS_OK ? GRPC_STATUS_INTERNAL : status, why);
}

static void on_request(void *ud, struct grpc_conn *g, int32_t stream_id, const struct grpc_request *greq)
{
	struct front_conn *c = ud;
	struct wlapi_request req;

	if (c->first_request) {
		loop_timer_free(c->first_request);
		c->first_request = NULL;
	}
	if (wlapi_request_parse(greq, &req) < 0) {
		count_answer(c->f, GRPC_STATUS_RESOURCE_EXHAUSTED);
		grpc_conn_finish(g, stream_id, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	log_debug("wlapi front: conn %u stream %d: %s", c->node.id, (int)stream_id, req.method);
	switch (req.kind) {
	case WLAPI_REQ_ANSWER:
		count_answer(c->f, req.status);
		if (req.status == GRPC_STATUS_OK)
			grpc_conn_send(g, stream_id, req.response, req.response_len);
		grpc_conn_finish(g, stream_id, req.status, req.message);
		break;
	case WLAPI_REQ_CORE:
		forward_rpc(c, stream_id, &req.rpc);
		break;
	case WLAPI_REQ_VALIDATE:
		validate_jwt(c, stream_id, &req);
		break;
	}
	wlapi_request_clear(&req);
}

static void on_cancel(void *ud, struct grpc_conn *g, int32_t stream_id)
{
	struct front_conn *c = ud;

	to_core(c->f, WLAPI_F_CANCEL, c->node.id, (uint32_t)stream_id, NULL, 0, -1);
}

static const struct grpc_conn_ops conn_ops = {
	.capture_header = WLAPI_SECURITY_HEADER,
	.write = conn_write,
	.on_request = on_request,
	.on_cancel = on_cancel,
};

/* ---- connections ---- */

static void conn_close(struct front_conn *c)
{
	struct front *f = c->f;

	if (grpc_conn_protocol_error(c->grpc)) {
		f->stats.protocol_errors++;
		log_debug("wlapi front: conn %u (uid %u) broke HTTP/2 or gRPC framing, closed", c->node.id,
			  (unsigned)c->uid);
	}
	to_core(f, WLAPI_F_CONN_CLOSE, c->node.id, 0, NULL, 0, -1);
	idmap_del(&f->conns, &c->node);
	uid_release(f, c->uid);
	f->stats.conns_open--;
	loop_io_free(c->io);
	loop_timer_free(c->first_request);
	grpc_conn_free(c->grpc);
	close(c->fd);
	free(c);
}

/* Flush what gRPC has for the peer; close when the session is over;
 * otherwise watch for what it waits on. */
static void conn_kick(struct front_conn *c)
{
	uint32_t want = EPOLLIN;

	if (grpc_conn_flush(c->grpc) < 0 || grpc_conn_done(c->grpc)) {
		conn_close(c);
		return;
	}
	if (grpc_conn_want_write(c->grpc))
		want |= EPOLLOUT;
	if (want != c->events && loop_io_set_events(c->io, want) == 0)
		c->events = want;
}

static void on_conn_io(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct front_conn *c = userdata;
	struct front *f = c->f;

	for (int i = 0; i < READS_PER_WAKEUP && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)); i++) {
		ssize_t n = recv(fd, f->rbuf, sizeof(f->rbuf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		if (grpc_conn_recv(c->grpc, f->rbuf, (size_t)n) < 0) {
			conn_close(c);
			return;
		}
		if ((size_t)n < sizeof(f->rbuf))
			break;
	}
	conn_kick(c);
}

static void on_first_request_timeout(struct kwid_timer *t, void *userdata)
{
	struct front_conn *c = userdata;

	c->f->stats.first_request_timeouts++;
	log_debug("wlapi front: conn %u sent no request in %u ms, closing", c->node.id,
		  c->f->cfg.first_request_timeout_ms);
	conn_close(c);
}

static bool conn_allowed(struct front *f, const struct ucred *peer)
{
	struct uid_count *u = uid_slot(f, peer->uid, false);
	const char *why = NULL;

	if (f->stats.conns_open >= f->cfg.max_conns)
		why = "max_conns";
	else if (u && u->n >= f->cfg.max_conns_per_uid)
		why = "max_conns_per_uid";
	else if (f->out.bytes > f->cfg.max_pending_to_core || f->out.count > 2 * (size_t)f->cfg.max_conns)
		why = "the core is not keeping up"; /* each queued CONN_OPEN holds a descriptor */
	if (!why)
		return true;
	f->stats.conns_refused++;
	if (now_mono_ns() - f->last_refusal_log_ns > 1000000000ull) {
		f->last_refusal_log_ns = now_mono_ns();
		log_warn("wlapi front: refusing connection from pid %d uid %u: %s reached", (int)peer->pid,
			 (unsigned)peer->uid, why);
	}
	return false;
}

static int conn_setup(struct front *f, int fd, const struct ucred *peer)
{
	struct front_conn *c = calloc(1, sizeof(*c));
	struct uid_count *u;
	uint64_t accepted = now_boot_ns();
	int dupfd, r;

	if (!c)
		return -ENOMEM;
	c->f = f;
	c->fd = fd;
	c->uid = peer->uid;
	c->node.id = next_conn_id(f);
	r = grpc_conn_new(&f->limits, &conn_ops, c, &c->grpc);
	if (r < 0)
		goto fail;
	r = loop_io_add(f->loop, fd, EPOLLIN, on_conn_io, c, &c->io);
	if (r < 0)
		goto fail;
	c->events = EPOLLIN;
	r = loop_timer_new(f->loop, on_first_request_timeout, c, &c->first_request);
	if (r < 0 || (r = loop_timer_arm(c->first_request, f->cfg.first_request_timeout_ms * 1000000ull)) < 0)
		goto fail;
	u = uid_slot(f, peer->uid, true);
	if (!u) {
		r = -ENOMEM;
		goto fail;
	}
	/* The core reads the peer's credentials and pidfd from the socket
	 * itself: the front never vouches for who is calling. */
	dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dupfd < 0) {
		r = -errno;
		goto fail;
	}
	r = to_core(f, WLAPI_F_CONN_OPEN, c->node.id, 0, &accepted, sizeof(accepted), dupfd);
	if (r < 0)
		goto fail;
	u->n++;
	idmap_add(&f->conns, &c->node);
	f->stats.conns_open++;
	f->stats.conns_accepted++;
	conn_kick(c); /* our SETTINGS go out at once */
	return 0;
fail:
	loop_io_free(c->io);
	loop_timer_free(c->first_request);
	grpc_conn_free(c->grpc);
	free(c);
	return r;
}

static void on_accept(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct front *f = userdata;

	for (int i = 0; i < 64; i++) {
		struct ucred peer;
		socklen_t len = sizeof(peer);
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int r;

		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				log_warn_errno(-errno, "wlapi front: accept failed");
			return;
		}
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0 || !conn_allowed(f, &peer)) {
			close(cfd);
			continue;
		}
		r = conn_setup(f, cfd, &peer);
		if (r < 0) {
			log_warn_errno(r, "wlapi front: cannot set up connection from pid %d", (int)peer.pid);
			close(cfd);
		}
	}
}

/* ---- from the core ---- */

static void end_stream(struct front *f, const struct wlapi_ipc_hdr *h, const uint8_t *p)
{
	struct front_conn *c = conn_find(f, h->conn);
	char msg[WLAPI_IPC_MAX_STATUS_MSG + 1];
	size_t mlen = h->len - 1;

	if (!c)
		return;
	memcpy(msg, p + 1, mlen);
	msg[mlen] = '\0';
	grpc_conn_finish(c->grpc, (int32_t)h->stream, p[0], msg);
	conn_kick(c);
}

static void deliver_message(struct front *f, const struct wlapi_ipc_hdr *h, const uint8_t *p, size_t len)
{
	struct front_conn *c;
	int r;

	if (h->type == WLAPI_C_JWT_KEYS) {
		struct wlapi_jwt_keys *k = NULL;
		r = wlapi_jwt_keys_new((const char *)p, len, &k);
		if (r < 0) {
			log_error_errno(r, "wlapi front: the core sent an unusable JWT key set");
			return;
		}
		wlapi_jwt_keys_free(f->jwt_keys);
		f->jwt_keys = k;
		return;
	}
	c = conn_find(f, h->conn);
	if (!c)
		return;
	r = grpc_conn_send(c->grpc, (int32_t)h->stream, p, len);
	if (r == -EMSGSIZE)
		grpc_conn_finish(c->grpc, (int32_t)h->stream, GRPC_STATUS_RESOURCE_EXHAUSTED,
				 "response larger than max_response_bytes");
	conn_kick(c);
}

/* Fragments of C_MSG and C_JWT_KEYS are joined here; the core never
 * interleaves two messages. */
static int reassemble(struct front *f, const struct wlapi_ipc_hdr *h, const uint8_t *p)
{
	struct reassembly *a = &f->frag;
	uint8_t *nb;

	if (a->active && (a->hdr.type != h->type || a->hdr.conn != h->conn || a->hdr.stream != h->stream))
		return -EBADMSG;
	if (!a->active && !(h->flags & WLAPI_IPC_MORE)) {
		deliver_message(f, h, p, h->len);
		return 0;
	}
	if (a->len + h->len > f->cfg.max_response_bytes + (size_t)WLAPI_IPC_FRAGMENT)
		return -EMSGSIZE;
	nb = realloc(a->buf, a->len + h->len);
	if (!nb)
		return -ENOMEM;
	a->buf = nb;
	memcpy(a->buf + a->len, p, h->len);
	a->len += h->len;
	a->hdr = *h;
	a->active = true;
	if (!(h->flags & WLAPI_IPC_MORE)) {
		deliver_message(f, h, a->buf, a->len);
		free(a->buf);
		*a = (struct reassembly){0};
	}
	return 0;
}

static int handle_core_message(struct front *f, const uint8_t *buf, size_t n)
{
	struct wlapi_ipc_hdr h;
	const uint8_t *p = buf + WLAPI_IPC_HDR_SIZE;
	struct front_conn *c;

	if (wlapi_ipc_hdr_decode(buf, n, &h) < 0)
		return -EBADMSG;
	if ((h.flags & WLAPI_IPC_MORE) && h.type != WLAPI_C_MSG && h.type != WLAPI_C_JWT_KEYS)
		return -EBADMSG;
	switch (h.type) {
	case WLAPI_C_MSG:
	case WLAPI_C_JWT_KEYS:
		return reassemble(f, &h, p);
	case WLAPI_C_END:
		if (h.len < 1 || h.len > 1 + WLAPI_IPC_MAX_STATUS_MSG || p[0] >= GRPC_STATUS_COUNT)
			return -EBADMSG;
		end_stream(f, &h, p);
		return 0;
	case WLAPI_C_RETIRE:
		c = conn_find(f, h.conn);
		if (c) {
			grpc_conn_goaway(c->grpc);
			conn_kick(c);
		}
		return 0;
	default:
		return -EBADMSG;
	}
}

static void on_ipc(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct front *f = userdata;

	if (revents & EPOLLOUT)
		ipc_kick(f);
	for (int i = 0; i < 256; i++) {
		int rfd;
		ssize_t n = wlapi_ipc_recv(fd, f->ibuf, sizeof(f->ibuf), &rfd);

		if (n == -EAGAIN)
			return;
		if (rfd >= 0)
			close(rfd);
		if (n == 0) {
			log_info("wlapi front: the core closed its socket, exiting");
			loop_exit(f->loop, 0);
			return;
		}
		if (n < 0 || handle_core_message(f, f->ibuf, (size_t)n) < 0) {
			log_error("wlapi front: malformed message from the core, exiting");
			loop_exit(f->loop, 1);
			return;
		}
	}
}

static void on_stats_timer(struct kwid_timer *t, void *userdata)
{
	struct front *f = userdata;
	uint32_t streams = 0;

	for (struct idmap_node *n = f->conns.head; n; n = n->next)
		streams += (uint32_t)grpc_conn_active_streams(container_of(n, struct front_conn, node)->grpc);
	f->stats.streams_open = streams;
	if (memcmp(&f->stats, &f->stats_sent, sizeof(f->stats)) != 0 &&
	    to_core(f, WLAPI_F_STATS, 0, 0, &f->stats, sizeof(f->stats), -1) == 0)
		f->stats_sent = f->stats;
	loop_timer_arm(t, STATS_INTERVAL_NS);
}

/* ---- start-up ---- */

/* The core queues the configuration before it starts the front. */
static int read_config(struct front *f)
{
	struct wlapi_ipc_hdr h;
	int rfd;
	ssize_t n;

	for (int tries = 0; tries < 100; tries++) {
		n = wlapi_ipc_recv(f->ipc_fd, f->ibuf, sizeof(f->ibuf), &rfd);
		if (n != -EAGAIN)
			break;
		usleep(10000);
	}
	if (n <= 0 || rfd >= 0 || wlapi_ipc_hdr_decode(f->ibuf, (size_t)n, &h) < 0 ||
	    h.type != WLAPI_C_CONFIG || h.len != sizeof(f->cfg))
		return -EBADMSG;
	memcpy(&f->cfg, f->ibuf + WLAPI_IPC_HDR_SIZE, sizeof(f->cfg));
	if (f->cfg.version != WLAPI_IPC_VERSION || f->cfg.log_level > LOG_LVL_DEBUG)
		return -EBADMSG;
	log_set_level((enum log_level)f->cfg.log_level);
	f->limits = (struct grpc_limits){
		.max_message_bytes = f->cfg.max_message_bytes,
		.max_streams = f->cfg.max_streams_per_conn,
		.max_header_bytes = f->cfg.max_header_bytes,
		.max_response_bytes = f->cfg.max_response_bytes,
	};
	return 0;
}

static int check_socket_fd(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	return S_ISSOCK(st.st_mode) ? 0 : -ENOTSOCK;
}

static int front_setup(struct front *f)
{
	uint32_t version = WLAPI_IPC_VERSION;
	int r;

	f->listen_fd = WLAPI_FRONT_LISTEN_FD;
	f->ipc_fd = WLAPI_FRONT_IPC_FD;
	if (check_socket_fd(f->listen_fd) < 0 || check_socket_fd(f->ipc_fd) < 0)
		return log_error_errno(-EBADF, "wlapi front: expected sockets on fds %d and %d (run by kwid-agent only)",
				       WLAPI_FRONT_LISTEN_FD, WLAPI_FRONT_IPC_FD);
	if (getuid() == 0 || geteuid() == 0)
		return log_error_errno(-EPERM, "wlapi front: refusing to run as root");
	r = read_config(f);
	if (r < 0)
		return log_error_errno(r, "wlapi front: no valid configuration from the core");
	wlapi_ipc_queue_init(&f->out, f->ipc_fd);
	r = loop_new(&f->loop);
	if (r < 0)
		return r;
	r = loop_io_add(f->loop, f->listen_fd, EPOLLIN, on_accept, f, &f->listen_io);
	if (r < 0)
		return r;
	r = loop_io_add(f->loop, f->ipc_fd, EPOLLIN, on_ipc, f, &f->ipc_io);
	if (r < 0)
		return r;
	f->ipc_events = EPOLLIN;
	r = loop_timer_new(f->loop, on_stats_timer, f, &f->stats_timer);
	if (r < 0)
		return r;
	loop_timer_arm(f->stats_timer, STATS_INTERVAL_NS);
	log_debug("wlapi front: running as uid %u, pid %d", (unsigned)getuid(), (int)getpid());
	r = wlapi_jwt_warm_up();
	if (r < 0)
		return log_error_errno(r, "wlapi front: OpenSSL is not usable");
	r = sandbox_enter_front();
	if (r < 0)
		return r;
	return to_core(f, WLAPI_F_HELLO, 0, 0, &version, sizeof(version), -1);
}

int wlapi_front_main(void)
{
	struct front *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return 1;
	/* Die with the core; the setting does not survive the uid change the
	 * core made before exec, so set it here. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	r = front_setup(f);
	if (r < 0)
		return 1;
	r = loop_run(f->loop);
	/* Exit without tearing down: the kernel closes every socket, and the
	 * seccomp filter allows exit_group. */
	_exit(r == 0 ? 0 : 1);
}
