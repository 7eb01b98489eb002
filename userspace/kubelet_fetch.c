/* kubelet_fetch.c - one HTTPS GET of the kubelet's pod list, run on the
 * kubelet client's worker thread (see kwid/kubelet.h): the URL split once
 * at start-up; per fetch the bearer token read afresh, a TLS connection
 * verified against the configured CA and the URL's host name or address,
 * and the answer read within one deadline and a size bound. Sockets are
 * non-blocking and every wait also watches a cancel fd, so stopping the
 * agent never waits for a slow kubelet. */
#include "kwid/agent.h"
#include "kwid/http_response.h"
#include "kwid/kubelet.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>

#define TOKEN_MAX (64 * 1024)
#define READ_CHUNK (64 * 1024)
#define DEFAULT_PORT "10250"
#define DEFAULT_PATH "/pods"

/* ---- the URL ---- */

void kubelet_target_clear(struct kwid_kubelet_target *t)
{
	free(t->url);
	free(t->host);
	free(t->port);
	free(t->path);
	free(t->host_header);
	free(t->ca_file);
	free(t->token_file);
	memset(t, 0, sizeof(*t));
}

static int url_fail(const char **why, const char *msg)
{
	*why = msg;
	return -EINVAL;
}

static bool host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* host[:port] or [v6][:port] of authority[0..len) into t. */
static int parse_authority(const char *a, size_t len, struct kwid_kubelet_target *t, const char **why)
{
	const char *host = a, *port = NULL, *end = a + len;
	size_t hlen;
	uint64_t pnum;
	unsigned char addr[16];

	if (memchr(a, '@', len))
		return url_fail(why, "the kubelet URL must not hold user information");
	if (*a == '[') {
		const char *close = memchr(a, ']', len);
		if (!close)
			return url_fail(why, "unterminated [IPv6 address] in the kubelet URL");
		host = a + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < end && close[1] != ':')
			return url_fail(why, "junk after the [IPv6 address] in the kubelet URL");
		port = close + 1 < end ? close + 2 : NULL;
	} else {
		const char *colon = memchr(a, ':', len);
		hlen = colon ? (size_t)(colon - a) : len;
		port = colon ? colon + 1 : NULL;
		for (size_t i = 0; i < hlen; i++)
			if (!host_char_ok(a[i]))
				return url_fail(why, "the kubelet URL's host may hold only letters, digits, '-' and '.'");
	}
	if (hlen == 0 || hlen > 253)
		return url_fail(why, "the kubelet URL's host is empty or too long");
	t->host = strndup(host, hlen);
	t->port = port ? strndup(port, (size_t)(end - port)) : strdup(DEFAULT_PORT);
	if (!t->host || !t->port)
		return -ENOMEM;
	if (parse_u64(t->port, 1, 65535, &pnum) < 0)
		return url_fail(why, "the kubelet URL's port must be 1..65535");
	t->host_is_ip = inet_pton(AF_INET, t->host, addr) == 1 || inet_pton(AF_INET6, t->host, addr) == 1;
	if (*a == '[' && !strchr(t->host, ':'))
		return url_fail(why, "only an IPv6 address goes in [brackets]");
	if (asprintf(&t->host_header, *a == '[' ? "[%s]:%s" : "%s:%s", t->host, t->port) < 0) {
		t->host_header = NULL;
		return -ENOMEM;
	}
	return 0;
}

int kubelet_url_parse(const char *url, struct kwid_kubelet_target *t, const char **why)
{
	const char *a, *slash;
	int r;

	if (!startswith(url, "https://"))
		return url_fail(why, "the kubelet URL must start with https://");
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
			return url_fail(why, "the kubelet URL holds a space, a control character, '#' or non-ASCII");
	t->url = strdup(url);
	if (!t->url)
		return -ENOMEM;
	a = url + strlen("https://");
	slash = strchr(a, '/');
	if (slash && strchr(a, '?') && strchr(a, '?') < slash)
		return url_fail(why, "the kubelet URL's query must follow a path");
	r = parse_authority(a, slash ? (size_t)(slash - a) : strlen(a), t, why);
	if (r < 0)
		return r;
	t->path = strdup(slash && slash[1] ? slash : DEFAULT_PATH);
	return t->path ? 0 : -ENOMEM;
}

/* ---- errors ---- */

static int fetch_fail(char *err, size_t errlen, int r, const char *fmt, ...) _printf_(4, 5);
static int fetch_fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

/* The oldest queued OpenSSL error, or fallback. */
static const char *ssl_error_text(char *buf, size_t len, const char *fallback)
{
	unsigned long e = ERR_peek_error();

	if (!e)
		return fallback;
	ERR_error_string_n(e, buf, len);
	return buf;
}

/* ---- waiting ---- */

/* Wait until fd is ready for events, the deadline (CLOCK_MONOTONIC) passes
 * (-ETIMEDOUT) or cancel_fd is readable (-ECANCELED). */
static int wait_fd(int fd, short events, int cancel_fd, uint64_t deadline_ns)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = cancel_fd, .events = POLLIN}};
		uint64_t now = now_mono_ns();
		int n;

		if (now >= deadline_ns)
			return -ETIMEDOUT;
		n = poll(p, cancel_fd >= 0 ? 2 : 1, (int)MIN((deadline_ns - now + 999999) / 1000000, (uint64_t)INT32_MAX));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (cancel_fd >= 0 && (p[1].revents & POLLIN))
			return -ECANCELED;
		if (n > 0)
			return 0;
	}
}

/* After an SSL call returned ret: wait as OpenSSL asks and return 0 to
 * retry the call, or -errno. */
static int ssl_wait(SSL *ssl, int ret, int fd, int cancel_fd, uint64_t deadline_ns)
{
	switch (SSL_get_error(ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(fd, POLLIN, cancel_fd, deadline_ns);
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(fd, POLLOUT, cancel_fd, deadline_ns);
	case SSL_ERROR_ZERO_RETURN:
		return -ECONNRESET;
	case SSL_ERROR_SYSCALL:
		return errno ? -errno : -EPIPE;
	default:
		return -EPROTO;
	}
}

/* ---- connecting ---- */

static int connect_one(const struct addrinfo *ai, int cancel_fd, uint64_t deadline_ns, int *out)
{
	_cleanup_close_ int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	int r, soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS)
			return -errno;
		r = wait_fd(fd, POLLOUT, cancel_fd, deadline_ns);
		if (r < 0)
			return r;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return -errno;
		if (soerr)
			return -soerr;
	}
	*out = TAKE_FD(fd);
	return 0;
}

static int connect_target(const struct kwid_kubelet_target *t, int cancel_fd, uint64_t deadline_ns, int *out,
			  char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
	int r, g;

	if (t->host_is_ip)
		hints.ai_flags |= AI_NUMERICHOST;
	g = getaddrinfo(t->host, t->port, &hints, &res);
	if (g != 0)
		return fetch_fail(err, errlen, -EHOSTUNREACH, "cannot resolve %s: %s", t->host, gai_strerror(g));
	r = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		r = connect_one(ai, cancel_fd, deadline_ns, out);
		if (r == 0 || r == -ECANCELED || r == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (r < 0 && r != -ECANCELED)
		fetch_fail(err, errlen, r, "cannot connect to %s: %s", t->host_header, strerror(-r));
	return r;
}

/* ---- TLS ---- */

static void ssl_ctx_freep(SSL_CTX **c)
{
	SSL_CTX_free(*c);
}

static void ssl_freep(SSL **s)
{
	SSL_free(*s);
}

static int tls_context(const struct kwid_kubelet_target *t, SSL_CTX **out, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char buf[256];

	if (!ctx)
		return fetch_fail(err, errlen, -ENOMEM, "cannot create a TLS context");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (t->skip_verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	} else {
		/* Only the configured CA: the system's roots never vouch for a kubelet. */
		if (SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL) != 1) {
			fetch_fail(err, errlen, -EINVAL, "cannot load the CA file %s: %s", t->ca_file,
				   ssl_error_text(buf, sizeof(buf), "no certificate in it"));
			SSL_CTX_free(ctx);
			return -EINVAL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	*out = ctx;
	return 0;
}

static int tls_handshake(const struct kwid_kubelet_target *t, SSL *ssl, int fd, int cancel_fd, uint64_t deadline_ns,
			 char *err, size_t errlen)
{
	char buf[256];
	int r;

	if (!t->host_is_ip && SSL_set_tlsext_host_name(ssl, t->host) != 1)
		return fetch_fail(err, errlen, -EINVAL, "cannot set the TLS server name %s", t->host);
	if (!t->skip_verify) {
		/* The certificate must name what the URL names. */
		int ok = t->host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), t->host)
				       : SSL_set1_host(ssl, t->host);
		if (ok != 1)
			return fetch_fail(err, errlen, -EINVAL, "cannot set the expected name %s", t->host);
	}
	SSL_set_fd(ssl, fd);
	for (;;) {
		int ret = SSL_connect(ssl);
		if (ret == 1)
			return 0;
		r = ssl_wait(ssl, ret, fd, cancel_fd, deadline_ns);
		if (r == 0)
			continue;
		if (r == -ECANCELED)
			return r;
		if (SSL_get_verify_result(ssl) != X509_V_OK)
			return fetch_fail(err, errlen, -EPERM, "the kubelet's certificate is not trusted: %s",
					  X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
		return fetch_fail(err, errlen, r, "TLS handshake with %s failed: %s", t->host_header,
				  r == -ETIMEDOUT ? "timed out" : ssl_error_text(buf, sizeof(buf), strerror(-r)));
	}
}

static int tls_write_all(SSL *ssl, int fd, const char *data, size_t len, int cancel_fd, uint64_t deadline_ns)
{
	while (len > 0) {
		size_t n = 0;
		int ret = SSL_write_ex(ssl, data, len, &n);
		if (ret == 1) {
			data += n;
			len -= n;
			continue;
		}
		int r = ssl_wait(ssl, ret, fd, cancel_fd, deadline_ns);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the request ---- */

/* The token, trimmed; it must be one header-safe word. */
static int read_token(const char *path, char **out, char *err, size_t errlen)
{
	_cleanup_free_ char *tok = NULL;
	size_t len = 0;
	int r = read_file(path, TOKEN_MAX, &tok, &len);

	if (r < 0)
		return fetch_fail(err, errlen, r, "cannot read the token file %s: %s", path, strerror(-r));
	while (len > 0 && strchr(" \t\r\n", tok[len - 1]))
		tok[--len] = '\0';
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)tok[i] <= 0x20 || (unsigned char)tok[i] >= 0x7f) {
			explicit_bzero(tok, len);
			return fetch_fail(err, errlen, -EINVAL, "the token file %s holds bytes a bearer token cannot hold",
					  path);
		}
	}
	if (len == 0)
		return fetch_fail(err, errlen, -EINVAL, "the token file %s is empty", path);
	*out = TAKE_PTR(tok);
	return 0;
}

static int build_request(const struct kwid_kubelet_target *t, char **out, size_t *len, char *err, size_t errlen)
{
	_cleanup_free_ char *token = NULL;
	int n, r;

	if (t->token_file) {
		r = read_token(t->token_file, &token, err, errlen);
		if (r < 0)
			return r;
	}
	n = asprintf(out,
		     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kwid-agent/" KWID_VERSION
		     "\r\nAccept: application/json\r\n%s%s%sConnection: close\r\n\r\n",
		     t->path, t->host_header, token ? "Authorization: Bearer " : "", token ? token : "",
		     token ? "\r\n" : "");
	if (token)
		explicit_bzero(token, strlen(token));
	if (n < 0) {
		*out = NULL;
		return fetch_fail(err, errlen, -ENOMEM, "out of memory");
	}
	*len = (size_t)n;
	return 0;
}

/* Read the response until it is complete, the connection ends or the
 * bound is reached; *resp then holds the parsed answer (into *buf). */
static int read_response(const struct kwid_kubelet_target *t, SSL *ssl, int fd, int cancel_fd, uint64_t deadline_ns,
			 char **buf, struct http_response *resp, char *err, size_t errlen)
{
	size_t cap = 0, len = 0, max = t->max_response_bytes + HTTP_HEAD_MAX;
	const char *why = "?";
	char sslerr[256];

	for (;;) {
		size_t n = 0;
		bool eof = false;
		int ret, r;

		if (len == max)
			return fetch_fail(err, errlen, -EFBIG, "the answer is larger than max_response_bytes (%zu)",
					  t->max_response_bytes);
		if (cap - len < READ_CHUNK && cap < max) {
			size_t ncap = MIN(MAX(cap * 2, (size_t)READ_CHUNK * 2), max);
			char *nb = realloc(*buf, ncap + 1);
			if (!nb)
				return fetch_fail(err, errlen, -ENOMEM, "out of memory for the answer");
			*buf = nb;
			cap = ncap;
		}
		ERR_clear_error();
		errno = 0;
		ret = SSL_read_ex(ssl, *buf + len, cap - len, &n);
		if (ret == 1) {
			len += n;
		} else if (SSL_get_error(ssl, ret) == SSL_ERROR_ZERO_RETURN) {
			eof = true; /* close_notify: the answer ends here for sure */
		} else {
			r = ssl_wait(ssl, ret, fd, cancel_fd, deadline_ns);
			if (r == -ETIMEDOUT || r == -ECANCELED)
				return fetch_fail(err, errlen, r, "reading the answer of %s: %s", t->host_header,
						  r == -ETIMEDOUT ? "timed out" : "cancelled");
			if (r < 0) {
				/* Ended without close_notify: acceptable only for a
				 * framed body that is complete. */
				if (len > 0 && http_response_parse(*buf, len, false, t->max_response_bytes, resp, &why) == 0)
					return 0;
				return fetch_fail(err, errlen, -EPIPE, "the connection to %s ended early: %s",
						  t->host_header, ssl_error_text(sslerr, sizeof(sslerr), strerror(-r)));
			}
			continue;
		}
		(*buf)[len] = '\0';
		r = http_response_parse(*buf, len, eof, t->max_response_bytes, resp, &why);
		if (r == 0)
			return 0;
		if (r == -EFBIG)
			return fetch_fail(err, errlen, r, "the answer is larger than max_response_bytes (%zu)",
					  t->max_response_bytes);
		if (r != -EAGAIN)
			return fetch_fail(err, errlen, r, "malformed HTTP answer from %s: %s", t->host_header, why);
		if (eof)
			return fetch_fail(err, errlen, -EPIPE, "the connection to %s ended early", t->host_header);
	}
}

int kubelet_http_get(const struct kwid_kubelet_target *t, int cancel_fd, char **body, size_t *body_len, char *err,
		     size_t errlen)
{
	_cleanup_(ssl_ctx_freep) SSL_CTX *ctx = NULL;
	_cleanup_(ssl_freep) SSL *ssl = NULL;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *req = NULL, *buf = NULL;
	uint64_t start = now_mono_ns(), deadline = start + t->timeout_ms * 1000000ull;
	struct http_response resp;
	size_t req_len = 0;
	int r;

	ERR_clear_error();
	r = build_request(t, &req, &req_len, err, errlen);
	if (r < 0)
		return r;
	r = tls_context(t, &ctx, err, errlen);
	if (r < 0)
		goto out;
	r = connect_target(t, cancel_fd, MIN(deadline, start + t->connect_timeout_ms * 1000000ull), &fd, err, errlen);
	if (r < 0)
		goto out;
	ssl = SSL_new(ctx);
	if (!ssl) {
		r = fetch_fail(err, errlen, -ENOMEM, "cannot create a TLS connection");
		goto out;
	}
	r = tls_handshake(t, ssl, fd, cancel_fd, deadline, err, errlen);
	if (r < 0)
		goto out;
	r = tls_write_all(ssl, fd, req, req_len, cancel_fd, deadline);
	if (r < 0) {
		fetch_fail(err, errlen, r, "cannot send the request to %s: %s", t->host_header, strerror(-r));
		goto out;
	}
	r = read_response(t, ssl, fd, cancel_fd, deadline, &buf, &resp, err, errlen);
	if (r < 0)
		goto out;
	if (resp.status != 200) {
		r = fetch_fail(err, errlen, resp.status == 401 || resp.status == 403 ? -EACCES : -EPROTO,
			       "the kubelet answered HTTP %d %s", resp.status, resp.reason);
		goto out;
	}
	memmove(buf, resp.body, resp.body_len);
	buf[resp.body_len] = '\0';
	*body = TAKE_PTR(buf);
	*body_len = resp.body_len;
out:
	if (req)
		explicit_bzero(req, req_len);
	if (r == -ECANCELED)
		fetch_fail(err, errlen, r, "cancelled");
	ERR_clear_error();
	return r;
}
