/* grpc_server.c - gRPC server framing on one nghttp2 session (see
 * kwid/grpc.h): request headers and the one request message in, response
 * headers, length-prefixed messages and trailers out. */
#include "kwid/grpc.h"
#include "kwid/log.h"
#include "kwid/util.h"

#include <nghttp2/nghttp2.h>

#define GRPC_PREFIX 5
/* HPACK's accounting: every header field costs 32 bytes on top of its name
 * and value, so a flood of empty fields hits the limit too. */
#define HEADER_FIELD_OVERHEAD 32

/* A response message with its 5-byte prefix. */
struct grpc_out {
	uint8_t *buf;
	size_t len, off;
};

struct grpc_stream {
	struct grpc_conn *conn;
	int32_t id;
	char path[GRPC_PATH_MAX + 1];
	bool bad_path;		   /* longer than GRPC_PATH_MAX */
	bool method_post, method_seen;
	bool content_type_ok;
	bool encoding_unsupported; /* grpc-encoding other than identity: we only have identity */
	size_t header_bytes;
	unsigned captured_count;
	char *captured;

	uint8_t *body; /* prefix + message as received */
	size_t body_len;
	bool body_error; /* already answered because of a framing error */

	bool dispatched; /* handed to on_request() */
	bool started;	 /* response HEADERS submitted */
	bool finished;	 /* grpc_conn_finish() called */
	bool deferred;	 /* the data source returned NGHTTP2_ERR_DEFERRED */
	int status;
	char *message;
	struct grpc_out cur, next;
	struct grpc_stream *prev, *next_stream; /* every stream of the connection */
};

struct grpc_conn {
	nghttp2_session *session;
	struct grpc_limits limits;
	const struct grpc_conn_ops *ops;
	void *ud;
	struct grpc_stream *streams;
	size_t active; /* dispatched, not finished, not closed */
	uint64_t requests;
	bool failed;  /* write failed or protocol broken: close now */
	bool closing; /* GOAWAY sent after a framing error: close when flushed */
	bool protocol_error; /* the peer broke HTTP/2 or gRPC framing */
	/* Output that ops->write did not take yet (a copy of what
	 * nghttp2_session_mem_send() produced). */
	uint8_t *pending;
	size_t pending_len, pending_off, pending_cap;
};

static const char *const status_names[GRPC_STATUS_COUNT] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
};

const char *grpc_status_name(int status)
{
	return status >= 0 && status < GRPC_STATUS_COUNT ? status_names[status] : "?";
}

size_t grpc_percent_encode(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (outlen == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		bool plain = *p >= 0x20 && *p <= 0x7e && *p != '%';
		size_t need = plain ? 1 : 3;

		if (o + need >= outlen)
			break;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return o;
}

void grpc_percent_decode(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '%' && hex_digit_value(r[1]) >= 0 && hex_digit_value(r[2]) >= 0) {
			*w++ = (char)(hex_digit_value(r[1]) << 4 | hex_digit_value(r[2]));
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* ---- streams ---- */

static void out_clear(struct grpc_out *o)
{
	free(o->buf);
	*o = (struct grpc_out){0};
}

static void stream_free(struct grpc_stream *s)
{
	if (!s)
		return;
	if (s->prev)
		s->prev->next_stream = s->next_stream;
	else
		s->conn->streams = s->next_stream;
	if (s->next_stream)
		s->next_stream->prev = s->prev;
	free(s->captured);
	free(s->body);
	free(s->message);
	out_clear(&s->cur);
	out_clear(&s->next);
	free(s);
}

static struct grpc_stream *stream_get(struct grpc_conn *c, int32_t id)
{
	if (id <= 0)
		return NULL;
	return nghttp2_session_get_stream_user_data(c->session, id);
}

#define NV(n, v) \
	{ (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

static void stream_mark_done(struct grpc_stream *s)
{
	if (s->dispatched && !s->finished && s->conn->active > 0)
		s->conn->active--;
	s->finished = true;
}

/* Trailers (or, with `headers_too`, a whole trailers-only response). */
static int submit_status(struct grpc_stream *s, bool headers_too)
{
	char code[16], msg[1024];
	nghttp2_nv nv[5];
	size_t n = 0;

	snprintf(code, sizeof(code), "%d", s->status);
	grpc_percent_encode(s->message ? s->message : "", msg, sizeof(msg));
	if (headers_too) {
		nv[n++] = (nghttp2_nv)NV(":status", "200");
		nv[n++] = (nghttp2_nv)NV("content-type", "application/grpc");
	}
	nv[n++] = (nghttp2_nv)NV("grpc-status", code);
	if (msg[0])
		nv[n++] = (nghttp2_nv)NV("grpc-message", msg);
	if (headers_too)
		return nghttp2_submit_response(s->conn->session, s->id, nv, n, NULL);
	return nghttp2_submit_trailer(s->conn->session, s->id, nv, n);
}

static ssize_t data_read_cb(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
			    uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
	struct grpc_stream *s = source->ptr;
	size_t n = 0;

	if (s->cur.off == s->cur.len && s->next.buf) {
		out_clear(&s->cur);
		s->cur = s->next;
		s->next = (struct grpc_out){0};
	}
	if (s->cur.off < s->cur.len) {
		n = MIN(length, s->cur.len - s->cur.off);
		memcpy(buf, s->cur.buf + s->cur.off, n);
		s->cur.off += n;
		if (s->cur.off < s->cur.len || s->next.buf)
			return (ssize_t)n;
		/* Sent: an idle stream holds no message. */
		out_clear(&s->cur);
	}
	if (s->finished) {
		*data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		if (submit_status(s, false) != 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		return (ssize_t)n;
	}
	if (n > 0)
		return (ssize_t)n;
	s->deferred = true;
	return NGHTTP2_ERR_DEFERRED;
}

static int start_response(struct grpc_stream *s)
{
	nghttp2_nv nv[] = {
		NV(":status", "200"),
		NV("content-type", "application/grpc"),
		NV("grpc-accept-encoding", "identity"),
	};
	nghttp2_data_provider prd = {.source.ptr = s, .read_callback = data_read_cb};
	int r = nghttp2_submit_response(s->conn->session, s->id, nv, ARRAY_SIZE(nv), &prd);

	if (r != 0)
		return -EIO;
	s->started = true;
	return 0;
}

static void resume(struct grpc_stream *s)
{
	if (s->deferred) {
		s->deferred = false;
		nghttp2_session_resume_data(s->conn->session, s->id);
	}
}

int grpc_conn_send(struct grpc_conn *c, int32_t stream_id, const uint8_t *msg, size_t len)
{
	struct grpc_stream *s = stream_get(c, stream_id);
	struct grpc_out o;

	if (!s || s->finished || !s->dispatched)
		return -ENOENT;
	if (len > c->limits.max_response_bytes)
		return -EMSGSIZE;
	o.buf = malloc(GRPC_PREFIX + len);
	if (!o.buf)
		return -ENOMEM;
	o.buf[0] = 0;
	o.buf[1] = (uint8_t)(len >> 24);
	o.buf[2] = (uint8_t)(len >> 16);
	o.buf[3] = (uint8_t)(len >> 8);
	o.buf[4] = (uint8_t)len;
	if (len)
		memcpy(o.buf + GRPC_PREFIX, msg, len);
	o.len = GRPC_PREFIX + len;
	o.off = 0;
	/* The newest message replaces one that has not started; a message
	 * already partly sent must complete. */
	if (!s->cur.buf || s->cur.off == 0) {
		out_clear(&s->cur);
		s->cur = o;
		out_clear(&s->next);
	} else {
		out_clear(&s->next);
		s->next = o;
	}
	if (!s->started)
		return start_response(s);
	resume(s);
	return 0;
}

int grpc_conn_finish(struct grpc_conn *c, int32_t stream_id, int status, const char *message)
{
	struct grpc_stream *s = stream_get(c, stream_id);

	if (!s || s->finished)
		return -ENOENT;
	s->status = status;
	free(s->message);
	s->message = message && *message ? strdup(message) : NULL;
	stream_mark_done(s);
	if (!s->started) {
		s->started = true;
		return submit_status(s, true) == 0 ? 0 : -EIO;
	}
	resume(s);
	return 0;
}

/* Answer a request that never reaches on_request() (framing errors, bad
 * headers). */
static void answer_early(struct grpc_stream *s, int status, const char *message)
{
	s->body_error = true;
	if (s->started)
		return;
	s->status = status;
	free(s->message);
	s->message = strdup(message);
	s->finished = true;
	s->started = true;
	submit_status(s, true);
}

/* A violation of gRPC's message framing: answer the stream, then GOAWAY;
 * the connection closes once the answer is out. */
static void framing_error(struct grpc_stream *s, int status, const char *message)
{
	struct grpc_conn *c = s->conn;

	answer_early(s, status, message);
	c->protocol_error = true;
	if (!c->closing) {
		c->closing = true;
		nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(c->session),
				      NGHTTP2_PROTOCOL_ERROR, NULL, 0);
	}
}

/* A request under a grpc-encoding we cannot decode (gzip, deflate...):
 * UNIMPLEMENTED, the answer gRPC's compression spec asks for. It goes out
 * as response headers carrying grpc-accept-encoding, then trailers, rather
 * than trailers-only: grpc-js learns what the server accepts only from
 * response headers, and then sends its next calls uncompressed. The
 * request was well-formed, so the connection and its other streams stay. */
static void answer_unsupported_encoding(struct grpc_stream *s)
{
	s->body_error = true;
	s->status = GRPC_STATUS_UNIMPLEMENTED;
	free(s->message);
	s->message = strdup("grpc-encoding not supported: send identity (uncompressed) messages");
	s->finished = true;
	if (start_response(s) < 0)
		nghttp2_submit_rst_stream(s->conn->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
}

static void http_error(struct grpc_stream *s, const char *code)
{
	nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)code, 7, strlen(code), NGHTTP2_NV_FLAG_NONE}};

	s->body_error = true;
	s->started = s->finished = true;
	nghttp2_submit_response(s->conn->session, s->id, nv, 1, NULL);
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct grpc_conn *c = user_data;
	struct grpc_stream *s;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if (c->closing || nghttp2_session_get_stream_user_data(session, frame->hd.stream_id))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	/* nghttp2 enforces our SETTINGS_MAX_CONCURRENT_STREAMS once the peer
	 * acknowledged it; this covers the streams before that. */
	if (c->active >= c->limits.max_streams) {
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
					  NGHTTP2_REFUSED_STREAM);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	s->conn = c;
	s->id = frame->hd.stream_id;
	if (nghttp2_session_set_stream_user_data(session, s->id, s) != 0) {
		free(s);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	s->next_stream = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	return 0;
}

static bool header_is(const uint8_t *name, size_t namelen, const char *want)
{
	return namelen == strlen(want) && memcmp(name, want, namelen) == 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
	struct grpc_conn *c = user_data;
	struct grpc_stream *s = stream_get(c, frame->hd.stream_id);

	if (!s || frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	s->header_bytes += namelen + valuelen + HEADER_FIELD_OVERHEAD;
	if (s->header_bytes > c->limits.max_header_bytes) {
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_REFUSED_STREAM);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if (frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* request trailers: nothing of interest */
	if (header_is(name, namelen, ":path")) {
		if (valuelen > GRPC_PATH_MAX)
			s->bad_path = true;
		else
			memcpy(s->path, value, valuelen + 1);
	} else if (header_is(name, namelen, ":method")) {
		s->method_seen = true;
		s->method_post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
	} else if (header_is(name, namelen, "content-type")) {
		/* "application/grpc" optionally followed by "+proto" or ";..." */
		s->content_type_ok = valuelen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
				     (valuelen == 16 || value[16] == '+' || value[16] == ';');
	} else if (header_is(name, namelen, "grpc-encoding")) {
		s->encoding_unsupported = !(valuelen == 8 && memcmp(value, "identity", 8) == 0);
	} else if (c->ops->capture_header && header_is(name, namelen, c->ops->capture_header)) {
		if (s->captured_count++ == 0) {
			s->captured = strdup((const char *)value);
			if (!s->captured)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		}
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
			 size_t len, void *user_data)
{
	struct grpc_conn *c = user_data;
	struct grpc_stream *s = stream_get(c, stream_id);
	size_t limit = GRPC_PREFIX + (size_t)c->limits.max_message_bytes;
	uint8_t *nb;

	if (!s || s->body_error || s->dispatched)
		return 0;
	if (s->body_len + len > limit) {
		framing_error(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "request message larger than the limit");
		return 0;
	}
	nb = realloc(s->body, s->body_len + len);
	if (!nb && s->body_len + len)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	s->body = nb;
	memcpy(s->body + s->body_len, data, len);
	s->body_len += len;
	if (s->body_len >= GRPC_PREFIX) {
		uint32_t mlen = (uint32_t)s->body[1] << 24 | (uint32_t)s->body[2] << 16 |
				(uint32_t)s->body[3] << 8 | s->body[4];
		/* A compressed message under a declared grpc-encoding is valid
		 * gRPC that we cannot decode: request_complete() answers it
		 * UNIMPLEMENTED. The flag without an encoding is malformed. */
		if (s->body[0] > 1) {
			framing_error(s, GRPC_STATUS_INTERNAL, "invalid compressed-flag byte in message prefix");
		} else if (s->body[0] == 1 && !s->encoding_unsupported) {
			framing_error(s, GRPC_STATUS_INTERNAL,
				      "compressed-flag set but no grpc-encoding other than identity declared");
		} else if (mlen > c->limits.max_message_bytes) {
			framing_error(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "request message larger than the limit");
		} else if (s->body_len > GRPC_PREFIX + (size_t)mlen) {
			framing_error(s, GRPC_STATUS_UNIMPLEMENTED,
				      "more than one request message on a unary or server-streaming call");
		}
	}
	return 0;
}

/* The client half-closed the stream: check headers and framing, then
 * hand the request over. */
static void request_complete(struct grpc_conn *c, struct grpc_stream *s)
{
	struct grpc_request req;
	uint32_t mlen;

	if (s->body_error || s->dispatched || s->started)
		return;
	if (!s->method_post) {
		http_error(s, "405");
		return;
	}
	if (!s->content_type_ok) {
		http_error(s, "415");
		return;
	}
	if (s->bad_path || s->path[0] != '/') {
		answer_early(s, GRPC_STATUS_UNIMPLEMENTED, "unknown method");
		return;
	}
	if (s->encoding_unsupported) {
		answer_unsupported_encoding(s);
		return;
	}
	if (s->body_len < GRPC_PREFIX) {
		framing_error(s, GRPC_STATUS_INTERNAL, "request ended without a complete message");
		return;
	}
	mlen = (uint32_t)s->body[1] << 24 | (uint32_t)s->body[2] << 16 | (uint32_t)s->body[3] << 8 | s->body[4];
	if (s->body_len != GRPC_PREFIX + (size_t)mlen) {
		framing_error(s, GRPC_STATUS_INTERNAL, "request ended inside a message");
		return;
	}
	req = (struct grpc_request){
		.path = s->path,
		.captured_count = s->captured_count,
		.captured = s->captured,
		.msg = s->body + GRPC_PREFIX,
		.len = mlen,
	};
	s->dispatched = true;
	c->active++;
	c->requests++;
	c->ops->on_request(c->ud, c, s->id, &req);
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct grpc_conn *c = user_data;
	struct grpc_stream *s;

	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	s = stream_get(c, frame->hd.stream_id);
	if (s && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		request_complete(c, s);
	return 0;
}

/* nghttp2 answers most protocol violations itself with a GOAWAY carrying
 * an error code: note it, for the statistics. */
static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct grpc_conn *c = user_data;

	if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR)
		c->protocol_error = true;
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
	struct grpc_conn *c = user_data;
	struct grpc_stream *s = stream_get(c, stream_id);

	if (!s)
		return 0;
	nghttp2_session_set_stream_user_data(session, stream_id, NULL);
	if (s->dispatched && !s->finished) {
		stream_mark_done(s);
		c->ops->on_cancel(c->ud, c, stream_id);
	}
	stream_free(s);
	return 0;
}

/* ---- the connection ---- */

int grpc_conn_new(const struct grpc_limits *limits, const struct grpc_conn_ops *ops, void *ud,
		  struct grpc_conn **out)
{
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_option *opt = NULL;
	struct grpc_conn *c = calloc(1, sizeof(*c));
	nghttp2_settings_entry settings[] = {
		{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits->max_streams},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits->max_header_bytes},
		{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	};
	int r = -ENOMEM;

	if (!c)
		return -ENOMEM;
	c->limits = *limits;
	c->ops = ops;
	c->ud = ud;
	if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0)
		goto fail;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
	/* Streams beyond the limit are refused even before the peer has
	 * acknowledged our SETTINGS; closed streams are not remembered. */
	nghttp2_option_set_no_closed_streams(opt, 1);
	nghttp2_option_set_max_settings(opt, 32);
	nghttp2_option_set_max_outbound_ack(opt, 256);
	nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
	if (nghttp2_session_server_new2(&c->session, cbs, c, opt) != 0)
		goto fail;
	if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, ARRAY_SIZE(settings)) != 0)
		goto fail;
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	*out = c;
	return 0;
fail:
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	grpc_conn_free(c);
	return r;
}

void grpc_conn_free(struct grpc_conn *c)
{
	if (!c)
		return;
	/* nghttp2_session_del() does not call on_stream_close: free the
	 * stream objects here. */
	while (c->streams)
		stream_free(c->streams);
	nghttp2_session_del(c->session);
	free(c->pending);
	free(c);
}

int grpc_conn_recv(struct grpc_conn *c, const uint8_t *data, size_t len)
{
	ssize_t n;

	if (c->failed)
		return -EPROTO;
	n = nghttp2_session_mem_recv(c->session, data, len);
	if (n < 0) {
		log_debug("grpc: HTTP/2 error from peer: %s", nghttp2_strerror((int)n));
		c->failed = true;
		c->protocol_error = true;
		return -EPROTO;
	}
	return 0;
}

static int keep_pending(struct grpc_conn *c, const uint8_t *data, size_t len)
{
	if (c->pending_cap < len) {
		uint8_t *nb = realloc(c->pending, len);
		if (!nb)
			return -ENOMEM;
		c->pending = nb;
		c->pending_cap = len;
	}
	memcpy(c->pending, data, len);
	c->pending_len = len;
	c->pending_off = 0;
	return 0;
}

int grpc_conn_flush(struct grpc_conn *c)
{
	for (;;) {
		const uint8_t *data;
		ssize_t n, w;

		if (c->failed)
			return -EPIPE;
		if (c->pending_off < c->pending_len) {
			w = c->ops->write(c->ud, c->pending + c->pending_off, c->pending_len - c->pending_off);
			if (w == -EAGAIN)
				return 0;
			if (w < 0) {
				c->failed = true;
				return (int)w;
			}
			c->pending_off += (size_t)w;
			continue;
		}
		n = nghttp2_session_mem_send(c->session, &data);
		if (n < 0) {
			c->failed = true;
			return -EPROTO;
		}
		if (n == 0)
			return 0;
		w = c->ops->write(c->ud, data, (size_t)n);
		if (w == -EAGAIN)
			w = 0;
		if (w < 0) {
			c->failed = true;
			return (int)w;
		}
		if (w < n && keep_pending(c, data + w, (size_t)(n - w)) < 0) {
			c->failed = true;
			return -ENOMEM;
		}
	}
}

bool grpc_conn_want_write(const struct grpc_conn *c)
{
	return !c->failed &&
	       (c->pending_off < c->pending_len || nghttp2_session_want_write(c->session));
}

bool grpc_conn_done(const struct grpc_conn *c)
{
	bool flushed = c->pending_off >= c->pending_len && !nghttp2_session_want_write(c->session);

	if (c->failed)
		return true;
	if (c->closing && flushed)
		return true;
	return !nghttp2_session_want_read(c->session) && flushed;
}

void grpc_conn_goaway(struct grpc_conn *c)
{
	/* A plain GOAWAY, not terminate_session: open streams finish (their
	 * trailers go out), and nghttp2 stops wanting to read once they have. */
	nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
			      nghttp2_session_get_last_proc_stream_id(c->session), NGHTTP2_NO_ERROR, NULL, 0);
}

size_t grpc_conn_active_streams(const struct grpc_conn *c)
{
	return c->active;
}

bool grpc_conn_protocol_error(const struct grpc_conn *c)
{
	return c->protocol_error;
}

uint64_t grpc_conn_requests(const struct grpc_conn *c)
{
	return c->requests;
}
