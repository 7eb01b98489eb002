/* wlapi_bench.c - driver of bench/bench_wlapi.sh.
 *
 *   wlapi_bench latency SOCKET N
 *       N times: connect, FetchX509SVID, wait for the first response, close.
 *       Prints "p50_us p99_us" of the whole round trip. The caller is this
 *       process: the script runs padded copies of this binary.
 *   wlapi_bench spire-baseline N
 *       What the SPIRE agent's unix attestor does on every call, for this
 *       process: read /proc/<pid>/status, readlink /proc/<pid>/exe, SHA-256
 *       the whole executable. Prints "p50_us p99_us".
 *   wlapi_bench streams SOCKET CLIENTS DIR
 *       CLIENTS connections, one FetchX509SVID stream each (one epoll
 *       loop, nghttp2 sessions). Once every first message arrived, writes
 *       DIR/ready; then waits for DIR/trigger, which holds the time
 *       (CLOCK_REALTIME ns) the change was triggered, and until every stream
 *       got a second message. Prints "clients trigger_to_last_ms
 *       first_to_last_ms". */
#include "kwid/grpc.h"
#include "kwid/grpc_client.h"
#include "kwid/sockutil.h"
#include "kwid/util.h"

#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>
#include <sys/epoll.h>
#include <sys/stat.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void print_percentiles(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("%.1f %.1f\n", v[n / 2] / 1000.0, v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0);
}

/* ---- latency of the first FetchX509SVID response on a new connection ---- */

static int first_message(void *ud, const uint8_t *msg, size_t len)
{
	*(size_t *)ud = len;
	return 1;
}

static int bench_latency(const char *sock, size_t n)
{
	uint64_t *t = calloc(n, sizeof(*t));
	uint8_t empty[1];

	if (!t)
		return 1;
	for (size_t i = 0; i < n; i++) {
		struct grpc_client *c;
		char *message = NULL;
		size_t got = 0;
		int status = -1, r;
		uint64_t start = now_mono_ns();

		r = grpc_client_connect(sock, &c);
		if (r == 0)
			r = grpc_client_call(c, "/SpiffeWorkloadAPI/FetchX509SVID", empty, 0, first_message, &got, 5000,
					     &status, &message);
		t[i] = now_mono_ns() - start;
		grpc_client_free(c);
		if (r < 0 || got == 0) {
			fprintf(stderr, "call %zu failed: %s status %d %s\n", i, strerror(-r), status,
				message ? message : "");
			return 1;
		}
		free(message);
	}
	print_percentiles(t, n);
	free(t);
	return 0;
}

/* ---- the SPIRE unix attestor's per-call work, as a baseline ---- */

static int spire_attest_once(pid_t pid)
{
	char path[64], target[4096], buf[1 << 16];
	_cleanup_free_ char *status = NULL;
	unsigned char md[32];
	unsigned mdlen;
	EVP_MD_CTX *ctx;
	ssize_t n;
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	r = read_file(path, 1 << 20, &status, NULL);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (readlink(path, target, sizeof(target) - 1) < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	close(fd);
	return n < 0 ? -errno : 0;
}

static int bench_baseline(size_t n)
{
	uint64_t *t = calloc(n, sizeof(*t));

	if (!t)
		return 1;
	for (size_t i = 0; i < n; i++) {
		uint64_t start = now_mono_ns();
		if (spire_attest_once(getpid()) < 0)
			return 1;
		t[i] = now_mono_ns() - start;
	}
	print_percentiles(t, n);
	free(t);
	return 0;
}

/* ---- many concurrent streams ---- */

struct client {
	int fd;
	nghttp2_session *s;
	uint8_t buf[8192];
	size_t buf_len;	 /* bytes of the current message held (prefix included, capped) */
	uint32_t need;	 /* message length from the prefix */
	unsigned msgs;
	uint64_t t_second; /* CLOCK_REALTIME of the second message */
	bool ended;
};

static ssize_t c_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
	struct client *c = ud;
	ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
	return n;
}

static ssize_t c_recv(nghttp2_session *s, uint8_t *buf, size_t len, int flags, void *ud)
{
	struct client *c = ud;
	ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
	return n == 0 ? NGHTTP2_ERR_EOF : n;
}

/* Count whole gRPC messages; contents are not needed. */
static int c_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
	struct client *c = ud;

	while (len > 0) {
		if (c->buf_len < 5) {
			size_t k = MIN(len, 5 - c->buf_len);
			memcpy(c->buf + c->buf_len, data, k);
			c->buf_len += k;
			data += k;
			len -= k;
			if (c->buf_len == 5)
				c->need = (uint32_t)c->buf[1] << 24 | (uint32_t)c->buf[2] << 16 |
					  (uint32_t)c->buf[3] << 8 | c->buf[4];
		} else {
			size_t k = MIN(len, (size_t)c->need);
			c->need -= (uint32_t)k;
			data += k;
			len -= k;
		}
		if (c->buf_len == 5 && c->need == 0) {
			c->msgs++;
			if (c->msgs == 2)
				c->t_second = now_real_ns();
			c->buf_len = 0;
		}
	}
	return 0;
}

static int c_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	((struct client *)ud)->ended = true;
	return 0;
}

static ssize_t c_req(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
		     nghttp2_data_source *src, void *ud)
{
	memset(buf, 0, 5);
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	return 5;
}

static int client_open(struct client *c, const char *sock, nghttp2_session_callbacks *cbs)
{
	nghttp2_nv nv[] = {
		{(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
		{(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
		{(uint8_t *)":path", (uint8_t *)"/SpiffeWorkloadAPI/FetchX509SVID", 5, 32, 0},
		{(uint8_t *)":authority", (uint8_t *)"localhost", 10, 9, 0},
		{(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0},
		{(uint8_t *)"te", (uint8_t *)"trailers", 2, 8, 0},
		{(uint8_t *)"workload.spiffe.io", (uint8_t *)"true", 18, 4, 0},
	};
	nghttp2_data_provider prd = {.read_callback = c_req};

	c->fd = unix_connect(sock);
	if (c->fd < 0)
		return c->fd;
	if (nghttp2_session_client_new(&c->s, cbs, c) != 0 || nghttp2_submit_settings(c->s, 0, NULL, 0) != 0 ||
	    nghttp2_submit_request(c->s, NULL, nv, ARRAY_SIZE(nv), &prd, NULL) < 0)
		return -ENOMEM;
	return nghttp2_session_send(c->s) == 0 ? 0 : -EIO;
}

static bool all_have(struct client *cl, size_t n, unsigned msgs)
{
	for (size_t i = 0; i < n; i++)
		if (cl[i].msgs < msgs)
			return false;
	return true;
}

static int bench_streams(const char *sock, size_t n, const char *dir)
{
	_cleanup_free_ char *trigger = NULL;
	struct client *cl = calloc(n, sizeof(*cl));
	nghttp2_session_callbacks *cbs;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	uint64_t t_trigger = 0, t_first = UINT64_MAX, t_last = 0, deadline;
	bool readied = false;

	if (!cl || ep < 0 || nghttp2_session_callbacks_new(&cbs) != 0 || asprintf(&trigger, "%s/trigger", dir) < 0)
		return 1;
	nghttp2_session_callbacks_set_send_callback(cbs, c_send);
	nghttp2_session_callbacks_set_recv_callback(cbs, c_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, c_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, c_close);
	for (size_t i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cl[i]};
		int r = client_open(&cl[i], sock, cbs);
		if (r < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev) < 0) {
			fprintf(stderr, "client %zu: cannot open: %s\n", i, strerror(r < 0 ? -r : errno));
			return 1;
		}
	}
	deadline = now_mono_ns() + 120ull * 1000000000;
	while (now_mono_ns() < deadline) {
		struct epoll_event evs[256];
		int k = epoll_wait(ep, evs, 256, 20);

		for (int i = 0; i < k; i++) {
			struct client *c = evs[i].data.ptr;
			if (nghttp2_session_recv(c->s) != 0 || nghttp2_session_send(c->s) != 0 || c->ended) {
				fprintf(stderr, "a stream ended (messages: %u)\n", c->msgs);
				return 1;
			}
		}
		if (!readied && all_have(cl, n, 1)) {
			write_file_atomic(dir, "ready", "1", 1, 0644);
			readied = true;
		}
		if (readied && !t_trigger && access(trigger, F_OK) == 0) {
			_cleanup_free_ char *text = NULL;
			if (read_file(trigger, 64, &text, NULL) == 0)
				t_trigger = strtoull(text, NULL, 10);
		}
		if (t_trigger && all_have(cl, n, 2))
			break;
	}
	if (!t_trigger || !all_have(cl, n, 2)) {
		fprintf(stderr, "timed out\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		t_first = MIN(t_first, cl[i].t_second);
		t_last = MAX(t_last, cl[i].t_second);
	}
	printf("%zu %.1f %.1f\n", n, (t_last - MIN(t_trigger, t_first)) / 1e6, (t_last - t_first) / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n;

	if (argc == 4 && streq(argv[1], "latency") && parse_u64(argv[3], 1, 1000000, &n) == 0)
		return bench_latency(argv[2], n);
	if (argc == 3 && streq(argv[1], "spire-baseline") && parse_u64(argv[2], 1, 1000000, &n) == 0)
		return bench_baseline(n);
	if (argc == 5 && streq(argv[1], "streams") && parse_u64(argv[3], 1, 100000, &n) == 0)
		return bench_streams(argv[2], n, argv[4]);
	fprintf(stderr, "usage: see the comment at the top of bench/wlapi_bench.c\n");
	return 2;
}
