/* test_jwt.c - JWT-SVID encoding and every way validation must refuse a
 * token: bad or foreign signatures, unknown kid, alg none / HMAC / key
 * confusion, expiry, audience, malformed segments and JSON, oversize. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <time.h>

#include "kwid/base64.h"
#include "kwid/jwk.h"
#include "kwid/jwt.h"
#include "kwid/util.h"

#define TD "example.org"
#define SUB "spiffe://example.org/ns/prod/sa/web"

struct keys {
	EVP_PKEY *key, *other;
	struct kwid_signer signer, other_signer;
	char kid[JWK_THUMBPRINT_LEN + 1], other_kid[JWK_THUMBPRINT_LEN + 1];
	char *hdr;
};

static struct keys K;

static EVP_PKEY *lookup(void *ud, const char *kid)
{
	struct keys *k = ud;

	if (streq(kid, k->kid))
		return k->key;
	return NULL; /* other_kid is not in the bundle */
}

static int setup(void **state)
{
	K.key = EVP_EC_gen("P-256");
	K.other = EVP_EC_gen("P-256");
	assert_int_equal(signer_init(&K.signer, K.key, NULL), 0);
	assert_int_equal(signer_init(&K.other_signer, K.other, NULL), 0);
	assert_int_equal(jwk_thumbprint(K.key, K.kid), 0);
	assert_int_equal(jwk_thumbprint(K.other, K.other_kid), 0);
	K.hdr = jwt_header_b64(K.kid);
	return 0;
}

static int teardown(void **state)
{
	signer_clear(&K.signer);
	signer_clear(&K.other_signer);
	EVP_PKEY_free(K.key);
	EVP_PKEY_free(K.other);
	free(K.hdr);
	return 0;
}

__attribute__((noinline)) static char *mint(const char *sub, int64_t iat, int64_t exp)
{
	static const char *const aud[] = {"spiffe://example.org/db", "other"};
	char *t = NULL;

	assert_int_equal(jwt_encode(&K.signer, K.hdr, sub, aud, 2, iat, exp, &t), 0);
	return t;
}

static int validate(const char *token, const char *aud, const char **reason)
{
	char *id = NULL;
	json_object *claims = NULL;
	int r = jwt_validate(token, aud, time(NULL), TD, lookup, &K, &id, &claims, reason);

	if (r == 0) {
		assert_string_equal(id, SUB);
		free(id);
		json_object_put(claims);
	}
	return r;
}

static void expect_refused(const char *token, const char *aud, const char *needle)
{
	const char *reason = NULL;

	assert_int_equal(validate(token, aud, &reason), -EINVAL);
	assert_non_null(reason);
	if (!strstr(reason, needle))
		fail_msg("refused with '%s', expected '%s'", reason, needle);
}

/* header.payload.signature built from JSON texts; sig may be NULL (then
 * signed with `signer` over the first two segments, raw r||s). */
static char *craft(const char *header_json, const char *claims_json, struct kwid_signer *signer, const char *sig)
{
	char *h = base64url_encode_alloc((const uint8_t *)header_json, strlen(header_json));
	char *p = base64url_encode_alloc((const uint8_t *)claims_json, strlen(claims_json));
	char *out = NULL, *input = NULL;

	assert_true(asprintf(&input, "%s.%s", h, p) > 0);
	if (sig) {
		assert_true(asprintf(&out, "%s.%s", input, sig) > 0);
	} else {
		uint8_t der[SIGNER_MAX_SIG], raw[64];
		size_t derlen = sizeof(der);
		char s64[128];
		assert_int_equal(signer_sign(signer, input, strlen(input), der, &derlen), 0);
		assert_int_equal(ecdsa_der_to_raw(der, derlen, 32, raw), 0);
		base64url_encode(raw, 64, s64);
		assert_true(asprintf(&out, "%s.%s", input, s64) > 0);
	}
	free(h);
	free(p);
	free(input);
	return out;
}

static char *claims_json(int64_t exp, const char *aud_json)
{
	char *c = NULL;

	assert_true(asprintf(&c, "{\"sub\":\"" SUB "\",\"aud\":%s,\"exp\":%lld}", aud_json, (long long)exp) > 0);
	return c;
}

static char *header_json(const char *alg, const char *kid)
{
	char *h = NULL;

	assert_true(asprintf(&h, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", alg, kid) > 0);
	return h;
}

static void test_roundtrip(void **state)
{
	int64_t now = time(NULL);
	char *t = mint(SUB, now, now + 300);
	char *id = NULL, hdr[256];
	json_object *claims = NULL, *aud;
	const char *reason = NULL, *dot1, *dot2;
	ssize_t n;

	dot1 = strchr(t, '.');
	dot2 = strrchr(t, '.');

	/* header: exactly alg, kid, typ */
	n = base64url_decode(t, (size_t)(dot1 - t), (uint8_t *)hdr, sizeof(hdr) - 1);
	assert_true(n > 0);
	hdr[n] = '\0';
	char *want = header_json("ES256", K.kid);
	assert_string_equal(hdr, want);
	free(want);
	assert_int_equal(strlen(dot2 + 1), 86); /* 64-byte r||s */
	assert_int_equal(jwt_validate(t, "other", now, TD, lookup, &K, &id, &claims, &reason), 0);
	assert_string_equal(id, SUB);
	assert_int_equal(json_object_get_int64(json_object_object_get(claims, "exp")), now + 300);
	assert_int_equal(json_object_get_int64(json_object_object_get(claims, "iat")), now);
	aud = json_object_object_get(claims, "aud");
	assert_int_equal(json_object_array_length(aud), 2);
	free(id);
	json_object_put(claims);
	free(t);
}

static void test_signature_failures(void **state)
{
	int64_t now = time(NULL);
	char *a = mint(SUB, now, now + 300), *b = mint("spiffe://example.org/other", now, now + 600);
	char *mixed = NULL, *c, *h, *forged;

	/* claims of one token with the signature of another */
	assert_true(asprintf(&mixed, "%.*s%s", (int)(strrchr(b, '.') - b), b, strrchr(a, '.')) > 0);
	expect_refused(mixed, "other", "signature does not verify");
	/* signed by a key outside the bundle but naming our kid */
	c = claims_json(now + 300, "\"other\"");
	h = header_json("ES256", K.kid);
	forged = craft(h, c, &K.other_signer, NULL);
	expect_refused(forged, "other", "signature does not verify");
	free(forged);
	free(h);
	/* signed by a key outside the bundle, with its own kid */
	h = header_json("ES256", K.other_kid);
	forged = craft(h, c, &K.other_signer, NULL);
	expect_refused(forged, "other", "kid is not in");
	free(forged);
	free(h);
	/* signature of the wrong size, and not base64url */
	h = header_json("ES256", K.kid);
	forged = craft(h, c, NULL, "AAAA");
	expect_refused(forged, "other", "r||s size");
	free(forged);
	forged = craft(h, c, NULL, "!!!!");
	expect_refused(forged, "other", "r||s size");
	free(forged);
	free(h);
	free(c);
	free(mixed);
	free(a);
	free(b);
}

static void test_algorithm_confusion(void **state)
{
	int64_t now = time(NULL);
	char *c = claims_json(now + 300, "\"other\""), *h, *t;
	uint8_t pub[65], mac[32];
	unsigned maclen = 0;
	size_t publen = 0;
	char *input = NULL, sig[64];

	h = header_json("none", K.kid);
	t = craft(h, c, NULL, "");
	expect_refused(t, "other", "unsigned");
	free(t);
	t = craft(h, c, NULL, "AAAA");
	expect_refused(t, "other", "alg none");
	free(t);
	free(h);
	/* HS256 keyed with the public key the bundle publishes */
	h = header_json("HS256", K.kid);
	t = craft(h, c, NULL, "x");
	*strrchr(t, '.') = '\0';
	EVP_PKEY_get_octet_string_param(K.key, "encoded-pub-key", pub, sizeof(pub), &publen);
	HMAC(EVP_sha256(), pub, (int)publen, (const uint8_t *)t, strlen(t), mac, &maclen);
	base64url_encode(mac, maclen, sig);
	assert_true(asprintf(&input, "%s.%s", t, sig) > 0);
	expect_refused(input, "other", "symmetric");
	free(input);
	free(t);
	free(h);
	/* other asymmetric algorithms than the key's */
	h = header_json("ES384", K.kid);
	t = craft(h, c, &K.signer, NULL);
	expect_refused(t, "other", "alg does not match");
	free(t);
	free(h);
	h = header_json("RS256", K.kid);
	t = craft(h, c, &K.signer, NULL);
	expect_refused(t, "other", "alg does not match");
	free(t);
	free(h);
	h = header_json("EdDSA", K.kid);
	t = craft(h, c, &K.signer, NULL);
	expect_refused(t, "other", "not one of the SPIFFE");
	free(t);
	free(h);
	free(c);
}

/* The claims template with EXP replaced by exp (if present). */
static char *with_exp(const char *tmpl, int64_t exp)
{
	const char *at = strstr(tmpl, "EXP");
	char *out = NULL;

	if (!at)
		return strdup(tmpl);
	assert_true(asprintf(&out, "%.*s%lld%s", (int)(at - tmpl), tmpl, (long long)exp, at + 3) > 0);
	return out;
}

static void test_claims(void **state)
{
	int64_t now = time(NULL);
	char *h = header_json("ES256", K.kid), *t, *c;
	struct {
		const char *claims, *aud, *needle;
	} cases[] = {
		{"{\"sub\":\"" SUB "\",\"aud\":\"db\",\"exp\":EXP}", "db", NULL}, /* aud as a string */
		{"{\"sub\":\"" SUB "\",\"aud\":[\"db\"],\"exp\":EXP}", "web", "audience is not in aud"},
		{"{\"sub\":\"" SUB "\",\"aud\":[\"db\"],\"exp\":EXP}", "d", "audience is not in aud"},
		{"{\"sub\":\"" SUB "\",\"aud\":[],\"exp\":EXP}", "db", "no or too many"},
		{"{\"sub\":\"" SUB "\",\"aud\":[1],\"exp\":EXP}", "db", "non-string"},
		{"{\"sub\":\"" SUB "\",\"exp\":EXP}", "db", "aud claim missing"},
		{"{\"sub\":\"" SUB "\",\"aud\":\"db\\u0000x\",\"exp\":EXP}", "db", "audience is not in aud"},
		{"{\"aud\":\"db\",\"exp\":EXP}", "db", "sub claim missing"},
		{"{\"sub\":\"spiffe://other.org/web\",\"aud\":\"db\",\"exp\":EXP}", "db", "no bundle"},
		{"{\"sub\":\"spiffe://example.org\",\"aud\":\"db\",\"exp\":EXP}", "db", "not a workload"},
		{"{\"sub\":\"spiffe://Example.org/x\",\"aud\":\"db\",\"exp\":EXP}", "db", "not a valid SPIFFE ID"},
		{"{\"sub\":\"" SUB "\",\"aud\":\"db\",\"exp\":\"EXP\"}", "db", "exp claim is not a number"},
		{"{\"sub\":\"" SUB "\",\"aud\":\"db\",\"nbf\":EXP}", "db", "exp claim missing"},
		{"{\"sub\":\"" SUB "\",\"aud\":\"db\",\"exp\":EXP,\"nbf\":99999999999}", "db", "not valid yet"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		c = with_exp(cases[i].claims, now + 300);
		t = craft(h, c, &K.signer, NULL);
		if (cases[i].needle)
			expect_refused(t, cases[i].aud, cases[i].needle);
		else
			assert_int_equal(validate(t, cases[i].aud, NULL), 0);
		free(t);
		free(c);
	}
	free(h);
}

static void test_expiry(void **state)
{
	int64_t now = time(NULL);
	char *t = mint(SUB, now - 100, now - 1);
	const char *reason;
	char *id;
	json_object *claims;

	expect_refused(t, "other", "expired");
	free(t);
	t = mint(SUB, now, now + 10);
	assert_int_equal(jwt_validate(t, "other", now + 9, TD, lookup, &K, &id, &claims, &reason), 0);
	free(id);
	json_object_put(claims);
	assert_int_equal(jwt_validate(t, "other", now + 10, TD, lookup, &K, &id, &claims, &reason), -EINVAL);
	assert_string_equal(reason, "token has expired");
	free(t);
}

static void test_malformed(void **state)
{
	int64_t now = time(NULL);
	char *good = mint(SUB, now, now + 300), *t, *big;
	const char *dot = strchr(good, '.');
	struct {
		const char *header, *needle;
	} headers[] = {
		{"[1,2]", "header is not base64url of a JSON object"},
		{"{\"alg\":\"ES256\",\"kid\":\"k\",\"typ\":\"JWT\"} x", "header is not base64url"},
		{"{\"alg\":\"ES256\",\"kid\":\"k\",", "header is not base64url"},
		{"{\"alg\":\"ES256\",\"typ\":\"JWT\"}", "no kid"},
		{"{\"alg\":\"ES256\",\"kid\":\"\"}", "no kid"},
		{"{\"alg\":\"ES256\",\"kid\":7}", "no kid"},
		{"{\"alg\":5,\"kid\":\"k\"}", "no alg"},
		{"{\"kid\":\"k\"}", "no alg"},
		{"{\"alg\":\"ES256\",\"kid\":\"k\",\"typ\":\"at+jwt\"}", "typ must be"},
		{"{\"alg\":\"ES256\",\"kid\":\"k\",\"crit\":[\"exp\"]}", "other than alg"},
		{"{\"alg\":\"ES256\",\"kid\":\"k\",\"jku\":\"https://evil\"}", "other than alg"},
		{"{'alg':'ES256'}", "header is not base64url"},
	};

	expect_refused("", "a", "empty");
	expect_refused("abc", "a", "three");
	expect_refused("a.b", "a", "three");
	expect_refused("a.b.c.d", "a", "three");
	expect_refused(".b.c", "a", "empty header");
	expect_refused("a..c", "a", "empty header");
	expect_refused("a+/.b.c", "a", "header is not base64url");
	expect_refused("eyJ=.b.c", "a", "header is not base64url");
	for (size_t i = 0; i < ARRAY_SIZE(headers); i++) {
		t = craft(headers[i].header, "{}", NULL, "AAAA");
		expect_refused(t, "a", headers[i].needle);
		free(t);
	}
	/* claims not JSON, but correctly signed */
	t = craft(strchr(good, '.') ? "{\"alg\":\"ES256\",\"kid\":\"x\"}" : "", "not json", NULL, "AAAA");
	free(t);
	{
		char *h = header_json("ES256", K.kid);
		t = craft(h, "not json", &K.signer, NULL);
		expect_refused(t, "a", "claims are not");
		free(t);
		t = craft(h, "{\"sub\":1}{}", &K.signer, NULL);
		expect_refused(t, "a", "claims are not");
		free(t);
		free(h);
	}
	/* oversize */
	big = malloc(JWT_MAX_LEN + 2);
	memset(big, 'A', JWT_MAX_LEN + 1);
	big[JWT_MAX_LEN + 1] = '\0';
	memcpy(big, good, strlen(good));
	expect_refused(big, "other", "longer than");
	free(big);
	/* no audience asked for */
	expect_refused(good, "", "audience is empty");
	(void)dot;
	free(good);
}

static void test_encode_rejects(void **state)
{
	static const char *const aud[] = {"a"};
	struct kwid_signer rsa = {0};
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	char *t = NULL;

	assert_int_equal(jwt_encode(&K.signer, K.hdr, SUB, aud, 0, 1, 2, &t), -EINVAL);
	/* 32 audiences of 1000 bytes: longer than validation accepts */
	{
		const char *many[JWT_MAX_AUDIENCES];
		char *long_aud = malloc(1001);
		memset(long_aud, 'a', 1000);
		long_aud[1000] = '\0';
		for (int i = 0; i < JWT_MAX_AUDIENCES; i++)
			many[i] = long_aud;
		assert_int_equal(jwt_encode(&K.signer, K.hdr, SUB, many, JWT_MAX_AUDIENCES, 1, 2, &t), -E2BIG);
		free(long_aud);
	}
	assert_int_equal(signer_init(&rsa, k, NULL), 0);
	assert_int_equal(jwt_encode(&rsa, K.hdr, SUB, aud, 1, 1, 2, &t), -EINVAL);
	signer_clear(&rsa);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),	   cmocka_unit_test(test_signature_failures),
		cmocka_unit_test(test_algorithm_confusion), cmocka_unit_test(test_claims),
		cmocka_unit_test(test_expiry),		   cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_encode_rejects),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
