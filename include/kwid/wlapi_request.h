/* wlapi_request.h - what the Workload API front makes of one complete gRPC
 * request: route by path, enforce the security header, parse and bound the
 * request message. Pure (no I/O), so the fuzzer drives it together with a
 * real nghttp2 session. */
#ifndef KWID_WLAPI_REQUEST_H
#define KWID_WLAPI_REQUEST_H

#include "kwid/grpc.h"
#include "kwid/wlapi_ipc.h"

#define WLAPI_SECURITY_HEADER "workload.spiffe.io"
#define WLAPI_MAX_TOKEN_LEN (16 * 1024)

enum wlapi_request_kind {
	WLAPI_REQ_ANSWER,   /* answer here: `status` (+ `response` when OK) */
	WLAPI_REQ_CORE,	    /* forward `rpc` to the core */
	WLAPI_REQ_VALIDATE, /* ValidateJWTSVID: `audience`, `token` */
};

struct wlapi_request {
	enum wlapi_request_kind kind;
	const char *method; /* for logs: "FetchX509SVID", "Health/Check", ... */
	int status;
	const char *message; /* static text for a non-OK status */
	uint8_t *response;   /* encoded response message (ANSWER with OK) */
	size_t response_len;
	struct wlapi_rpc rpc;
	char *audience, *token;
};

/* Classify `req`. Returns 0 (see out->kind) or -ENOMEM. */
int wlapi_request_parse(const struct grpc_request *req, struct wlapi_request *out);
void wlapi_request_clear(struct wlapi_request *r);

#endif
