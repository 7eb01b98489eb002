/* wlapi_core.c - the Workload API in the agent core: binds the public
 * socket, keeps one record per connection the front reports (with the
 * peer's credentials and pidfd, read from the socket by the core itself),
 * tracks the streams, decodes the front's messages strictly and answers
 * through the internal protocol (kwid/wlapi_ipc.h). Attestation and
 * responses live in wlapi_serve.c, the front process in wlapi_spawn.c. */
#include "kwid/log.h"
#include "kwid/privs.h"
#include "kwid/sockutil.h"
#include "kwid/wlapi_core.h"

#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>

/* ---- connections and streams ---- */

static struct wlapi_conn *conn_find(struct kwid_wlapi *w, uint32_t id)
{
	struct idmap_node *n = idmap_find(&w->conns, id);

	return n ? container_of(n, struct wlapi_conn, node) : NULL;
}

static struct wlapi_stream *stream_find(struct wlapi_conn *c, uint32_t id)
{
	for (struct wlapi_stream *s = c->streams; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void stream_free(struct wlapi_stream *s)
{
	struct wlapi_conn *c = s->conn;
	struct wlapi_stream **pp = &c->streams;

	wlapi_serve_stream_free(s);
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	c->nstreams--;
	c->w->nstreams--;
	wlapi_ipc_item_detach(s->queued);
	wlapi_rpc_clear(&s->rpc);
	free(s);
}

static void conn_free(struct wlapi_conn *c)
{
	struct kwid_wlapi *w = c->w;

	while (c->streams) {
		w->rpcs[GRPC_STATUS_CANCELLED]++;
		stream_free(c->streams);
	}
	wlapi_serve_conn_close(c);
	idmap_del(&w->conns, &c->node);
	if (c->pidfd >= 0)
		close(c->pidfd);
	free(c);
}

void wlapi_conns_drop_all(struct kwid_wlapi *w)
{
	while (w->conns.head)
		conn_free(container_of(w->conns.head, struct wlapi_conn, node));
}

void wlapi_ipc_kick(struct kwid_wlapi *w)
{
	int r;
	uint32_t want;

	if (w->ipc_fd < 0)
		return;
	r = wlapi_ipc_queue_flush(&w->out);
	if (r < 0 && r != -EAGAIN) {
		wlapi_front_kill(w, "cannot write to the front");
		return;
	}
	want = EPOLLIN | (r == -EAGAIN ? EPOLLOUT : 0);
	if (want != w->ipc_events && loop_io_set_events(w->ipc_io, want) == 0)
		w->ipc_events = want;
}

static void to_front(struct kwid_wlapi *w, uint16_t type, uint32_t conn, uint32_t stream, const void *payload,
		     size_t len, struct wlapi_ipc_item **slot)
{
	int r;

	if (w->ipc_fd < 0)
		return;
	r = wlapi_ipc_queue_push(&w->out, type, conn, stream, payload, len, -1, slot);
	if (r < 0) {
		wlapi_front_kill(w, "out of memory queueing for the front");
		return;
	}
	wlapi_ipc_kick(w);
}

void wlapi_front_send(struct kwid_wlapi *w, uint16_t type, const void *payload, size_t len)
{
	to_front(w, type, 0, 0, payload, len, NULL);
}

int wlapi_stream_reply(struct wlapi_stream *s, const uint8_t *msg, size_t len)
{
	struct kwid_wlapi *w = s->conn->w;
	uint8_t digest[32];

	if (len > w->set.front.max_response_bytes) {
		wlapi_stream_end(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "response of %zu bytes exceeds max_response_bytes",
				 len);
		return -EMSGSIZE;
	}
	SHA256(msg, len, digest);
	if (s->sent && memcmp(digest, s->digest, sizeof(digest)) == 0)
		return 0; /* nothing changed for this caller */
	memcpy(s->digest, digest, sizeof(digest));
	if (s->sent)
		w->pushes++;
	s->sent = true;
	/* An update still waiting in the queue is replaced by this one: only
	 * the newest state matters. */
	if (s->queued && wlapi_ipc_queue_replace(&w->out, s->queued, msg, len) == 0)
		return 0;
	wlapi_ipc_item_detach(s->queued);
	to_front(w, WLAPI_C_MSG, s->conn->node.id, s->id, msg, len, &s->queued);
	return 0;
}

void wlapi_stream_end(struct wlapi_stream *s, int status, const char *fmt, ...)
{
	struct kwid_wlapi *w = s->conn->w;
	uint8_t payload[1 + WLAPI_IPC_MAX_STATUS_MSG + 1];
	va_list ap;
	int n = 0;

	payload[0] = (uint8_t)status;
	if (fmt) {
		va_start(ap, fmt);
		n = vsnprintf((char *)payload + 1, sizeof(payload) - 1, fmt, ap);
		va_end(ap);
		n = MAX(0, MIN(n, WLAPI_IPC_MAX_STATUS_MSG));
	}
	log_debug("wlapi: conn %u (pid %d) stream %u %s: %s%s%s", s->conn->node.id, (int)s->conn->peer.pid, s->id,
		  wlapi_method_name(s->rpc.method), grpc_status_name(status), n ? ": " : "",
		  n ? (char *)payload + 1 : "");
	w->rpcs[status < GRPC_STATUS_COUNT ? status : GRPC_STATUS_UNKNOWN]++;
	wlapi_ipc_item_detach(s->queued);
	s->queued = NULL;
	to_front(w, WLAPI_C_END, s->conn->node.id, s->id, payload, 1 + (size_t)n, NULL);
	stream_free(s);
}

void wlapi_conn_retire(struct wlapi_conn *c, int status, const char *message)
{
	if (c->retired_status)
		return;
	c->retired_status = status;
	c->retired_message = message;
	while (c->streams)
		wlapi_stream_end(c->streams, status, "%s", message);
	to_front(c->w, WLAPI_C_RETIRE, c->node.id, 0, NULL, 0, NULL);
}

/* ---- messages from the front ---- */

/* The descriptor must be a connection accepted on our own socket: a front
 * that passed anything else (a socket it connected to some other
 * service, say) would make us attest that service's process. */
static int check_conn_socket(struct kwid_wlapi *w, int fd)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	int v;
	socklen_t vl = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &vl) < 0 || v != AF_UNIX)
		return -ENOTSOCK;
	vl = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl) < 0 || v != SOCK_STREAM)
		return -ENOTSOCK;
	vl = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) < 0 || v != 0)
		return -ENOTSOCK;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	if (len <= offsetof(struct sockaddr_un, sun_path) ||
	    strnlen(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path)) != strlen(w->socket_path) ||
	    strncmp(sa.sun_path, w->socket_path, strlen(w->socket_path)) != 0)
		return -EPERM;
	return 0;
}

static int on_conn_open(struct kwid_wlapi *w, struct wlapi_front_msg *m)
{
	_cleanup_close_ int sock = TAKE_FD(m->fd);
	struct wlapi_conn *c;
	socklen_t len;
	int pidfd = -1, r;

	if (conn_find(w, m->hdr.conn))
		return -EBADMSG;
	r = check_conn_socket(w, sock);
	if (r < 0) {
		log_error_errno(r, "wlapi: the front passed a descriptor that is not a connection on %s",
				w->socket_path);
		return -EBADMSG;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->w = w;
	c->node.id = m->hdr.conn;
	c->pidfd = -1;
	c->accepted_boot_ns = m->u.accepted_boot_ns;
	len = sizeof(c->peer);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &c->peer, &len) < 0) {
		c->bind_error = -errno;
	} else {
		len = sizeof(pidfd);
		if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
			c->bind_error = -errno;
		else
			c->pidfd = pidfd;
	}
	idmap_add(&w->conns, &c->node);
	if (c->bind_error == 0)
		wlapi_serve_conn_open(c);
	if (c->bind_error)
		log_debug_errno(c->bind_error, "wlapi: conn %u from pid %d uid %u not bound to an exec", c->node.id,
				(int)c->peer.pid, (unsigned)c->peer.uid);
	else
		log_debug("wlapi: conn %u bound to pid %d (start %llu, exec %llu) uid %u", c->node.id,
			  (int)c->exec.tgid, (unsigned long long)c->exec.start_ns,
			  (unsigned long long)c->exec.exec_seq, (unsigned)c->peer.uid);
	return 0;
}

static int on_rpc(struct kwid_wlapi *w, struct wlapi_front_msg *m)
{
	struct wlapi_conn *c = conn_find(w, m->hdr.conn);
	struct wlapi_stream *s;

	if (!c)
		return 0; /* closed meanwhile; the front will not expect an answer */
	if (stream_find(c, m->hdr.stream))
		return -EBADMSG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->conn = c;
	s->id = m->hdr.stream;
	s->rpc = m->u.rpc;
	m->u.rpc = (struct wlapi_rpc){0};
	s->next = c->streams;
	c->streams = s;
	c->nstreams++;
	w->nstreams++;
	/* The front limits streams per connection; a front that does not is
	 * still held to the limit here. */
	if (c->nstreams > w->set.front.max_streams_per_conn) {
		wlapi_stream_end(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "too many streams on this connection");
		return 0;
	}
	if (c->retired_status) {
		wlapi_stream_end(s, c->retired_status, "%s", c->retired_message);
		return 0;
	}
	wlapi_serve_rpc(s);
	return 0;
}

static int handle_front_message(struct kwid_wlapi *w, struct wlapi_front_msg *m)
{
	struct wlapi_conn *c;
	struct wlapi_stream *s;

	switch (m->hdr.type) {
	case WLAPI_F_HELLO:
		if (m->u.version != WLAPI_IPC_VERSION || w->front_ready)
			return -EBADMSG;
		w->front_ready = true;
		log_info("wlapi: front ready (pid %d), serving %s", (int)w->front_pid, w->socket_path);
		wlapi_serve_front_ready(w);
		return 0;
	case WLAPI_F_CONN_OPEN:
		return on_conn_open(w, m);
	case WLAPI_F_CONN_CLOSE:
		c = conn_find(w, m->hdr.conn);
		if (c)
			conn_free(c);
		return 0;
	case WLAPI_F_RPC:
		return on_rpc(w, m);
	case WLAPI_F_CANCEL:
		c = conn_find(w, m->hdr.conn);
		s = c ? stream_find(c, m->hdr.stream) : NULL;
		if (s) {
			w->rpcs[GRPC_STATUS_CANCELLED]++;
			stream_free(s);
		}
		return 0;
	case WLAPI_F_STATS:
		w->front_stats = m->u.stats;
		return 0;
	}
	return -EBADMSG;
}

void wlapi_on_ipc(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct kwid_wlapi *w = userdata;

	if (revents & EPOLLOUT)
		wlapi_ipc_kick(w);
	/* Bounded batch: the front cannot starve the rest of the agent. */
	for (int i = 0; i < 256 && w->ipc_fd == fd; i++) {
		struct wlapi_front_msg m;
		const char *why = "unreadable datagram";
		int rfd, r;
		ssize_t n = wlapi_ipc_recv(fd, w->ibuf, sizeof(w->ibuf), &rfd);

		if (n == -EAGAIN)
			return;
		if (n == 0) {
			/* It exited (or is about to): on_front_exit says why. */
			wlapi_front_kill(w, NULL);
			return;
		}
		r = n < 0 ? (int)n : wlapi_front_msg_decode(w->ibuf, (size_t)n, rfd, &m, &why);
		if (r == 0) {
			r = handle_front_message(w, &m);
			why = "message out of place";
			wlapi_front_msg_clear(&m);
		}
		if (r == -ENOMEM) {
			wlapi_front_kill(w, "out of memory");
			return;
		}
		if (r < 0) {
			w->ipc_violations++;
			log_error("wlapi: protocol violation by the front (%s)", why);
			wlapi_front_kill(w, "protocol violation");
			return;
		}
	}
}

/* ---- configuration, socket, status ---- */

static int read_settings(struct kwid_wlapi *w, const struct kwid_config *cfg)
{
	struct wlapi_front_config *f = &w->set.front;
	const struct {
		const char *key;
		uint64_t min, max;
		uint32_t *out;
	} keys[] = {
		{"workload_api.max_message_bytes", 256, 1u << 20, &f->max_message_bytes},
		{"workload_api.max_header_bytes", 1024, 1u << 20, &f->max_header_bytes},
		{"workload_api.max_response_bytes", 64 * 1024, 64u << 20, &f->max_response_bytes},
		{"workload_api.max_streams_per_conn", 1, 1024, &f->max_streams_per_conn},
		{"workload_api.max_conns", 1, 1u << 20, &f->max_conns},
		{"workload_api.max_conns_per_uid", 1, 1u << 20, &f->max_conns_per_uid},
		{"workload_api.first_request_timeout_ms", 10, 3600 * 1000, &f->first_request_timeout_ms},
		{"workload_api.max_pending_bytes", 64 * 1024, 1u << 30, &f->max_pending_to_core},
		{"workload_api.front_uid", 1, UINT32_MAX - 1, &w->set.front_uid},
		{"workload_api.front_gid", 1, UINT32_MAX - 1, &w->set.front_gid},
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		uint64_t v;
		int r = config_get_u64(cfg, keys[i].key, keys[i].min, keys[i].max, &v);
		if (r < 0)
			return r;
		*keys[i].out = (uint32_t)v;
	}
	f->version = WLAPI_IPC_VERSION;
	f->log_level = (uint32_t)cfg->log_level;
	return config_get_bool(cfg, "workload_api.allow_unauthenticated_verifiers",
			       &w->set.allow_unauthenticated_verifiers);
}

/* Every connection holds a socket in the front and a pidfd here: make
 * room for max_conns of them. */
static void raise_fd_limit(uint32_t conns)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)conns + 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = MIN(want, rl.rlim_max);
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		log_warn("wlapi: open-file limit %llu is below max_conns + 1024 = %llu",
			 (unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

static int bind_socket(struct kwid_wlapi *w)
{
	_cleanup_free_ char *dir = strdup(w->socket_path);
	struct stat st;
	int r;

	if (!dir)
		return -ENOMEM;
	r = mkdir_parents(w->socket_path, 0755);
	if (r < 0)
		return log_error_errno(r, "wlapi: cannot create the directory of %s", w->socket_path);
	if (stat(dirname(dir), &st) == 0 && (st.st_mode & 0005) != 0005)
		log_warn("wlapi: %s is mode %03o: workloads of other users cannot reach the socket", dir,
			 st.st_mode & 0777);
	r = unix_listen(w->socket_path, 0666, 1024);
	if (r == -EADDRINUSE)
		return log_error_errno(r, "wlapi: another agent is listening on %s", w->socket_path);
	if (r < 0)
		return log_error_errno(r, "wlapi: cannot listen on %s", w->socket_path);
	w->listen_fd = r;
	return 0;
}

static void add_counts(json_object *obj, const uint64_t *counts)
{
	for (int i = 0; i < GRPC_STATUS_COUNT; i++)
		if (counts[i])
			json_object_object_add(obj, grpc_status_name(i), json_object_new_int64((int64_t)counts[i]));
}

static void status_section(void *userdata, json_object *out)
{
	struct kwid_wlapi *w = userdata;
	json_object *core = json_object_new_object(), *front = json_object_new_object();
	const struct wlapi_front_stats *b = &w->front_stats_base, *f = &w->front_stats;
	uint64_t front_rpcs[GRPC_STATUS_COUNT];

	for (int i = 0; i < GRPC_STATUS_COUNT; i++)
		front_rpcs[i] = b->front_rpcs[i] + f->front_rpcs[i];
	json_object_object_add(out, "socket", json_object_new_string(w->socket_path));
	json_object_object_add(out, "front_pid", json_object_new_int(w->front_ready ? w->front_pid : 0));
	json_object_object_add(out, "front_restarts", json_object_new_int((int)w->front_restarts));
	json_object_object_add(out, "connections", json_object_new_int64((int64_t)w->conns.count));
	json_object_object_add(out, "streams", json_object_new_int64((int64_t)w->nstreams));
	json_object_object_add(out, "pushes", json_object_new_int64((int64_t)w->pushes));
	json_object_object_add(out, "connections_accepted",
			       json_object_new_int64((int64_t)(b->conns_accepted + f->conns_accepted)));
	json_object_object_add(out, "connections_refused",
			       json_object_new_int64((int64_t)(b->conns_refused + f->conns_refused)));
	json_object_object_add(out, "protocol_errors",
			       json_object_new_int64((int64_t)(b->protocol_errors + f->protocol_errors)));
	json_object_object_add(out, "first_request_timeouts",
			       json_object_new_int64((int64_t)(b->first_request_timeouts + f->first_request_timeouts)));
	json_object_object_add(out, "ipc_violations", json_object_new_int64((int64_t)w->ipc_violations));
	add_counts(core, w->rpcs);
	add_counts(front, front_rpcs);
	json_object_object_add(out, "rpcs_core", core);
	json_object_object_add(out, "rpcs_front", front);
	wlapi_serve_status(w, out);
}

/* The front binary sits next to kwid-agent (build tree, or a package that
 * ships both in one directory), else in KWID_LIBEXECDIR (make install). It
 * receives every workload's connection, so it must be a regular file only
 * root can change. */
static int open_front_binary(int *out)
{
	char self[PATH_MAX], cand[2][PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int r = -ENOENT;

	cand[0][0] = '\0';
	if (n > 0) {
		char *slash;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(cand[0], sizeof(cand[0]), "%s/%s", self, WLAPI_FRONT_BINARY);
		}
	}
	snprintf(cand[1], sizeof(cand[1]), "%s/%s", KWID_LIBEXECDIR, WLAPI_FRONT_BINARY);
	for (size_t i = 0; i < 2; i++) {
		struct stat st;
		int fd;

		if (!cand[i][0])
			continue;
		fd = open(cand[i], O_PATH | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
			r = log_error_errno(-EPERM, "wlapi: %s must be a regular file owned by root and "
						    "writable by no one else", cand[i]);
			close(fd);
			return r;
		}
		*out = fd;
		return 0;
	}
	return log_error_errno(r, "wlapi: cannot find %s next to kwid-agent or in %s", WLAPI_FRONT_BINARY,
			       KWID_LIBEXECDIR);
}

int wlapi_new(struct kwid_agent *a, struct kwid_wlapi **out)
{
	struct kwid_wlapi *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->agent = a;
	w->listen_fd = w->exe_fd = w->ipc_fd = w->front_pidfd = -1;
	wlapi_ipc_queue_init(&w->out, -1);
	r = read_settings(w, a->cfg);
	if (r < 0)
		goto fail;
	w->socket_path = strdup(a->cfg->socket_path);
	if (!w->socket_path) {
		r = -ENOMEM;
		goto fail;
	}
	r = open_front_binary(&w->exe_fd);
	if (r < 0)
		goto fail;
	raise_fd_limit(w->set.front.max_conns);
	r = bind_socket(w);
	if (r < 0)
		goto fail;
	r = wlapi_serve_init(w);
	if (r < 0)
		goto fail;
	r = wlapi_front_start(w);
	if (r < 0)
		goto fail;
	r = agent_status_register(a, "workload_api", status_section, w);
	if (r < 0)
		goto fail;
	/* Restarting the front means dropping to its uid and clearing its
	 * bounding set again. */
	privs_need(CAP_SETUID, "workload API: start the front as its own uid after a crash");
	privs_need(CAP_SETGID, "workload API: start the front as its own gid, without groups");
	privs_need(CAP_SETPCAP, "workload API: clear the front's capability bounding set");
	*out = w;
	return 0;
fail:
	wlapi_free(w);
	return r;
}

void wlapi_free(struct kwid_wlapi *w)
{
	if (!w)
		return;
	w->stopping = true;
	wlapi_front_stop(w);
	wlapi_conns_drop_all(w);
	wlapi_serve_fini(w);
	wlapi_ipc_queue_clear(&w->out);
	if (w->listen_fd >= 0) {
		close(w->listen_fd);
		unlink(w->socket_path);
	}
	if (w->exe_fd >= 0)
		close(w->exe_fd);
	free(w->socket_path);
	free(w);
}
