/* wlapi_request.c - routing and validation of Workload API requests in the
 * unprivileged front (see kwid/wlapi_request.h): health checks and
 * UNIMPLEMENTED methods are answered here, the security header is
 * enforced on every SpiffeWorkloadAPI method, and request messages are
 * parsed and bounded before anything reaches the core. */
#include "kwid/wlapi_request.h"
#include "kwid/pb_wire.h"
#include "kwid/util.h"

#include "health.pb-c.h"
#include "workload.pb-c.h"

#define SERVICE "/SpiffeWorkloadAPI/"

static void answer(struct wlapi_request *out, int status, const char *message)
{
	out->kind = WLAPI_REQ_ANSWER;
	out->status = status;
	out->message = message;
}

/* The request's strings as sent: a NUL inside one would be cut by
 * protobuf-c (audience "a\0b" would mint a token for "a"). Answers
 * INVALID_ARGUMENT and returns false when they are not clean. */
static bool strings_ok(const struct grpc_request *req, struct wlapi_request *out)
{
	int r = pb_wire_strings_check(req->msg, req->len);

	if (r == 0)
		return true;
	answer(out, GRPC_STATUS_INVALID_ARGUMENT,
	       r == -EINVAL ? "a string field holds a NUL byte" : "malformed request message");
	return false;
}

static int health_check(const struct grpc_request *req, struct wlapi_request *out)
{
	Grpc__Health__V1__HealthCheckRequest *in;
	Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;

	out->method = "Health/Check";
	if (!strings_ok(req, out))
		return 0;
	in = grpc__health__v1__health_check_request__unpack(NULL, req->len, req->msg);
	if (!in) {
		answer(out, GRPC_STATUS_INVALID_ARGUMENT, "malformed request message");
		return 0;
	}
	/* The whole server, or the Workload API service by name. */
	if (in->service[0] && !streq(in->service, "SpiffeWorkloadAPI")) {
		grpc__health__v1__health_check_request__free_unpacked(in, NULL);
		answer(out, GRPC_STATUS_NOT_FOUND, "unknown service");
		return 0;
	}
	grpc__health__v1__health_check_request__free_unpacked(in, NULL);
	resp.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	out->response_len = grpc__health__v1__health_check_response__get_packed_size(&resp);
	out->response = malloc(out->response_len ? out->response_len : 1);
	if (!out->response)
		return -ENOMEM;
	grpc__health__v1__health_check_response__pack(&resp, out->response);
	answer(out, GRPC_STATUS_OK, NULL);
	return 0;
}

/* Messages without fields: any well-formed protobuf is accepted (unknown
 * fields are ignored, as proto3 requires). */
static bool empty_request_ok(const ProtobufCMessageDescriptor *d, const struct grpc_request *req)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, req->len, req->msg);

	if (!m)
		return false;
	protobuf_c_message_free_unpacked(m, NULL);
	return true;
}

static int jwt_svid_request(const struct grpc_request *req, struct wlapi_request *out)
{
	JWTSVIDRequest *in;
	size_t idlen;

	if (!strings_ok(req, out))
		return 0;
	in = jwtsvidrequest__unpack(NULL, req->len, req->msg);
	if (!in) {
		answer(out, GRPC_STATUS_INVALID_ARGUMENT, "malformed request message");
		return 0;
	}
	if (in->n_audience == 0) {
		answer(out, GRPC_STATUS_INVALID_ARGUMENT, "audience must be specified");
		goto out;
	}
	if (in->n_audience > WLAPI_MAX_AUDIENCES) {
		answer(out, GRPC_STATUS_INVALID_ARGUMENT, "too many audiences");
		goto out;
	}
	for (size_t i = 0; i < in->n_audience; i++) {
		size_t len = strlen(in->audience[i]);
		if (len == 0 || len > WLAPI_MAX_AUDIENCE_LEN || !wlapi_string_ok(in->audience[i], len)) {
			answer(out, GRPC_STATUS_INVALID_ARGUMENT,
			       "audience must be 1 to 1024 bytes of printable UTF-8");
			goto out;
		}
	}
	idlen = strlen(in->spiffe_id);
	if (idlen > WLAPI_MAX_SPIFFE_ID_LEN || !wlapi_string_ok(in->spiffe_id, idlen)) {
		answer(out, GRPC_STATUS_INVALID_ARGUMENT, "spiffe_id is not a valid SPIFFE ID");
		goto out;
	}
	out->kind = WLAPI_REQ_CORE;
	out->rpc.method = WLAPI_FETCH_JWT_SVID;
	for (size_t i = 0; i < in->n_audience; i++) {
		out->rpc.aud[i] = strdup(in->audience[i]);
		if (!out->rpc.aud[i])
			goto oom;
		out->rpc.naud++;
	}
	if (idlen && !(out->rpc.spiffe_id = strdup(in->spiffe_id)))
		goto oom;
out:
	jwtsvidrequest__free_unpacked(in, NULL);
	return 0;
oom:
	jwtsvidrequest__free_unpacked(in, NULL);
	return -ENOMEM;
}

static int validate_request(const struct grpc_request *req, struct wlapi_request *out)
{
	ValidateJWTSVIDRequest *in;
	size_t alen, tlen;

	if (!strings_ok(req, out))
		return 0;
	in = validate_jwtsvidrequest__unpack(NULL, req->len, req->msg);
	if (!in) {
		answer(out, GRPC_STATUS_INVALID_ARGUMENT, "malformed request message");
		return 0;
	}
	alen = strlen(in->audience);
	tlen = strlen(in->svid);
	if (alen == 0)
		answer(out, GRPC_STATUS_INVALID_ARGUMENT, "audience must be specified");
	else if (tlen == 0)
		answer(out, GRPC_STATUS_INVALID_ARGUMENT, "svid must be specified");
	else if (alen > WLAPI_MAX_AUDIENCE_LEN || !wlapi_string_ok(in->audience, alen))
		answer(out, GRPC_STATUS_INVALID_ARGUMENT, "audience must be 1 to 1024 bytes of printable UTF-8");
	else if (tlen > WLAPI_MAX_TOKEN_LEN || !wlapi_string_ok(in->svid, tlen))
		answer(out, GRPC_STATUS_INVALID_ARGUMENT, "svid is not a compact JWS");
	else {
		out->kind = WLAPI_REQ_VALIDATE;
		out->audience = strdup(in->audience);
		out->token = strdup(in->svid);
		if (!out->audience || !out->token) {
			validate_jwtsvidrequest__free_unpacked(in, NULL);
			return -ENOMEM;
		}
	}
	validate_jwtsvidrequest__free_unpacked(in, NULL);
	return 0;
}

struct method {
	const char *name;
	const ProtobufCMessageDescriptor *request;
	enum wlapi_method forward; /* 0: handled otherwise */
};

static const struct method methods[] = {
	{"FetchX509SVID", &x509_svidrequest__descriptor, WLAPI_FETCH_X509_SVID},
	{"FetchX509Bundles", &x509_bundles_request__descriptor, WLAPI_FETCH_X509_BUNDLES},
	{"FetchJWTSVID", &jwtsvidrequest__descriptor, 0},
	{"FetchJWTBundles", &jwtbundles_request__descriptor, WLAPI_FETCH_JWT_BUNDLES},
	{"ValidateJWTSVID", &validate_jwtsvidrequest__descriptor, 0},
	{"FetchWITSVID", &witsvidrequest__descriptor, 0},
	{"FetchWITBundles", &witbundles_request__descriptor, 0},
};

int wlapi_request_parse(const struct grpc_request *req, struct wlapi_request *out)
{
	const struct method *m = NULL;

	*out = (struct wlapi_request){.method = "?"};
	if (streq(req->path, "/grpc.health.v1.Health/Check"))
		return health_check(req, out);
	if (streq(req->path, "/grpc.health.v1.Health/Watch")) {
		out->method = "Health/Watch";
		answer(out, GRPC_STATUS_UNIMPLEMENTED, "Health/Watch is not implemented; use Check");
		return 0;
	}
	if (startswith(req->path, SERVICE))
		for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
			if (streq(req->path + strlen(SERVICE), methods[i].name))
				m = &methods[i];
	if (!m) {
		answer(out, GRPC_STATUS_UNIMPLEMENTED, "unknown service or method");
		return 0;
	}
	out->method = m->name;
	/* Exactly one value, exactly "true" (the header guards against a
	 * server-side request forgery reaching the socket). */
	if (req->captured_count != 1 || !streq(req->captured, "true")) {
		answer(out, GRPC_STATUS_INVALID_ARGUMENT, "security header missing from request");
		return 0;
	}
	if (streq(m->name, "FetchJWTSVID"))
		return jwt_svid_request(req, out);
	if (streq(m->name, "ValidateJWTSVID"))
		return validate_request(req, out);
	if (!empty_request_ok(m->request, req)) {
		answer(out, GRPC_STATUS_INVALID_ARGUMENT, "malformed request message");
		return 0;
	}
	if (!m->forward) {
		answer(out, GRPC_STATUS_UNIMPLEMENTED, "the WIT-SVID profile is not implemented");
		return 0;
	}
	out->kind = WLAPI_REQ_CORE;
	out->rpc.method = m->forward;
	return 0;
}

void wlapi_request_clear(struct wlapi_request *r)
{
	free(r->response);
	wlapi_rpc_clear(&r->rpc);
	free(r->audience);
	free(r->token);
	*r = (struct wlapi_request){0};
}
