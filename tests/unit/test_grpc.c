/* test_grpc.c - the gRPC server framing (grpc_server.c) against a real
 * nghttp2 client session, bytes pumped in memory: request dispatch, the
 * captured security header, response messages and trailers, trailers-only
 * errors, the newest-replaces-pending rule for a slow reader, limits,
 * requests under a grpc-encoding the server does not have. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <nghttp2/nghttp2.h>

#include "kwid/grpc.h"
#include "kwid/util.h"

struct peer {
	/* server side */
	struct grpc_conn *srv;
	uint8_t s2c[1 << 20];
	size_t s2c_len;
	bool stall; /* the client does not read: server writes get -EAGAIN */
	/* what the server saw */
	int requests, cancels;
	int32_t last_stream;
	char path[GRPC_PATH_MAX + 1];
	unsigned captured_count;
	char captured[64];
	uint8_t msg[256];
	size_t msg_len;
	/* client side */
	nghttp2_session *cli;
	uint8_t body[1 << 16];
	size_t body_len;
	char status[16], grpc_status[8], grpc_message[256], accept_encoding[32];
	bool closed;
	uint32_t rst_code;
};

static ssize_t srv_write(void *ud, const uint8_t *data, size_t len)
{
	struct peer *p = ud;

	if (p->stall)
		return -EAGAIN;
	assert_true(p->s2c_len + len <= sizeof(p->s2c));
	memcpy(p->s2c + p->s2c_len, data, len);
	p->s2c_len += len;
	return (ssize_t)len;
}

static void srv_request(void *ud, struct grpc_conn *c, int32_t id, const struct grpc_request *req)
{
	struct peer *p = ud;

	p->requests++;
	p->last_stream = id;
	strscpy(p->path, req->path, sizeof(p->path));
	p->captured_count = req->captured_count;
	strscpy(p->captured, req->captured ? req->captured : "", sizeof(p->captured));
	assert_true(req->len <= sizeof(p->msg));
	memcpy(p->msg, req->msg, req->len);
	p->msg_len = req->len;
}

static void srv_cancel(void *ud, struct grpc_conn *c, int32_t id)
{
	((struct peer *)ud)->cancels++;
}

static const struct grpc_conn_ops ops = {
	.capture_header = "workload.spiffe.io",
	.write = srv_write,
	.on_request = srv_request,
	.on_cancel = srv_cancel,
};

static const struct grpc_limits limits = {
	.max_message_bytes = 1024, .max_streams = 2, .max_header_bytes = 2048, .max_response_bytes = 4096,
};

static int cli_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		      const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	struct peer *p = ud;

	if (nl == 7 && !memcmp(name, ":status", 7))
		strscpy(p->status, (const char *)value, sizeof(p->status));
	else if (nl == 11 && !memcmp(name, "grpc-status", 11))
		strscpy(p->grpc_status, (const char *)value, sizeof(p->grpc_status));
	else if (nl == 12 && !memcmp(name, "grpc-message", 12))
		strscpy(p->grpc_message, (const char *)value, sizeof(p->grpc_message));
	else if (nl == 20 && !memcmp(name, "grpc-accept-encoding", 20))
		strscpy(p->accept_encoding, (const char *)value, sizeof(p->accept_encoding));
	return 0;
}

static int cli_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
	struct peer *p = ud;

	assert_true(p->body_len + len <= sizeof(p->body));
	memcpy(p->body + p->body_len, data, len);
	p->body_len += len;
	return 0;
}

static int cli_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	struct peer *p = ud;

	p->closed = true;
	p->rst_code = code;
	return 0;
}

static void peer_init(struct peer *p)
{
	nghttp2_session_callbacks *cbs;

	memset(p, 0, sizeof(*p));
	assert_int_equal(grpc_conn_new(&limits, &ops, p, &p->srv), 0);
	assert_int_equal(nghttp2_session_callbacks_new(&cbs), 0);
	nghttp2_session_callbacks_set_on_header_callback(cbs, cli_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cli_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cli_close);
	assert_int_equal(nghttp2_session_client_new(&p->cli, cbs, p), 0);
	nghttp2_session_callbacks_del(cbs);
	assert_int_equal(nghttp2_submit_settings(p->cli, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

static void peer_free(struct peer *p)
{
	grpc_conn_free(p->srv);
	nghttp2_session_del(p->cli);
}

/* Move bytes both ways until neither side has anything to say. */
static void pump(struct peer *p)
{
	for (int round = 0; round < 64; round++) {
		const uint8_t *data;
		ssize_t n;
		bool moved = false;

		while ((n = nghttp2_session_mem_send(p->cli, &data)) > 0) {
			assert_int_equal(grpc_conn_recv(p->srv, data, (size_t)n), 0);
			moved = true;
		}
		assert_int_equal(grpc_conn_flush(p->srv), 0);
		if (p->s2c_len && !p->stall) {
			assert_int_equal(nghttp2_session_mem_recv(p->cli, p->s2c, p->s2c_len), (ssize_t)p->s2c_len);
			p->s2c_len = 0;
			moved = true;
		}
		if (!moved)
			return;
	}
	fail_msg("pump did not settle");
}

static ssize_t req_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			nghttp2_data_source *src, void *ud)
{
	const uint8_t *msg = src->ptr;
	/* Well-formed messages (compressed or not) carry their length;
	 * malformed ones are sent as their 5-byte prefix alone. */
	size_t n = 5 + (msg[0] <= 1 && msg[1] == 0 && msg[2] == 0 ? ((size_t)msg[3] << 8 | msg[4]) : 0);

	assert_true(n <= len);
	memcpy(buf, msg, n);
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

#define NVS(n, v) \
	{ (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE }

/* A request with `nsec` security headers and, unless NULL, grpc-encoding. */
static int32_t request_encoded(struct peer *p, const char *path, const char *secval, int nsec,
			       const char *encoding, const uint8_t *framed)
{
	nghttp2_nv nv[8] = {
		NVS(":method", "POST"), NVS(":scheme", "http"), NVS(":path", path),
		NVS(":authority", "localhost"), NVS("content-type", "application/grpc"),
	};
	size_t n = 5;
	nghttp2_data_provider prd = {.source.ptr = (void *)framed, .read_callback = req_read};

	for (int i = 0; i < nsec; i++)
		nv[n++] = (nghttp2_nv)NVS("workload.spiffe.io", secval);
	if (encoding)
		nv[n++] = (nghttp2_nv)NVS("grpc-encoding", encoding);
	return nghttp2_submit_request(p->cli, NULL, nv, n, &prd, NULL);
}

static int32_t request(struct peer *p, const char *path, const char *secval, int nsec, const uint8_t *framed)
{
	return request_encoded(p, path, secval, nsec, NULL, framed);
}

static const uint8_t empty_msg[] = {0, 0, 0, 0, 0};

static void test_request_and_stream(void **state)
{
	struct peer p;
	int32_t id;

	peer_init(&p);
	id = request(&p, "/SpiffeWorkloadAPI/FetchX509SVID", "true", 1, empty_msg);
	pump(&p);
	assert_int_equal(p.requests, 1);
	assert_string_equal(p.path, "/SpiffeWorkloadAPI/FetchX509SVID");
	assert_int_equal(p.captured_count, 1);
	assert_string_equal(p.captured, "true");
	assert_int_equal(p.msg_len, 0);
	assert_int_equal(grpc_conn_active_streams(p.srv), 1);

	/* Two messages, each delivered: the reader keeps up. */
	assert_int_equal(grpc_conn_send(p.srv, id, (const uint8_t *)"abc", 3), 0);
	pump(&p);
	assert_int_equal(grpc_conn_send(p.srv, id, (const uint8_t *)"defg", 4), 0);
	pump(&p);
	assert_int_equal(p.body_len, 5 + 3 + 5 + 4);
	assert_memory_equal(p.body, "\0\0\0\0\3abc\0\0\0\0\4defg", p.body_len);
	assert_string_equal(p.status, "200");
	assert_false(p.closed);

	assert_int_equal(grpc_conn_finish(p.srv, id, GRPC_STATUS_PERMISSION_DENIED, "no identity: 100%"), 0);
	pump(&p);
	assert_string_equal(p.grpc_status, "7");
	assert_string_equal(p.grpc_message, "no identity: 100%25");
	assert_true(p.closed);
	assert_int_equal(grpc_conn_active_streams(p.srv), 0);
	assert_int_equal(grpc_conn_send(p.srv, id, (const uint8_t *)"x", 1), -ENOENT);
	peer_free(&p);
}

static void test_slow_reader_gets_newest(void **state)
{
	struct peer p;
	int32_t id;

	peer_init(&p);
	id = request(&p, "/SpiffeWorkloadAPI/FetchX509SVID", "true", 1, empty_msg);
	pump(&p);
	/* The client stops reading: three updates arrive, only the newest
	 * survives. */
	p.stall = true;
	assert_int_equal(grpc_conn_send(p.srv, id, (const uint8_t *)"one", 3), 0);
	assert_int_equal(grpc_conn_send(p.srv, id, (const uint8_t *)"two", 3), 0);
	assert_int_equal(grpc_conn_send(p.srv, id, (const uint8_t *)"three", 5), 0);
	pump(&p);
	p.stall = false;
	pump(&p);
	assert_int_equal(p.body_len, 5 + 5);
	assert_memory_equal(p.body, "\0\0\0\0\5three", 10);
	assert_int_equal(grpc_conn_send(p.srv, id, NULL, 5000), -EMSGSIZE);
	peer_free(&p);
}

static void test_trailers_only_and_header_count(void **state)
{
	struct peer p;
	int32_t id;

	peer_init(&p);
	id = request(&p, "/SpiffeWorkloadAPI/FetchJWTBundles", "true", 2, empty_msg);
	pump(&p);
	assert_int_equal(p.captured_count, 2);
	assert_int_equal(grpc_conn_finish(p.srv, id, GRPC_STATUS_INVALID_ARGUMENT, "security header missing"), 0);
	pump(&p);
	assert_string_equal(p.status, "200");
	assert_string_equal(p.grpc_status, "3");
	assert_string_equal(p.grpc_message, "security header missing");
	assert_int_equal(p.body_len, 0);
	assert_true(p.closed);
	peer_free(&p);
}

static void test_cancel_reported(void **state)
{
	struct peer p;
	int32_t id;

	peer_init(&p);
	id = request(&p, "/SpiffeWorkloadAPI/FetchX509SVID", "true", 1, empty_msg);
	pump(&p);
	assert_int_equal(nghttp2_submit_rst_stream(p.cli, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL), 0);
	pump(&p);
	assert_int_equal(p.cancels, 1);
	assert_int_equal(grpc_conn_active_streams(p.srv), 0);
	peer_free(&p);
}

static void test_framing_errors(void **state)
{
	static const uint8_t huge[] = {0, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t compressed[] = {1, 0, 0, 0, 0};
	struct peer p;

	peer_init(&p);
	request(&p, "/SpiffeWorkloadAPI/FetchX509SVID", "true", 1, huge);
	pump(&p);
	assert_int_equal(p.requests, 0);
	assert_string_equal(p.grpc_status, "8"); /* RESOURCE_EXHAUSTED */
	assert_true(grpc_conn_protocol_error(p.srv));
	assert_true(grpc_conn_done(p.srv)); /* GOAWAY sent: the connection closes */
	peer_free(&p);

	/* The compressed flag without a grpc-encoding is malformed: INTERNAL,
	 * as gRPC's compression spec says, and the connection closes. */
	peer_init(&p);
	request(&p, "/SpiffeWorkloadAPI/FetchX509SVID", "true", 1, compressed);
	pump(&p);
	assert_int_equal(p.requests, 0);
	assert_string_equal(p.grpc_status, "13"); /* INTERNAL */
	assert_true(grpc_conn_protocol_error(p.srv));
	assert_true(grpc_conn_done(p.srv));
	peer_free(&p);
}

/* What grpc-js sends with a default compression algorithm: grpc-encoding
 * gzip and a compressed message. The server has identity only: the call
 * is UNIMPLEMENTED with grpc-accept-encoding in real response headers (not
 * trailers-only, where grpc-js would not look), and the connection keeps
 * serving the uncompressed call that follows. */
static void test_unsupported_encoding(void **state)
{
	static const uint8_t gzipped[] = {1, 0, 0, 0, 3, 'x', 'y', 'z'};
	struct peer p;
	int32_t id;

	peer_init(&p);
	id = request(&p, "/SpiffeWorkloadAPI/FetchX509SVID", "true", 1, empty_msg);
	pump(&p);
	assert_int_equal(p.requests, 1);
	request_encoded(&p, "/SpiffeWorkloadAPI/FetchJWTSVID", "true", 1, "gzip", gzipped);
	pump(&p);
	assert_int_equal(p.requests, 1);
	assert_string_equal(p.status, "200");
	assert_string_equal(p.accept_encoding, "identity");
	assert_string_equal(p.grpc_status, "12"); /* UNIMPLEMENTED */
	assert_non_null(strstr(p.grpc_message, "grpc-encoding not supported"));
	assert_true(p.closed);
	assert_false(grpc_conn_protocol_error(p.srv));
	assert_false(grpc_conn_done(p.srv));
	/* The stream opened before is untouched, and a new call is served. */
	assert_int_equal(grpc_conn_send(p.srv, id, (const uint8_t *)"abc", 3), 0);
	request(&p, "/SpiffeWorkloadAPI/FetchJWTSVID", "true", 1, empty_msg);
	pump(&p);
	assert_int_equal(p.requests, 2);
	assert_int_equal(p.body_len, 5 + 3);
	assert_int_equal(grpc_conn_active_streams(p.srv), 2);
	peer_free(&p);
}

static void test_stream_limit(void **state)
{
	struct peer p;

	peer_init(&p);
	for (int i = 0; i < 3; i++)
		request(&p, "/SpiffeWorkloadAPI/FetchX509SVID", "true", 1, empty_msg);
	pump(&p);
	/* max_streams = 2: the third is refused, the connection lives. */
	assert_int_equal(p.requests, 2);
	assert_true(p.closed);
	assert_int_equal(p.rst_code, NGHTTP2_REFUSED_STREAM);
	assert_false(grpc_conn_done(p.srv));
	peer_free(&p);
}

static void test_graceful_goaway(void **state)
{
	struct peer p;
	int32_t id;

	peer_init(&p);
	id = request(&p, "/SpiffeWorkloadAPI/FetchX509SVID", "true", 1, empty_msg);
	pump(&p);
	grpc_conn_finish(p.srv, id, GRPC_STATUS_PERMISSION_DENIED, "exec'd");
	grpc_conn_goaway(p.srv);
	pump(&p);
	assert_string_equal(p.grpc_status, "7");
	assert_true(grpc_conn_done(p.srv));
	assert_false(grpc_conn_protocol_error(p.srv));
	peer_free(&p);
}

static void test_percent_encoding(void **state)
{
	char out[64];

	assert_int_equal(grpc_percent_encode("a b%c\n\xc3\xa9", out, sizeof(out)), 16);
	assert_string_equal(out, "a b%25c%0A%C3%A9");
	grpc_percent_decode(out);
	assert_string_equal(out, "a b%c\n\xc3\xa9");
	/* Truncation keeps whole escapes. */
	assert_int_equal(grpc_percent_encode("ab\n", out, 5), 2);
	assert_string_equal(out, "ab");
	strcpy(out, "bad %zz %4");
	grpc_percent_decode(out);
	assert_string_equal(out, "bad %zz %4");
	assert_string_equal(grpc_status_name(14), "UNAVAILABLE");
	assert_string_equal(grpc_status_name(99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_and_stream),
		cmocka_unit_test(test_slow_reader_gets_newest),
		cmocka_unit_test(test_trailers_only_and_header_count),
		cmocka_unit_test(test_cancel_reported),
		cmocka_unit_test(test_framing_errors),
		cmocka_unit_test(test_unsupported_encoding),
		cmocka_unit_test(test_stream_limit),
		cmocka_unit_test(test_graceful_goaway),
		cmocka_unit_test(test_percent_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
