/* client.c - kwidctl's side of the admin protocol: one JSON request line,
 * one JSON response line (see kwid/admin.h). */
#include "kwidctl.h"
#include "kwid/admin.h"
#include "kwid/sockutil.h"

#include <poll.h>

#define RESPONSE_MAX (64u << 20)

static int read_line(int fd, char **out)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;
		char *nl;

		if (len == cap) {
			char *nb;
			if (cap >= RESPONSE_MAX) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			free(buf);
			return r;
		}
		if (n == 0) {
			free(buf);
			return -ECONNRESET;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			*nl = '\0';
			*out = buf;
			return 0;
		}
	}
}

int kwidctl_call(struct kwidctl *ctx, const char *cmd, json_object *args, json_object **result)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *line = NULL;
	json_object *req = json_object_new_object(), *resp, *ok, *res;
	const char *text;
	size_t len;
	int r;

	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "args", args ? args : json_object_new_object());
	fd = unix_connect(ctx->admin_socket);
	if (fd < 0) {
		json_object_put(req);
		if (fd == -ENOENT || fd == -ECONNREFUSED)
			fprintf(stderr, "kwidctl: kwid-agent is not running (nothing listens on %s)\n",
				ctx->admin_socket);
		else if (fd == -EACCES || fd == -EPERM)
			fprintf(stderr, "kwidctl: permission denied on %s: the admin socket is root-only\n",
				ctx->admin_socket);
		else
			fprintf(stderr, "kwidctl: cannot connect to %s: %s\n", ctx->admin_socket, strerror(-fd));
		return KWIDCTL_UNREACHABLE;
	}
	text = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
	r = write_full(fd, text, len);
	if (r == 0)
		r = write_full(fd, "\n", 1);
	json_object_put(req);
	/* An agent that refuses us (non-root peer) answers and closes at
	 * once: the write may fail with EPIPE, but its answer is there. */
	if (r == 0 || r == -EPIPE || r == -ECONNRESET)
		r = read_line(fd, &line);
	if (r < 0) {
		fprintf(stderr, "kwidctl: no answer from kwid-agent on %s: %s\n", ctx->admin_socket,
			strerror(-r));
		return KWIDCTL_UNREACHABLE;
	}
	resp = json_tokener_parse(line);
	if (!resp || !json_object_object_get_ex(resp, "ok", &ok)) {
		json_object_put(resp);
		fprintf(stderr, "kwidctl: malformed answer from kwid-agent\n");
		return KWIDCTL_FAILED;
	}
	if (!json_object_get_boolean(ok)) {
		const char *code = jstr(resp, "code");
		fprintf(stderr, "kwidctl: %s\n", jstr(resp, "error") ? jstr(resp, "error") : "request failed");
		r = streq(code, "denied") ? KWIDCTL_UNREACHABLE : KWIDCTL_FAILED;
		json_object_put(resp);
		return r;
	}
	res = jget(resp, "result");
	*result = res ? json_object_get(res) : json_object_new_object();
	json_object_put(resp);
	return 0;
}

void kwidctl_print_json(json_object *obj)
{
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
}

const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

int64_t jint(json_object *o, const char *key, int64_t dflt)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return dflt;
	return json_object_get_int64(v);
}

json_object *jget(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}
