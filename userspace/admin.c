/* admin.c - the admin socket server: accepts root peers only, reads one
 * JSON request per line and dispatches it to the registered command (see
 * kwid/admin.h). */
#include "kwid/admin.h"
#include "kwid/agent.h"
#include "kwid/log.h"
#include "kwid/sockutil.h"

#include <stdarg.h>
#include <sys/stat.h>

#define ADMIN_MAX_CLIENTS 64

struct admin_conn {
	struct kwid_admin *adm;
	int fd;
	struct kwid_io *io;
	struct ucred peer;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off;
	unsigned pending; /* requests waiting for a reply */
	bool gone;	  /* client went away; freed when pending reaches 0 */
	struct admin_conn *prev, *next;
};

struct admin_request {
	struct admin_conn *conn;
	pid_t peer_pid;
};

struct kwid_admin {
	struct kwid_agent *agent;
	int listen_fd;
	struct kwid_io *listen_io;
	struct admin_command *cmds;
	size_t ncmds;
	struct admin_conn *conns;
	size_t nconns;
};

static void conn_free(struct admin_conn *c);

static void conn_update_events(struct admin_conn *c)
{
	uint32_t ev = EPOLLIN;

	if (c->gone)
		return;
	if (c->out_len > c->out_off)
		ev |= EPOLLOUT;
	loop_io_set_events(c->io, ev);
}

static void conn_flush(struct admin_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			conn_free(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	conn_update_events(c);
}

static void conn_send(struct admin_conn *c, json_object *msg)
{
	size_t len;
	const char *s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
	char *n;

	n = realloc(c->out, c->out_len + len + 1);
	if (!n) {
		conn_free(c);
		return;
	}
	c->out = n;
	memcpy(c->out + c->out_len, s, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	conn_flush(c);
}

static void request_finish(struct admin_request *req, json_object *msg)
{
	struct admin_conn *c = req->conn;

	free(req);
	c->pending--;
	if (c->gone) {
		if (c->pending == 0)
			conn_free(c);
	} else {
		conn_send(c, msg);
	}
	json_object_put(msg);
}

void admin_reply_ok(struct admin_request *req, json_object *result)
{
	json_object *msg = json_object_new_object();

	json_object_object_add(msg, "ok", json_object_new_boolean(1));
	json_object_object_add(msg, "result", result ? result : json_object_new_object());
	request_finish(req, msg);
}

void admin_reply_error(struct admin_request *req, const char *code, const char *fmt, ...)
{
	json_object *msg = json_object_new_object();
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_object_add(msg, "ok", json_object_new_boolean(0));
	json_object_object_add(msg, "error", json_object_new_string(buf));
	json_object_object_add(msg, "code", json_object_new_string(code));
	request_finish(req, msg);
}

bool admin_request_orphaned(const struct admin_request *req) { return req->conn->gone; }
pid_t admin_request_peer_pid(const struct admin_request *req) { return req->peer_pid; }

int admin_arg_string(struct admin_request *req, json_object *args, const char *key, bool required,
		     const char **out)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(args, key, &v) || json_object_is_type(v, json_type_null)) {
		if (!required)
			return 0;
		admin_reply_error(req, "invalid", "missing argument '%s'", key);
		return -EINVAL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		admin_reply_error(req, "invalid", "argument '%s' must be a string", key);
		return -EINVAL;
	}
	*out = json_object_get_string(v);
	return 1;
}

int admin_arg_int(struct admin_request *req, json_object *args, const char *key, bool required,
		  int64_t min, int64_t max, int64_t *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(args, key, &v) || json_object_is_type(v, json_type_null)) {
		if (!required)
			return 0;
		admin_reply_error(req, "invalid", "missing argument '%s'", key);
		return -EINVAL;
	}
	if (!json_object_is_type(v, json_type_int)) {
		admin_reply_error(req, "invalid", "argument '%s' must be an integer", key);
		return -EINVAL;
	}
	errno = 0;
	n = json_object_get_int64(v);
	if (errno == ERANGE || n < min || n > max) {
		admin_reply_error(req, "invalid", "argument '%s' = %lld is outside [%lld, %lld]", key,
				  (long long)n, (long long)min, (long long)max);
		return -EINVAL;
	}
	*out = n;
	return 1;
}

static const struct admin_command *find_command(struct kwid_admin *adm, const char *name)
{
	for (size_t i = 0; i < adm->ncmds; i++)
		if (streq(adm->cmds[i].name, name))
			return &adm->cmds[i];
	return NULL;
}

static void dispatch_line(struct admin_conn *c, const char *line, size_t len)
{
	struct admin_request *req = calloc(1, sizeof(*req));
	struct json_tokener *tok;
	json_object *msg = NULL, *cmd = NULL, *args = NULL;
	const struct admin_command *command;
	int r;

	if (!req) {
		conn_free(c);
		return;
	}
	req->conn = c;
	req->peer_pid = c->peer.pid;
	c->pending++;

	tok = json_tokener_new_ex(32);
	if (tok) {
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
		msg = json_tokener_parse_ex(tok, line, (int)len);
		if (msg && json_tokener_get_parse_end(tok) != len) {
			json_object_put(msg);
			msg = NULL;
		}
		json_tokener_free(tok);
	}
	if (!msg || !json_object_is_type(msg, json_type_object)) {
		admin_reply_error(req, "invalid", "request is not a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(msg, "cmd", &cmd) || !json_object_is_type(cmd, json_type_string)) {
		admin_reply_error(req, "invalid", "request has no string 'cmd'");
		goto out;
	}
	command = find_command(c->adm, json_object_get_string(cmd));
	if (!command) {
		admin_reply_error(req, "invalid", "unknown command '%s'", json_object_get_string(cmd));
		goto out;
	}
	if (!json_object_object_get_ex(msg, "args", &args) || json_object_is_type(args, json_type_null)) {
		args = json_object_new_object();
		json_object_object_add(msg, "args", args);
	} else if (!json_object_is_type(args, json_type_object)) {
		admin_reply_error(req, "invalid", "'args' must be an object");
		goto out;
	}
	log_debug("admin: %s from pid %d", command->name, (int)c->peer.pid);
	r = command->fn(req, args, command->userdata);
	if (r < 0)
		admin_reply_error(req, "internal", "%s failed: %s", command->name, strerror(-r));
out:
	json_object_put(msg);
}

static void conn_read(struct admin_conn *c)
{
	for (;;) {
		ssize_t n;
		char *nl;

		if (c->in_cap - c->in_len < 4096) {
			size_t ncap = c->in_cap ? c->in_cap * 2 : 8192;
			char *nb;
			if (ncap > ADMIN_MAX_REQUEST + 8192)
				ncap = ADMIN_MAX_REQUEST + 8192;
			if (ncap <= c->in_cap) {
				log_warn("admin: request from pid %d exceeds %u bytes, closing",
					 (int)c->peer.pid, ADMIN_MAX_REQUEST);
				conn_free(c);
				return;
			}
			nb = realloc(c->in, ncap);
			if (!nb) {
				conn_free(c);
				return;
			}
			c->in = nb;
			c->in_cap = ncap;
		}
		n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			conn_free(c);
			return;
		}
		if (n == 0) {
			/* kwidctl keeps its side open until it has its answer: EOF
			 * means the client is gone. */
			conn_free(c);
			return;
		}
		c->in_len += (size_t)n;
		while ((nl = memchr(c->in, '\n', c->in_len))) {
			size_t linelen = (size_t)(nl - c->in);
			*nl = '\0';
			if (linelen > 0)
				dispatch_line(c, c->in, linelen);
			if (c->gone)
				return;
			memmove(c->in, nl + 1, c->in_len - linelen - 1);
			c->in_len -= linelen + 1;
		}
		if (c->in_len > ADMIN_MAX_REQUEST) {
			log_warn("admin: request from pid %d exceeds %u bytes, closing",
				 (int)c->peer.pid, ADMIN_MAX_REQUEST);
			conn_free(c);
			return;
		}
	}
}

static void on_conn(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct admin_conn *c = userdata;

	c->pending++; /* hold the connection: nothing below frees it */
	if (revents & EPOLLOUT)
		conn_flush(c);
	if (!c->gone && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		conn_read(c);
	c->pending--;
	if (c->gone && c->pending == 0)
		conn_free(c);
}

static void conn_free(struct admin_conn *c)
{
	struct kwid_admin *adm = c->adm;

	/* Requests still running hold a pointer to the connection: detach it
	 * from the loop now and free it when the last one has answered (the
	 * answers are dropped). */
	if (!c->gone) {
		c->gone = true;
		loop_io_free(c->io);
		c->io = NULL;
	}
	if (c->pending > 0)
		return;
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		adm->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	adm->nconns--;
	free(c->in);
	free(c->out);
	free(c);
}

static void on_accept(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct kwid_admin *adm = userdata;

	for (;;) {
		struct admin_conn *c;
		struct ucred peer;
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn_errno(-errno, "admin: accept failed");
			return;
		}
		if (unix_peer_cred(cfd, &peer) < 0 || peer.uid != 0) {
			static const char msg[] =
				"{\"ok\":false,\"code\":\"denied\",\"error\":\"permission denied: the admin socket is root-only\"}\n";
			log_warn("admin: refused connection from uid %d pid %d", (int)peer.uid, (int)peer.pid);
			(void)!write(cfd, msg, sizeof(msg) - 1);
			close(cfd);
			continue;
		}
		if (adm->nconns >= ADMIN_MAX_CLIENTS) {
			log_warn("admin: %d clients connected, refusing pid %d", ADMIN_MAX_CLIENTS, (int)peer.pid);
			close(cfd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->adm = adm;
		c->fd = cfd;
		c->peer = peer;
		if (loop_io_add(adm->agent->loop, cfd, EPOLLIN, on_conn, c, &c->io) < 0) {
			close(cfd);
			free(c);
			continue;
		}
		c->next = adm->conns;
		if (adm->conns)
			adm->conns->prev = c;
		adm->conns = c;
		adm->nconns++;
	}
}

static int cmd_status(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_admin *adm = userdata;

	admin_reply_ok(req, agent_status(adm->agent));
	return 0;
}

int admin_register(struct kwid_admin *adm, const struct admin_command *cmds, size_t n)
{
	struct admin_command *nc = reallocarray_safe(adm->cmds, adm->ncmds + n, sizeof(*nc));

	if (!nc)
		return -ENOMEM;
	adm->cmds = nc;
	for (size_t i = 0; i < n; i++) {
		if (find_command(adm, cmds[i].name))
			return log_error_errno(-EEXIST, "admin: command '%s' registered twice", cmds[i].name);
		adm->cmds[adm->ncmds++] = cmds[i];
	}
	return 0;
}

int admin_new(struct kwid_agent *a, struct kwid_admin **out)
{
	_cleanup_free_ struct kwid_admin *adm = calloc(1, sizeof(*adm));
	_cleanup_free_ char *dir = NULL;
	const struct admin_command builtin[] = {{"status", cmd_status, NULL}};
	struct admin_command cmd = builtin[0];
	char *slash;
	int r;

	if (!adm)
		return -ENOMEM;
	adm->agent = a;
	adm->listen_fd = -1;
	dir = strdup(a->cfg->admin_socket_path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = mkdir_p(dir, 0755);
		if (r < 0)
			return log_error_errno(r, "admin: cannot create directory %s", dir);
	}
	r = unix_listen(a->cfg->admin_socket_path, 0600, 16);
	if (r == -EADDRINUSE)
		return log_error_errno(r, "admin: another agent is listening on %s", a->cfg->admin_socket_path);
	if (r < 0)
		return log_error_errno(r, "admin: cannot listen on %s", a->cfg->admin_socket_path);
	adm->listen_fd = r;
	r = loop_io_add(a->loop, adm->listen_fd, EPOLLIN, on_accept, adm, &adm->listen_io);
	if (r < 0) {
		close(adm->listen_fd);
		return r;
	}
	cmd.userdata = adm;
	r = admin_register(adm, &cmd, 1);
	if (r < 0) {
		admin_free(TAKE_PTR(adm));
		return r;
	}
	*out = TAKE_PTR(adm);
	return 0;
}

void admin_free(struct kwid_admin *adm)
{
	if (!adm)
		return;
	while (adm->conns) {
		struct admin_conn *c = adm->conns;
		c->pending = 0; /* the agent is stopping; nothing will reply */
		conn_free(c);
	}
	loop_io_free(adm->listen_io);
	if (adm->listen_fd >= 0) {
		close(adm->listen_fd);
		unlink(adm->agent->cfg->admin_socket_path);
	}
	free(adm->cmds);
	free(adm);
}
