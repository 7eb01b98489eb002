/* test_wlapi_request.c - routing and validation of Workload API requests
 * in the front: the security header on every SpiffeWorkloadAPI method,
 * health checks without it, UNIMPLEMENTED for unknown and WIT methods,
 * FetchJWTSVID and ValidateJWTSVID parameters, malformed messages; and the
 * JSON to google.protobuf.Struct conversion used for validated claims. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kwid/pb_wire.h"
#include "kwid/pbstruct.h"
#include "kwid/util.h"
#include "kwid/wlapi_request.h"

#include "health.pb-c.h"
#include "workload.pb-c.h"

static int parse(const char *path, const char *header, unsigned count, const uint8_t *msg, size_t len,
		 struct wlapi_request *out)
{
	struct grpc_request req = {
		.path = path, .captured_count = count, .captured = header, .msg = msg, .len = len,
	};

	return wlapi_request_parse(&req, out);
}

static void expect_answer(const char *path, const char *header, unsigned count, const uint8_t *msg, size_t len,
			  int status, const char *message)
{
	struct wlapi_request r;

	assert_int_equal(parse(path, header, count, msg, len, &r), 0);
	assert_int_equal(r.kind, WLAPI_REQ_ANSWER);
	assert_int_equal(r.status, status);
	if (message)
		assert_string_equal(r.message, message);
	wlapi_request_clear(&r);
}

static void test_security_header(void **state)
{
	static const char *const methods[] = {
		"/SpiffeWorkloadAPI/FetchX509SVID", "/SpiffeWorkloadAPI/FetchX509Bundles",
		"/SpiffeWorkloadAPI/FetchJWTSVID",  "/SpiffeWorkloadAPI/FetchJWTBundles",
		"/SpiffeWorkloadAPI/ValidateJWTSVID", "/SpiffeWorkloadAPI/FetchWITSVID",
		"/SpiffeWorkloadAPI/FetchWITBundles",
	};

	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		expect_answer(methods[i], NULL, 0, NULL, 0, GRPC_STATUS_INVALID_ARGUMENT,
			      "security header missing from request");
		expect_answer(methods[i], "True", 1, NULL, 0, GRPC_STATUS_INVALID_ARGUMENT, NULL);
		expect_answer(methods[i], "true", 2, NULL, 0, GRPC_STATUS_INVALID_ARGUMENT, NULL);
		expect_answer(methods[i], "true ", 1, NULL, 0, GRPC_STATUS_INVALID_ARGUMENT, NULL);
	}
}

static void test_routing(void **state)
{
	struct wlapi_request r;

	assert_int_equal(parse("/SpiffeWorkloadAPI/FetchX509SVID", "true", 1, NULL, 0, &r), 0);
	assert_int_equal(r.kind, WLAPI_REQ_CORE);
	assert_int_equal(r.rpc.method, WLAPI_FETCH_X509_SVID);
	wlapi_request_clear(&r);
	assert_int_equal(parse("/SpiffeWorkloadAPI/FetchJWTBundles", "true", 1, NULL, 0, &r), 0);
	assert_int_equal(r.rpc.method, WLAPI_FETCH_JWT_BUNDLES);
	wlapi_request_clear(&r);
	expect_answer("/SpiffeWorkloadAPI/FetchWITSVID", "true", 1, NULL, 0, GRPC_STATUS_UNIMPLEMENTED, NULL);
	expect_answer("/SpiffeWorkloadAPI/FetchWITBundles", "true", 1, NULL, 0, GRPC_STATUS_UNIMPLEMENTED, NULL);
	/* Unknown methods are UNIMPLEMENTED whatever the header says. */
	expect_answer("/SpiffeWorkloadAPI/Nope", NULL, 0, NULL, 0, GRPC_STATUS_UNIMPLEMENTED, NULL);
	expect_answer("/spiffeworkloadapi/FetchX509SVID", "true", 1, NULL, 0, GRPC_STATUS_UNIMPLEMENTED, NULL);
	expect_answer("/grpc.health.v1.Health/Watch", NULL, 0, NULL, 0, GRPC_STATUS_UNIMPLEMENTED, NULL);
	/* A field-less request must still be protobuf. */
	expect_answer("/SpiffeWorkloadAPI/FetchX509SVID", "true", 1, (const uint8_t *)"\xff", 1,
		      GRPC_STATUS_INVALID_ARGUMENT, "malformed request message");
}

static void test_health(void **state)
{
	Grpc__Health__V1__HealthCheckRequest in = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	Grpc__Health__V1__HealthCheckResponse *resp;
	struct wlapi_request r;
	uint8_t buf[64];
	size_t len;

	/* No security header needed. */
	assert_int_equal(parse("/grpc.health.v1.Health/Check", NULL, 0, NULL, 0, &r), 0);
	assert_int_equal(r.kind, WLAPI_REQ_ANSWER);
	assert_int_equal(r.status, GRPC_STATUS_OK);
	resp = grpc__health__v1__health_check_response__unpack(NULL, r.response_len, r.response);
	assert_non_null(resp);
	assert_int_equal(resp->status, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	grpc__health__v1__health_check_response__free_unpacked(resp, NULL);
	wlapi_request_clear(&r);

	in.service = "other.Service";
	len = grpc__health__v1__health_check_request__pack(&in, buf);
	expect_answer("/grpc.health.v1.Health/Check", NULL, 0, buf, len, GRPC_STATUS_NOT_FOUND, NULL);
	in.service = "SpiffeWorkloadAPI";
	len = grpc__health__v1__health_check_request__pack(&in, buf);
	expect_answer("/grpc.health.v1.Health/Check", NULL, 0, buf, len, GRPC_STATUS_OK, NULL);
}

static size_t pack_jwt(char **aud, size_t naud, const char *id, uint8_t *buf)
{
	JWTSVIDRequest req = JWTSVIDREQUEST__INIT;

	req.audience = aud;
	req.n_audience = naud;
	req.spiffe_id = (char *)id;
	assert_true(jwtsvidrequest__get_packed_size(&req) < 8192);
	return jwtsvidrequest__pack(&req, buf);
}

static void test_jwt_svid_request(void **state)
{
	static uint8_t buf[8192];
	char *aud[40];
	char long_aud[1100];
	struct wlapi_request r;
	size_t len;

	aud[0] = "db";
	aud[1] = "cache";
	len = pack_jwt(aud, 2, "spiffe://example.org/me", buf);
	assert_int_equal(parse("/SpiffeWorkloadAPI/FetchJWTSVID", "true", 1, buf, len, &r), 0);
	assert_int_equal(r.kind, WLAPI_REQ_CORE);
	assert_int_equal(r.rpc.method, WLAPI_FETCH_JWT_SVID);
	assert_int_equal(r.rpc.naud, 2);
	assert_string_equal(r.rpc.aud[1], "cache");
	assert_string_equal(r.rpc.spiffe_id, "spiffe://example.org/me");
	wlapi_request_clear(&r);

	len = pack_jwt(aud, 1, "", buf);
	assert_int_equal(parse("/SpiffeWorkloadAPI/FetchJWTSVID", "true", 1, buf, len, &r), 0);
	assert_null(r.rpc.spiffe_id);
	wlapi_request_clear(&r);

	len = pack_jwt(aud, 0, "", buf);
	expect_answer("/SpiffeWorkloadAPI/FetchJWTSVID", "true", 1, buf, len, GRPC_STATUS_INVALID_ARGUMENT,
		      "audience must be specified");
	for (int i = 0; i < 40; i++)
		aud[i] = "a";
	len = pack_jwt(aud, 40, "", buf);
	expect_answer("/SpiffeWorkloadAPI/FetchJWTSVID", "true", 1, buf, len, GRPC_STATUS_INVALID_ARGUMENT,
		      "too many audiences");
	aud[0] = "";
	len = pack_jwt(aud, 1, "", buf);
	expect_answer("/SpiffeWorkloadAPI/FetchJWTSVID", "true", 1, buf, len, GRPC_STATUS_INVALID_ARGUMENT, NULL);
	memset(long_aud, 'x', sizeof(long_aud) - 1);
	long_aud[sizeof(long_aud) - 1] = '\0';
	aud[0] = long_aud;
	len = pack_jwt(aud, 1, "", buf);
	expect_answer("/SpiffeWorkloadAPI/FetchJWTSVID", "true", 1, buf, len, GRPC_STATUS_INVALID_ARGUMENT, NULL);
	aud[0] = "bad\x01";
	len = pack_jwt(aud, 1, "", buf);
	expect_answer("/SpiffeWorkloadAPI/FetchJWTSVID", "true", 1, buf, len, GRPC_STATUS_INVALID_ARGUMENT, NULL);
}

static void test_validate_request(void **state)
{
	ValidateJWTSVIDRequest req = VALIDATE_JWTSVIDREQUEST__INIT;
	struct wlapi_request r;
	uint8_t buf[256];
	size_t len;

	len = validate_jwtsvidrequest__pack(&req, buf);
	expect_answer("/SpiffeWorkloadAPI/ValidateJWTSVID", "true", 1, buf, len, GRPC_STATUS_INVALID_ARGUMENT,
		      "audience must be specified");
	req.audience = "db";
	len = validate_jwtsvidrequest__pack(&req, buf);
	expect_answer("/SpiffeWorkloadAPI/ValidateJWTSVID", "true", 1, buf, len, GRPC_STATUS_INVALID_ARGUMENT,
		      "svid must be specified");
	req.svid = "a.b.c";
	len = validate_jwtsvidrequest__pack(&req, buf);
	assert_int_equal(parse("/SpiffeWorkloadAPI/ValidateJWTSVID", "true", 1, buf, len, &r), 0);
	assert_int_equal(r.kind, WLAPI_REQ_VALIDATE);
	assert_string_equal(r.audience, "db");
	assert_string_equal(r.token, "a.b.c");
	wlapi_request_clear(&r);
}

/* Strings with an embedded NUL: protobuf-c would cut them ("a\0b" read
 * as "a"), so they are refused on the wire bytes. Hand-written messages:
 * field 1 (audience) and field 2 (spiffe_id / svid), wire type 2. */
static void test_embedded_nul(void **state)
{
	static const uint8_t aud_nul[] = {0x0a, 3, 'a', 0, 'b'};
	static const uint8_t id_nul[] = {0x0a, 1, 'a', 0x12, 4, 's', 'p', 0, 'x'};
	static const uint8_t token_junk[] = {0x0a, 4, 'a', 'u', 'd', '1', 0x12, 10, 'a', '.', 'b', '.', 'c', 0, 'j', 'u', 'n', 'k'};
	static const uint8_t aud_evil[] = {0x0a, 9, 'a', 'u', 'd', '1', 0, 'e', 'v', 'i', 'l', 0x12, 5, 'a', '.', 'b', '.', 'c'};
	static const uint8_t health_nul[] = {0x0a, 3, 'x', 0, 'y'};
	static const uint8_t truncated[] = {0x0a, 9, 'a'};
	static const uint8_t clean[] = {0x0a, 4, 'a', 'u', 'd', '1', 0x12, 5, 'a', '.', 'b', '.', 'c'};
	struct wlapi_request r;

	expect_answer("/SpiffeWorkloadAPI/FetchJWTSVID", "true", 1, aud_nul, sizeof(aud_nul),
		      GRPC_STATUS_INVALID_ARGUMENT, "a string field holds a NUL byte");
	expect_answer("/SpiffeWorkloadAPI/FetchJWTSVID", "true", 1, id_nul, sizeof(id_nul),
		      GRPC_STATUS_INVALID_ARGUMENT, "a string field holds a NUL byte");
	expect_answer("/SpiffeWorkloadAPI/ValidateJWTSVID", "true", 1, token_junk, sizeof(token_junk),
		      GRPC_STATUS_INVALID_ARGUMENT, "a string field holds a NUL byte");
	expect_answer("/SpiffeWorkloadAPI/ValidateJWTSVID", "true", 1, aud_evil, sizeof(aud_evil),
		      GRPC_STATUS_INVALID_ARGUMENT, "a string field holds a NUL byte");
	expect_answer("/grpc.health.v1.Health/Check", NULL, 0, health_nul, sizeof(health_nul),
		      GRPC_STATUS_INVALID_ARGUMENT, "a string field holds a NUL byte");
	expect_answer("/SpiffeWorkloadAPI/ValidateJWTSVID", "true", 1, truncated, sizeof(truncated),
		      GRPC_STATUS_INVALID_ARGUMENT, "malformed request message");
	/* the control: the same message without the NUL goes through */
	assert_int_equal(parse("/SpiffeWorkloadAPI/ValidateJWTSVID", "true", 1, clean, sizeof(clean), &r), 0);
	assert_int_equal(r.kind, WLAPI_REQ_VALIDATE);
	assert_string_equal(r.audience, "aud1");
	assert_string_equal(r.token, "a.b.c");
	wlapi_request_clear(&r);
}

static void test_pb_wire(void **state)
{
	static const uint8_t varint_fields[] = {0x08, 0x96, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1d, 1, 2, 3, 4};
	static const uint8_t overlong_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
	static const uint8_t field_zero[] = {0x02, 0};
	static const uint8_t group[] = {0x0b};
	static const uint8_t short_fixed[] = {0x11, 1, 2};
	static const uint8_t huge_len[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};

	assert_int_equal(pb_wire_strings_check(NULL, 0), 0);
	assert_int_equal(pb_wire_strings_check(varint_fields, sizeof(varint_fields)), 0);
	assert_int_equal(pb_wire_strings_check(overlong_varint, sizeof(overlong_varint)), -EBADMSG);
	assert_int_equal(pb_wire_strings_check(field_zero, sizeof(field_zero)), -EBADMSG);
	assert_int_equal(pb_wire_strings_check(group, sizeof(group)), -EBADMSG);
	assert_int_equal(pb_wire_strings_check(short_fixed, sizeof(short_fixed)), -EBADMSG);
	assert_int_equal(pb_wire_strings_check(huge_len, sizeof(huge_len)), -EBADMSG);
}

static void test_pbstruct(void **state)
{
	json_object *claims = json_tokener_parse(
		"{\"sub\": \"spiffe://example.org/a\", \"aud\": [\"db\", \"x\"], \"exp\": 1700000000,"
		" \"nested\": {\"ok\": true, \"none\": null, \"pi\": 3.5}}");
	Google__Protobuf__Struct *s, *back;
	uint8_t buf[1024];
	size_t len;
	json_object *deep = json_object_new_object(), *cur = deep;

	assert_non_null(claims);
	assert_int_equal(pbstruct_from_json(claims, &s), 0);
	len = google__protobuf__struct__get_packed_size(s);
	assert_true(len < sizeof(buf));
	google__protobuf__struct__pack(s, buf);
	google__protobuf__struct__free_unpacked(s, NULL);
	back = google__protobuf__struct__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_int_equal(back->n_fields, 4);
	for (size_t i = 0; i < back->n_fields; i++) {
		Google__Protobuf__Value *v = back->fields[i]->value;
		if (streq(back->fields[i]->key, "aud")) {
			assert_int_equal(v->kind_case, GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE);
			assert_string_equal(v->list_value->values[1]->string_value, "x");
		} else if (streq(back->fields[i]->key, "exp")) {
			assert_true(v->number_value == 1700000000.0);
		} else if (streq(back->fields[i]->key, "nested")) {
			assert_int_equal(v->struct_value->n_fields, 3);
		}
	}
	google__protobuf__struct__free_unpacked(back, NULL);
	json_object_put(claims);

	/* Nesting deeper than the bound is refused, not recursed into. */
	for (int i = 0; i < PBSTRUCT_MAX_DEPTH + 2; i++) {
		json_object *n = json_object_new_object();
		json_object_object_add(cur, "n", n);
		cur = n;
	}
	assert_int_equal(pbstruct_from_json(deep, &s), -EINVAL);
	json_object_put(deep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_security_header),
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_jwt_svid_request),
		cmocka_unit_test(test_validate_request),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_pb_wire),
		cmocka_unit_test(test_pbstruct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
