/* fuzz_grpc_frames.c - the Workload API front's request path fed raw
 * bytes: a real nghttp2 server session (grpc_server.c) after the client
 * preface, then routing, header enforcement and request parsing
 * (wlapi_request.c), answering every request the way the front does. The
 * first input byte picks the chunk size the bytes arrive in. */
#include "kwid/grpc.h"
#include "kwid/wlapi_request.h"

#include <stdint.h>
#include <string.h>

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static ssize_t sink(void *ud, const uint8_t *data, size_t len)
{
	/* Alternate between taking everything and taking a little, so the
	 * partial-write path runs too. */
	static unsigned n;
	return (n++ & 1) ? (ssize_t)len : (ssize_t)(len > 7 ? 7 : len);
}

static void on_request(void *ud, struct grpc_conn *c, int32_t stream_id, const struct grpc_request *greq)
{
	struct wlapi_request req;
	static const uint8_t fake[] = {0x0a, 0x03, 'a', 'b', 'c'};

	if (wlapi_request_parse(greq, &req) < 0)
		return;
	switch (req.kind) {
	case WLAPI_REQ_ANSWER:
		if (req.status == GRPC_STATUS_OK)
			grpc_conn_send(c, stream_id, req.response, req.response_len);
		grpc_conn_finish(c, stream_id, req.status, req.message);
		break;
	case WLAPI_REQ_CORE:
		/* Two pushes (the second replaces the first), then the end. */
		grpc_conn_send(c, stream_id, fake, sizeof(fake));
		grpc_conn_send(c, stream_id, fake, sizeof(fake) - 1);
		if (!wlapi_method_is_stream(req.rpc.method))
			grpc_conn_finish(c, stream_id, GRPC_STATUS_OK, NULL);
		break;
	case WLAPI_REQ_VALIDATE:
		grpc_conn_finish(c, stream_id, GRPC_STATUS_INVALID_ARGUMENT, "bad token \x01%");
		break;
	}
	wlapi_request_clear(&req);
}

static void on_cancel(void *ud, struct grpc_conn *c, int32_t stream_id)
{
}

static const struct grpc_conn_ops ops = {
	.capture_header = WLAPI_SECURITY_HEADER,
	.write = sink,
	.on_request = on_request,
	.on_cancel = on_cancel,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct grpc_limits limits = {
		.max_message_bytes = 4096,
		.max_streams = 8,
		.max_header_bytes = 4096,
		.max_response_bytes = 1 << 16,
	};
	struct grpc_conn *c;
	size_t chunk;

	if (size < 1 || grpc_conn_new(&limits, &ops, NULL, &c) < 0)
		return 0;
	chunk = (size_t)data[0] + 1;
	data++;
	size--;
	if (grpc_conn_recv(c, (const uint8_t *)preface, sizeof(preface) - 1) == 0) {
		while (size > 0 && !grpc_conn_done(c)) {
			size_t n = size < chunk ? size : chunk;
			if (grpc_conn_recv(c, data, n) < 0)
				break;
			grpc_conn_flush(c);
			data += n;
			size -= n;
		}
		grpc_conn_flush(c);
	}
	grpc_conn_free(c);
	return 0;
}
