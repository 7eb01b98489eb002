/* grpc_client.c - blocking gRPC client over nghttp2 on a Unix socket (see
 * grpc_client.h). One call at a time; response messages are reassembled
 * from DATA frames and handed out whole. */
#include "kwid/grpc_client.h"
#include "kwid/grpc.h"
#include "kwid/sockutil.h"
#include "kwid/util.h"

#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_RESPONSE (64u << 20)

struct grpc_client {
	int fd;
	nghttp2_session *session;
	/* the call in progress */
	int32_t stream_id;
	const uint8_t *req;
	size_t req_len, req_off;
	uint8_t *buf; /* partial response message */
	size_t buf_len;
	grpc_client_msg_fn fn;
	void *ud;
	bool done, stopped, bad_frame;
	int http_status;
	int grpc_status; /* -1 until seen */
	char *grpc_message;
};

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
	struct grpc_client *c = ud;
	ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
	return n;
}

static ssize_t recv_cb(nghttp2_session *s, uint8_t *buf, size_t len, int flags, void *ud)
{
	struct grpc_client *c = ud;
	ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
	if (n == 0)
		return NGHTTP2_ERR_EOF;
	return n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
		     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	struct grpc_client *c = ud;

	if (frame->hd.stream_id != c->stream_id)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0)
		c->http_status = atoi((const char *)value);
	else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
		c->grpc_status = atoi((const char *)value);
	else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
		free(c->grpc_message);
		c->grpc_message = strndup((const char *)value, valuelen);
		if (c->grpc_message)
			grpc_percent_decode(c->grpc_message);
	}
	return 0;
}

/* Hand out every complete message in the buffer. */
static void drain_messages(struct grpc_client *c)
{
	while (!c->stopped && c->buf_len >= 5) {
		uint32_t mlen = (uint32_t)c->buf[1] << 24 | (uint32_t)c->buf[2] << 16 | (uint32_t)c->buf[3] << 8 |
				c->buf[4];
		if (c->buf[0] != 0 || mlen > MAX_RESPONSE) {
			c->bad_frame = true;
			c->stopped = true;
			return;
		}
		if (c->buf_len < 5 + (size_t)mlen)
			return;
		if (c->fn && c->fn(c->ud, c->buf + 5, mlen) != 0)
			c->stopped = true;
		memmove(c->buf, c->buf + 5 + mlen, c->buf_len - 5 - mlen);
		c->buf_len -= 5 + mlen;
	}
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len, void *ud)
{
	struct grpc_client *c = ud;
	uint8_t *nb;

	if (stream_id != c->stream_id || c->stopped)
		return 0;
	if (c->buf_len + len > MAX_RESPONSE + 5) {
		c->bad_frame = c->stopped = true;
		return 0;
	}
	nb = realloc(c->buf, c->buf_len + len);
	if (!nb)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	c->buf = nb;
	memcpy(c->buf + c->buf_len, data, len);
	c->buf_len += len;
	drain_messages(c);
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *ud)
{
	struct grpc_client *c = ud;

	if (stream_id == c->stream_id)
		c->done = true;
	return 0;
}

static ssize_t req_read_cb(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
			   uint32_t *data_flags, nghttp2_data_source *source, void *ud)
{
	struct grpc_client *c = ud;
	size_t n = MIN(length, c->req_len - c->req_off);

	memcpy(buf, c->req + c->req_off, n);
	c->req_off += n;
	if (c->req_off == c->req_len)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

int grpc_client_connect(const char *socket_path, struct grpc_client **out)
{
	nghttp2_session_callbacks *cbs;
	struct grpc_client *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->fd = unix_connect(socket_path);
	if (c->fd < 0) {
		r = c->fd;
		free(c);
		return r;
	}
	if (nghttp2_session_callbacks_new(&cbs) != 0) {
		grpc_client_free(c);
		return -ENOMEM;
	}
	nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
	nghttp2_session_callbacks_set_recv_callback(cbs, recv_cb);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	r = nghttp2_session_client_new(&c->session, cbs, c);
	nghttp2_session_callbacks_del(cbs);
	if (r != 0 || nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, NULL, 0) != 0) {
		grpc_client_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void grpc_client_free(struct grpc_client *c)
{
	if (!c)
		return;
	nghttp2_session_del(c->session);
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c->grpc_message);
	free(c);
}

static int64_t ms_left(uint64_t deadline)
{
	uint64_t now = now_mono_ns();

	return now >= deadline ? 0 : (int64_t)((deadline - now) / 1000000) + 1;
}

int grpc_client_call(struct grpc_client *c, const char *path, const uint8_t *req, size_t len,
		     grpc_client_msg_fn fn, void *ud, int timeout_ms, int *status, char **message)
{
	nghttp2_nv nv[] = {
		{(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
		{(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
		{(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
		{(uint8_t *)":authority", (uint8_t *)"localhost", 10, 9, 0},
		{(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0},
		{(uint8_t *)"te", (uint8_t *)"trailers", 2, 8, 0},
		{(uint8_t *)"workload.spiffe.io", (uint8_t *)"true", 18, 4, 0},
	};
	nghttp2_data_provider prd = {.read_callback = req_read_cb};
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now_mono_ns() + (uint64_t)timeout_ms * 1000000;
	_cleanup_free_ uint8_t *framed = malloc(len + 5);

	if (!framed)
		return -ENOMEM;
	framed[0] = 0;
	framed[1] = (uint8_t)(len >> 24);
	framed[2] = (uint8_t)(len >> 16);
	framed[3] = (uint8_t)(len >> 8);
	framed[4] = (uint8_t)len;
	memcpy(framed + 5, req, len);
	c->req = framed;
	c->req_len = len + 5;
	c->req_off = 0;
	c->fn = fn;
	c->ud = ud;
	c->done = c->stopped = c->bad_frame = false;
	c->buf_len = 0;
	c->http_status = 0;
	c->grpc_status = -1;
	free(c->grpc_message);
	c->grpc_message = NULL;
	c->stream_id = nghttp2_submit_request(c->session, NULL, nv, ARRAY_SIZE(nv), &prd, c);
	if (c->stream_id < 0)
		return -EIO;
	while (!c->done) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int64_t left = deadline == UINT64_MAX ? -1 : ms_left(deadline);
		int r;

		if (c->stopped) {
			nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, c->stream_id, NGHTTP2_CANCEL);
			c->stopped = false;
			c->grpc_status = c->bad_frame ? GRPC_STATUS_INTERNAL : GRPC_STATUS_CANCELLED;
		}
		if (nghttp2_session_send(c->session) != 0)
			return -EPIPE;
		if (c->done)
			break;
		if (nghttp2_session_want_write(c->session))
			p.events |= POLLOUT;
		if (left == 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
			r = nghttp2_session_recv(c->session);
			if (r != 0)
				return r == NGHTTP2_ERR_EOF ? -ECONNRESET : -EPROTO;
		}
	}
	if (c->grpc_status < 0) {
		/* No trailers: an HTTP-level refusal or a reset stream. */
		c->grpc_status = c->http_status && c->http_status != 200 ? GRPC_STATUS_UNKNOWN : GRPC_STATUS_UNAVAILABLE;
	}
	*status = c->grpc_status;
	*message = TAKE_PTR(c->grpc_message);
	return 0;
}
