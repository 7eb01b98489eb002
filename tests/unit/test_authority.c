/* test_authority.c - the authority object on a real event loop and state
 * directory: files and modes, the JWKS shapes (full SPIFFE bundle and the
 * Workload API's JWT bundle), spiffe_sequence across rotation and restart,
 * minting and validation, and refusal of damaged state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <openssl/x509.h>
#include <sys/stat.h>

#include "kwid/agent.h"
#include "kwid/authority.h"
#include "kwid/base64.h"
#include "kwid/log.h"

#define SUB "spiffe://example.org/ns/test/sa/app"

struct fixture {
	char dir[64];
	struct kwid_agent a;
	struct kwid_authority *au;
};

static int start(struct fixture *f, const char *authority_json)
{
	json_object *ov = json_object_new_object();
	char *err = NULL;
	int r;

	json_object_object_add(ov, "state_dir", json_object_new_string(f->dir));
	if (authority_json)
		json_object_object_add(ov, "authority", json_tokener_parse(authority_json));
	assert_int_equal(config_load(NULL, ov, &f->a.cfg, &err), 0);
	json_object_put(ov);
	assert_int_equal(loop_new(&f->a.loop), 0);
	r = authority_new(&f->a, &f->au);
	return r;
}

static void stop(struct fixture *f)
{
	authority_free(f->au);
	f->au = NULL;
	loop_free(f->a.loop);
	agent_free_subscriptions(&f->a);
	config_free(f->a.cfg);
	memset(&f->a, 0, sizeof(f->a));
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/kwid-authority-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	log_set_level(LOG_LVL_WARN);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (f->au)
		stop(f);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static mode_t mode_of(const char *dir, const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static json_object *key_of_use(json_object *jwks, const char *use, int nth)
{
	json_object *keys = json_object_object_get(jwks, "keys");

	for (size_t i = 0; i < json_object_array_length(keys); i++) {
		json_object *k = json_object_array_get_idx(keys, i);
		if (streq(json_object_get_string(json_object_object_get(k, "use")), use) && nth-- == 0)
			return k;
	}
	return NULL;
}

static size_t count_use(json_object *jwks, const char *use)
{
	size_t n = 0;

	while (key_of_use(jwks, use, (int)n))
		n++;
	return n;
}

static int64_t sequence(struct fixture *f)
{
	json_object *b = authority_bundle_jwks(f->au);
	int64_t s = json_object_get_int64(json_object_object_get(b, "spiffe_sequence"));

	json_object_put(b);
	return s;
}

static void test_fresh_state_and_jwks(void **state)
{
	struct fixture *f = *state;
	char adir[128], *jwt_json = NULL;
	uint8_t *der = NULL, x5c[4096];
	size_t der_len = 0, jwt_len = 0;
	json_object *b, *k, *jb;
	ssize_t n;

	assert_int_equal(start(f, "{\"bundle_refresh_hint_s\": 77}"), 0);
	snprintf(adir, sizeof(adir), "%s/authority", f->dir);
	assert_int_equal(mode_of(f->dir, "authority"), 0700);
	assert_int_equal(mode_of(adir, "state.json"), 0600);

	b = authority_bundle_jwks(f->au);
	assert_int_equal(json_object_get_int64(json_object_object_get(b, "spiffe_sequence")), 2); /* CA, then JWT key */
	assert_int_equal(json_object_get_int64(json_object_object_get(b, "spiffe_refresh_hint")), 77);
	assert_int_equal(count_use(b, "x509-svid"), 1);
	assert_int_equal(count_use(b, "jwt-svid"), 1);
	assert_int_equal(json_object_array_length(json_object_object_get(b, "keys")), 2);

	k = key_of_use(b, "x509-svid", 0);
	assert_null(json_object_object_get(k, "kid"));
	assert_null(json_object_object_get(k, "d"));
	assert_string_equal(json_object_get_string(json_object_object_get(k, "kty")), "EC");
	assert_string_equal(json_object_get_string(json_object_object_get(k, "crv")), "P-256");
	assert_int_equal(json_object_array_length(json_object_object_get(k, "x5c")), 1);
	/* x5c is standard base64 of exactly the DER bundle's certificate */
	const char *b64 = json_object_get_string(json_object_array_get_idx(json_object_object_get(k, "x5c"), 0));
	n = EVP_DecodeBlock(x5c, (const unsigned char *)b64, (int)strlen(b64));
	assert_true(n > 0);
	assert_int_equal(authority_x509_bundle_der(f->au, &der, &der_len), 0);
	assert_true((size_t)n >= der_len && (size_t)n - der_len < 3); /* DecodeBlock counts padding */
	assert_memory_equal(x5c, der, der_len);

	k = key_of_use(b, "jwt-svid", 0);
	assert_int_equal(strlen(json_object_get_string(json_object_object_get(k, "kid"))), 43);
	assert_null(json_object_object_get(k, "d"));
	assert_null(json_object_object_get(k, "x5c"));
	assert_int_equal(strlen(json_object_get_string(json_object_object_get(k, "x"))), 43); /* 32 bytes */
	assert_int_equal(strlen(json_object_get_string(json_object_object_get(k, "y"))), 43);

	/* the Workload API's JWT bundle: only jwt-svid keys */
	assert_int_equal(authority_jwt_bundle_jwks(f->au, &jwt_json, &jwt_len), 0);
	jb = json_tokener_parse(jwt_json);
	assert_non_null(jb);
	assert_int_equal(count_use(jb, "jwt-svid"), 1);
	assert_int_equal(count_use(jb, "x509-svid"), 0);
	assert_int_equal(strlen(jwt_json), jwt_len);
	assert_null(strstr(jwt_json, "\\/")); /* no escaped slashes */
	json_object_put(jb);
	json_object_put(b);
	free(jwt_json);
	free(der);
}

static void test_mint_and_validate(void **state)
{
	struct fixture *f = *state;
	static const char *const aud[] = {"spiffe://example.org/db"};
	static const char *const dns[] = {"app.example.org"};
	struct x509_svid_request req = {.spiffe_id = SUB, .dns = dns, .ndns = 1, .ttl_s = 600, .hint = "h"};
	struct kwid_x509_svid *s = NULL;
	const unsigned char *p;
	uint8_t *der = NULL;
	size_t len = 0;
	X509_STORE *store;
	X509_STORE_CTX *ctx;
	X509 *leaf, *root;
	char *token = NULL, *id = NULL;
	json_object *claims = NULL;
	const char *reason = NULL;

	assert_int_equal(start(f, NULL), 0);
	assert_int_equal(authority_mint_x509(f->au, &req, &s), 0);
	assert_int_equal(s->not_after - s->not_before, 600 + 30);
	assert_string_equal(s->hint, "h");
	assert_int_equal(s->key_len, 138);
	p = s->chain_der;
	leaf = d2i_X509(NULL, &p, (long)s->chain_len);
	assert_non_null(leaf);
	assert_ptr_equal(p, s->chain_der + s->chain_len); /* local CA: the chain is the leaf */
	assert_int_equal(authority_x509_bundle_der(f->au, &der, &len), 0);
	p = der;
	root = d2i_X509(NULL, &p, (long)len);
	store = X509_STORE_new();
	X509_STORE_add_cert(store, root);
	ctx = X509_STORE_CTX_new();
	X509_STORE_CTX_init(ctx, store, leaf, NULL);
	assert_int_equal(X509_verify_cert(ctx), 1);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(root);
	X509_free(leaf);
	free(der);
	x509_svid_unref(s);

	req.spiffe_id = "spiffe://other.org/x";
	assert_int_equal(authority_mint_x509(f->au, &req, &s), -EINVAL);
	req.spiffe_id = "spiffe://example.org";
	assert_int_equal(authority_mint_x509(f->au, &req, &s), -EINVAL);

	assert_int_equal(authority_mint_jwt(f->au, SUB, aud, 1, 0, &token), 0);
	assert_int_equal(authority_validate_jwt(f->au, token, aud[0], &id, &claims, &reason), 0);
	assert_string_equal(id, SUB);
	assert_int_equal(json_object_get_int64(json_object_object_get(claims, "exp")) -
				 json_object_get_int64(json_object_object_get(claims, "iat")),
			 300);
	free(id);
	json_object_put(claims);
	assert_int_equal(authority_validate_jwt(f->au, token, "spiffe://example.org/other", &id, &claims, &reason),
			 -EINVAL);
	assert_string_equal(reason, "audience is not in aud");
	free(token);
	assert_int_equal(authority_mint_jwt(f->au, SUB, aud, 0, 0, &token), -EINVAL);
	assert_int_equal(authority_mint_jwt(f->au, "spiffe://other.org/x", aud, 1, 0, &token), -EINVAL);
}

static bool kid_in(json_object *jwks, const char *kid)
{
	for (int i = 0; key_of_use(jwks, "jwt-svid", i); i++)
		if (streq(json_object_get_string(json_object_object_get(key_of_use(jwks, "jwt-svid", i), "kid")), kid))
			return true;
	return false;
}

static char *token_kid(const char *token)
{
	char hdr[256];
	ssize_t n = base64url_decode(token, (size_t)(strchr(token, '.') - token), (uint8_t *)hdr, sizeof(hdr) - 1);
	json_object *h;
	char *kid;

	assert_true(n > 0);
	hdr[n] = '\0';
	h = json_tokener_parse(hdr);
	kid = strdup(json_object_get_string(json_object_object_get(h, "kid")));
	json_object_put(h);
	return kid;
}

/* Run the loop until the JWT key set differs from `kid_set_size` keys or
 * the deadline (seconds) passes. */
static void run_until_jwt_keys(struct fixture *f, size_t want, int seconds)
{
	uint64_t end = now_mono_ns() + (uint64_t)seconds * 1000000000ull;

	for (;;) {
		json_object *b = authority_bundle_jwks(f->au);
		size_t n = count_use(b, "jwt-svid");
		json_object_put(b);
		if (n == want)
			return;
		if (now_mono_ns() > end)
			fail_msg("JWT key count stayed %zu, waited for %zu", n, want);
		loop_run_once(f->a.loop, 100);
	}
}

static void test_rotation_and_sequence(void **state)
{
	struct fixture *f = *state;
	static const char *const aud[] = {"a"};
	char *t1 = NULL, *t2 = NULL, *kid1, *kid2;
	json_object *b;
	int64_t seq0, seq1;

	assert_int_equal(start(f, "{\"jwt_key_ttl_s\": 6, \"jwt_svid_ttl_s\": 1, \"propagation_delay_s\": 2, "
				  "\"rotate_at_percent\": 50}"),
			 0);
	seq0 = sequence(f);
	assert_int_equal(authority_mint_jwt(f->au, SUB, aud, 1, 0, &t1), 0);
	kid1 = token_kid(t1);
	/* the successor is published... */
	run_until_jwt_keys(f, 2, 10);
	seq1 = sequence(f);
	assert_int_equal(seq1, seq0 + 1);
	/* ...and does not sign yet: the old key signs during the 2 s delay */
	assert_int_equal(authority_mint_jwt(f->au, SUB, aud, 1, 0, &t2), 0);
	kid2 = token_kid(t2);
	assert_string_equal(kid2, kid1);
	free(t2);
	free(kid2);
	/* the old key leaves once its tokens expired; the new one then signs */
	run_until_jwt_keys(f, 1, 10);
	assert_int_equal(sequence(f), seq1 + 1);
	assert_int_equal(authority_mint_jwt(f->au, SUB, aud, 1, 0, &t2), 0);
	kid2 = token_kid(t2);
	assert_string_not_equal(kid1, kid2);
	b = authority_bundle_jwks(f->au);
	assert_false(kid_in(b, kid1));
	assert_true(kid_in(b, kid2));
	json_object_put(b);
	/* a token of the removed key no longer validates */
	{
		char *id = NULL;
		json_object *claims = NULL;
		const char *reason = NULL;
		assert_int_equal(authority_validate_jwt(f->au, t1, "a", &id, &claims, &reason), -EINVAL);
	}
	free(t1);
	free(t2);
	free(kid1);
	free(kid2);
}

static void test_restart_keeps_keys(void **state)
{
	struct fixture *f = *state;
	char *j1 = NULL, *j2 = NULL;
	uint8_t *d1 = NULL, *d2 = NULL;
	size_t l1, l2, n1, n2;
	int64_t s1;

	assert_int_equal(start(f, NULL), 0);
	assert_int_equal(authority_x509_bundle_der(f->au, &d1, &l1), 0);
	assert_int_equal(authority_jwt_bundle_jwks(f->au, &j1, &n1), 0);
	s1 = sequence(f);
	stop(f);
	assert_int_equal(start(f, NULL), 0);
	assert_int_equal(authority_x509_bundle_der(f->au, &d2, &l2), 0);
	assert_int_equal(authority_jwt_bundle_jwks(f->au, &j2, &n2), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, l1);
	assert_string_equal(j1, j2);
	assert_int_equal(sequence(f), s1);
	free(d1);
	free(d2);
	free(j1);
	free(j2);
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/authority/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_damaged_state_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(start(f, NULL), 0);
	stop(f);
	write_text(f->dir, "state.json", "{ \"version\": 1, \"trust_domain\": \"example.org\", \"sequence\": 3, ");
	assert_true(start(f, NULL) < 0);
	stop(f);
	write_text(f->dir, "state.json",
		   "{ \"version\": 1, \"trust_domain\": \"example.org\", \"sequence\": 3, \"bundle_digest\": "
		   "\"00\", \"x509\": [], \"jwt\": [] }");
	assert_true(start(f, NULL) < 0);
	stop(f);
	write_text(f->dir, "state.json",
		   "{ \"version\": 1, \"trust_domain\": \"example.org\", \"sequence\": 3, \"bundle_digest\": "
		   "\"0000000000000000000000000000000000000000000000000000000000000000\", "
		   "\"x509\": [ { \"id\": \"../../etc/passwd\", \"state\": \"active\", \"created\": 1, "
		   "\"activate_at\": 1, \"not_after\": 9999999999, \"signed_until\": 0 } ], \"jwt\": [] }");
	assert_true(start(f, NULL) < 0); /* ids become file names: refused */
	stop(f);
	write_text(f->dir, "state.json",
		   "{ \"version\": 1, \"trust_domain\": \"other.org\", \"sequence\": 3, \"bundle_digest\": "
		   "\"0000000000000000000000000000000000000000000000000000000000000000\", \"x509\": [], \"jwt\": [] }");
	assert_true(start(f, NULL) < 0);
	stop(f);
}

static void test_settings_refused(void **state)
{
	struct fixture *f = *state;

	/* the successor could not become active before the key expires */
	assert_true(start(f, "{\"jwt_key_ttl_s\": 100, \"propagation_delay_s\": 60}") < 0);
	stop(f);
	assert_true(start(f, "{\"jwt_svid_ttl_s\": 100, \"jwt_key_ttl_s\": 100, \"propagation_delay_s\": 1}") < 0);
	stop(f);
	assert_true(start(f, "{\"upstream\": {\"cert\": \"/x\"}}") < 0);
	stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_state_and_jwks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mint_and_validate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_and_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_state_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settings_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
