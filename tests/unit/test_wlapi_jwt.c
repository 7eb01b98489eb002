/* test_wlapi_jwt.c - ValidateJWTSVID in the front: the key set document
 * the core pushes (JWKS per trust domain) becomes public keys, and tokens
 * minted with the authority's JWT code validate against it; wrong
 * audience, tampered signature or claims, unknown kid, expired tokens and
 * other trust domains are refused with a reason. The response carries the
 * claims as a google.protobuf.Struct. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <time.h>

#include "kwid/grpc.h"
#include "kwid/jwk.h"
#include "kwid/jwt.h"
#include "kwid/signer.h"
#include "kwid/util.h"
#include "kwid/wlapi_front_jwt.h"

#include "workload.pb-c.h"

struct fixture {
	EVP_PKEY *key;
	struct kwid_signer signer;
	char kid[JWK_THUMBPRINT_LEN + 1];
	char *header;
	struct wlapi_jwt_keys *keys;
};

/* {"spiffe://example.org": {"keys": [<the key as jwt-svid>]}} */
static char *keyset_doc(struct fixture *f, const char *td_id, const char *use)
{
	int err = 0;
	json_object *jwk = jwk_from_pkey(f->key, &err), *keys = json_object_new_array(),
		    *jwks = json_object_new_object(), *doc = json_object_new_object();
	char *text;

	assert_non_null(jwk);
	json_object_object_add(jwk, "use", json_object_new_string(use));
	json_object_object_add(jwk, "kid", json_object_new_string(f->kid));
	json_object_array_add(keys, jwk);
	json_object_object_add(jwks, "keys", keys);
	json_object_object_add(doc, td_id, jwks);
	text = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
	json_object_put(doc);
	return text;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	_cleanup_free_ char *doc = NULL;
	const char *why;

	f->key = EVP_EC_gen("P-256");
	assert_non_null(f->key);
	assert_int_equal(signer_init(&f->signer, f->key, &why), 0);
	assert_int_equal(jwk_thumbprint(f->key, f->kid), 0);
	f->header = jwt_header_b64(f->kid);
	doc = keyset_doc(f, "spiffe://example.org", "jwt-svid");
	assert_int_equal(wlapi_jwt_keys_new(doc, strlen(doc), &f->keys), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	wlapi_jwt_keys_free(f->keys);
	signer_clear(&f->signer);
	EVP_PKEY_free(f->key);
	free(f->header);
	free(f);
	return 0;
}

static char *mint(struct fixture *f, const char *sub, int64_t exp_in)
{
	const char *aud[] = {"db", "cache"};
	int64_t now = (int64_t)time(NULL);
	char *token = NULL;

	assert_int_equal(jwt_encode(&f->signer, f->header, sub, aud, 2, now, now + exp_in, &token), 0);
	return token;
}

static int validate(struct fixture *f, const char *token, const char *aud, const char **why, char **sub)
{
	uint8_t *resp = NULL;
	size_t len = 0;
	int status = wlapi_jwt_validate(f->keys, token, aud, &resp, &len, why);

	if (status == GRPC_STATUS_OK) {
		ValidateJWTSVIDResponse *r = validate_jwtsvidresponse__unpack(NULL, len, resp);
		assert_non_null(r);
		assert_non_null(r->claims);
		if (sub)
			*sub = strdup(r->spiffe_id);
		validate_jwtsvidresponse__free_unpacked(r, NULL);
	}
	free(resp);
	return status;
}

static void test_good_token(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *token = mint(f, "spiffe://example.org/web", 300), *sub = NULL;
	const char *why = NULL;

	assert_int_equal(validate(f, token, "cache", &why, &sub), GRPC_STATUS_OK);
	assert_string_equal(sub, "spiffe://example.org/web");
}

static void test_refusals(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *token = mint(f, "spiffe://example.org/web", 300);
	_cleanup_free_ char *expired = mint(f, "spiffe://example.org/web", -10);
	_cleanup_free_ char *other_td = mint(f, "spiffe://other.org/web", 300);
	_cleanup_free_ char *tampered = strdup(token);
	char *dot = strrchr(tampered, '.');
	const char *why = NULL;

	assert_int_equal(validate(f, token, "nope", &why, NULL), GRPC_STATUS_INVALID_ARGUMENT);
	assert_non_null(why);
	/* Flip one bit of the signature (a character that is not the last). */
	dot[5] = dot[5] == 'A' ? 'B' : 'A';
	assert_int_equal(validate(f, tampered, "db", &why, NULL), GRPC_STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(why, "signature"));
	assert_int_equal(validate(f, expired, "db", &why, NULL), GRPC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(validate(f, other_td, "db", &why, NULL), GRPC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(validate(f, "a.b", "db", &why, NULL), GRPC_STATUS_INVALID_ARGUMENT);
	/* No key set yet: UNAVAILABLE, the client retries. */
	assert_int_equal(wlapi_jwt_validate(NULL, token, "db", NULL, NULL, &why), GRPC_STATUS_UNAVAILABLE);
}

static void test_key_sets(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *token = mint(f, "spiffe://example.org/web", 300);
	_cleanup_free_ char *x509_only = keyset_doc(f, "spiffe://example.org", "x509-svid");
	_cleanup_free_ char *bad_td = keyset_doc(f, "spiffe://Example.org", "jwt-svid");
	struct wlapi_jwt_keys *k;
	uint8_t *resp = NULL;
	size_t len;
	const char *why;

	/* A key not marked jwt-svid does not validate JWT-SVIDs. */
	assert_int_equal(wlapi_jwt_keys_new(x509_only, strlen(x509_only), &k), 0);
	assert_int_equal(wlapi_jwt_validate(k, token, "db", &resp, &len, &why), GRPC_STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(why, "kid"));
	wlapi_jwt_keys_free(k);
	assert_int_equal(wlapi_jwt_keys_new(bad_td, strlen(bad_td), &k), -EINVAL);
	assert_int_equal(wlapi_jwt_keys_new("[]", 2, &k), -EINVAL);
	assert_int_equal(wlapi_jwt_keys_new("{\"spiffe://x\": 1", 16, &k), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_sets, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
