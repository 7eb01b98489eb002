/* test_x509_build.c - the hand-written DER of kwid's certificates and keys,
 * checked by OpenSSL's parser and verifier: DER primitives, base64url,
 * P-256 key pairs and their PKCS#8 form, the SPIFFE leaf and CA rules, and
 * issuers of every supported kind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <time.h>

#include "kwid/util.h"
#include "kwid/base64.h"
#include "kwid/der.h"
#include "kwid/keypool.h"
#include "kwid/signer.h"
#include "kwid/x509_build.h"

static void test_der_lengths(void **state)
{
	uint8_t big[300] = {0}, *out = NULL;
	size_t len = 0;
	struct der d;

	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	der_put(&d, DER_OCTET_STRING, big, 100);
	der_end(&d);
	assert_int_equal(der_finish(&d, &out, &len), 0);
	assert_int_equal(len, 2 + 2 + 100);
	assert_int_equal(out[1], 102);
	free(out);

	der_begin(&d, DER_SEQUENCE);
	der_put(&d, DER_OCTET_STRING, big, 200); /* 203 content bytes: 0x81 form */
	der_end(&d);
	assert_int_equal(der_finish(&d, &out, &len), 0);
	assert_int_equal(out[1], 0x81);
	assert_int_equal(out[2], 203);
	assert_int_equal(out[3], DER_OCTET_STRING);
	assert_int_equal(out[4], 0x81);
	assert_int_equal(out[5], 200);
	assert_int_equal(len, 3 + 3 + 200);
	free(out);

	der_begin(&d, DER_SEQUENCE);
	der_put(&d, DER_OCTET_STRING, big, 300); /* 0x82 form */
	der_end(&d);
	assert_int_equal(der_finish(&d, &out, &len), 0);
	assert_int_equal(out[1], 0x82);
	assert_int_equal(out[2] << 8 | out[3], 304);
	free(out);

	/* unbalanced */
	der_begin(&d, DER_SEQUENCE);
	assert_int_equal(der_finish(&d, &out, &len), -EINVAL);
	der_end(&d);
	assert_int_equal(der_finish(&d, &out, &len), -EINVAL);
}

static void test_der_values(void **state)
{
	static const uint8_t high[] = {0x00, 0x00, 0x80, 0x01}, zero[] = {0, 0};
	uint8_t *out = NULL;
	size_t len = 0;
	struct der d;

	der_init(&d);
	der_put_uint(&d, high, sizeof(high)); /* leading zeros stripped, 00 added for the sign */
	der_put_uint(&d, zero, sizeof(zero));
	der_put_time(&d, 0);		/* 1970: UTCTime */
	der_put_time(&d, 2524608000LL); /* 2050-01-01: GeneralizedTime */
	assert_int_equal(der_finish(&d, &out, &len), 0);
	assert_memory_equal(out, "\x02\x03\x00\x80\x01\x02\x01\x00", 8);
	assert_memory_equal(out + 8, "\x17\x0d" "700101000000Z", 15);
	assert_memory_equal(out + 23, "\x18\x0f" "20500101000000Z", 17);
	assert_int_equal(len, 40);
	free(out);
}

static void test_base64(void **state)
{
	uint8_t buf[16];
	char enc[32];

	base64url_encode((const uint8_t *)"\xfb\xff", 2, enc);
	assert_string_equal(enc, "-_8");
	char *std = base64_encode((const uint8_t *)"\xfb\xff", 2);
	assert_string_equal(std, "+/8=");
	free(std);
	base64url_encode((const uint8_t *)"abcd", 4, enc);
	assert_string_equal(enc, "YWJjZA");
	base64url_encode((const uint8_t *)"abcde", 5, enc);
	assert_string_equal(enc, "YWJjZGU");
	base64url_encode((const uint8_t *)"abc", 3, enc);
	assert_string_equal(enc, "YWJj");
	assert_int_equal(base64url_decode("-_8", 3, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "\xfb\xff", 2);
	assert_int_equal(base64url_decode("-_9", 3, buf, sizeof(buf)), -EINVAL);  /* trailing bits */
	assert_int_equal(base64url_decode("-_8=", 4, buf, sizeof(buf)), -EINVAL); /* padding */
	assert_int_equal(base64url_decode("+/8", 3, buf, sizeof(buf)), -EINVAL);  /* standard alphabet */
	assert_int_equal(base64url_decode("a", 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(base64url_decode("", 0, buf, sizeof(buf)), 0);
	assert_int_equal(base64url_decode("AAAAAAAA", 8, buf, 5), -EINVAL); /* too small */
}

/* The template PKCS#8 holds the same key OpenSSL derives from it. */
static void test_keypair_pkcs8(void **state)
{
	struct kwid_keygen *g = NULL;
	struct kwid_keypair kp;
	uint8_t der[P256_PKCS8_LEN], pub[65];
	const unsigned char *p = der;
	size_t publen = 0;
	EVP_PKEY *k;

	assert_int_equal(keygen_new(&g), 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(keygen_p256(g, &kp), 0);
		assert_int_equal(kp.pub[0], 0x04);
		keypair_to_pkcs8(&kp, der);
		p = der;
		k = d2i_AutoPrivateKey(NULL, &p, sizeof(der));
		assert_non_null(k);
		assert_ptr_equal(p, der + sizeof(der));
		assert_true(EVP_PKEY_is_a(k, "EC"));
		assert_true(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof(pub),
							    &publen));
		assert_int_equal(publen, 65);
		assert_memory_equal(pub, kp.pub, 65);
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
		assert_int_equal(EVP_PKEY_check(ctx), 1);
		EVP_PKEY_CTX_free(ctx);
		EVP_PKEY_free(k);
	}
	keypair_wipe(&kp);
	keygen_free(g);
}

static void test_keypool(void **state)
{
	struct kwid_keypool *pool = NULL;
	struct keypool_stats st;
	struct kwid_keypair a, b;

	assert_int_equal(keypool_new(8, &pool), 0);
	assert_int_equal(keypool_take(pool, &a), 0); /* before the worker starts: inline */
	keypool_stats(pool, &st);
	assert_int_equal(st.taken_inline, 1);
	assert_int_equal(keypool_start(pool), 0);
	usleep(200000); /* let the worker fill it (not asserted: only counts) */
	for (int i = 0; i < 40; i++) {
		assert_int_equal(keypool_take(pool, &a), 0);
		assert_int_equal(keypool_take(pool, &b), 0);
		assert_memory_not_equal(a.priv, b.priv, sizeof(a.priv));
	}
	keypool_stats(pool, &st);
	assert_int_equal(st.size, 8);
	assert_int_equal(st.taken_ready + st.taken_inline, 81);
	keypool_free(pool);

	assert_int_equal(keypool_new(0, &pool), 0); /* no worker */
	assert_int_equal(keypool_start(pool), 0);
	assert_int_equal(keypool_take(pool, &a), 0);
	keypool_stats(pool, &st);
	assert_int_equal(st.taken_inline, 1);
	keypool_free(pool);
}

/* ---- certificates ---- */

struct issuer {
	EVP_PKEY *key;
	struct kwid_signer signer;
	X509 *cert;
	uint8_t *name;
	size_t name_len;
	uint8_t ski[CERT_SKI_LEN];
};

static X509 *parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	assert_non_null(x);
	assert_ptr_equal(p, der + len); /* nothing after the certificate */
	return x;
}

static void make_spki(EVP_PKEY *k, uint8_t **spki, size_t *len)
{
	int n;

	*spki = NULL;
	n = i2d_PUBKEY(k, spki);
	assert_true(n > 0);
	*len = (size_t)n;
}

/* A self-signed CA with kwid's encoder, for a key of any supported kind. */
static void make_issuer(struct issuer *is, const char *alg, const char *param)
{
	struct cert_spec s = {0};
	uint8_t *spki, *der = NULL;
	size_t spki_len, der_len;
	unsigned mdlen;

	is->key = streq(alg, "RSA") ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
				    : EVP_PKEY_Q_keygen(NULL, NULL, "EC", param);
	assert_non_null(is->key);
	assert_int_equal(signer_init(&is->signer, is->key, NULL), 0);
	assert_int_equal(cert_name("kwid", "test CA", &is->name, &is->name_len), 0);
	make_spki(is->key, &spki, &spki_len);
	assert_int_equal(cert_random_serial(s.serial), 0);
	s.issuer = s.subject = is->name;
	s.issuer_len = s.subject_len = is->name_len;
	s.not_before = time(NULL) - 60;
	s.not_after = time(NULL) + 86400;
	s.spki = spki;
	s.spki_len = spki_len;
	s.ca = true;
	X509_PUBKEY *xp = NULL;
	assert_true(X509_PUBKEY_set(&xp, is->key));
	assert_true(X509_PUBKEY_get0_param(NULL, NULL, NULL, NULL, xp));
	/* SKI method 1 over the public key bits. */
	{
		const unsigned char *pk;
		int pklen;
		X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xp);
		assert_true(EVP_Digest(pk, (size_t)pklen, s.ski, &mdlen, EVP_sha1(), NULL));
	}
	X509_PUBKEY_free(xp);
	memcpy(is->ski, s.ski, sizeof(is->ski));
	s.aki = s.ski;
	s.aki_len = CERT_SKI_LEN;
	s.uri = "spiffe://example.org";
	assert_int_equal(cert_issue(&s, &is->signer, &der, &der_len), 0);
	is->cert = parse(der, der_len);
	free(der);
	OPENSSL_free(spki);
}

static void free_issuer(struct issuer *is)
{
	signer_clear(&is->signer);
	EVP_PKEY_free(is->key);
	X509_free(is->cert);
	free(is->name);
}

static X509 *mint_leaf(struct issuer *is, struct kwid_keypair *kp, const char *uri, const char *const *dns,
		       size_t ndns)
{
	uint8_t spki[P256_SPKI_LEN], *der = NULL;
	struct cert_spec s = {0};
	size_t len = 0;
	X509 *x;

	p256_spki(kp->pub, spki);
	p256_key_id(kp->pub, s.ski);
	assert_int_equal(cert_random_serial(s.serial), 0);
	s.issuer = is->name;
	s.issuer_len = is->name_len;
	s.not_before = time(NULL) - 30;
	s.not_after = time(NULL) + 3600;
	s.spki = spki;
	s.spki_len = sizeof(spki);
	s.aki = is->ski;
	s.aki_len = CERT_SKI_LEN;
	s.uri = uri;
	s.dns = dns;
	s.ndns = ndns;
	assert_int_equal(cert_issue(&s, &is->signer, &der, &len), 0);
	x = parse(der, len);
	free(der);
	return x;
}

static bool ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	assert_true(i >= 0);
	return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

static void verify_chain(X509 *leaf, X509 *root)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();

	X509_STORE_add_cert(store, root);
	X509_STORE_CTX_init(ctx, store, leaf, NULL);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(ctx) != 1)
		fail_msg("chain does not verify: %s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
}

/* Every SPIFFE leaf rule, as OpenSSL reads the certificate. */
static void check_leaf(X509 *x, struct issuer *is, const struct kwid_keypair *kp, const char *uri, size_t ndns)
{
	GENERAL_NAMES *san;
	const ASN1_OCTET_STRING *ski;
	int uris = 0, dnss = 0;
	uint8_t want_ski[CERT_SKI_LEN];

	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_int_equal(X509_verify(x, is->key), 1);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(is->cert)), 0);
	assert_false(X509_get_extension_flags(x) & EXFLAG_CA);
	assert_true(X509_get_extension_flags(x) & EXFLAG_BCONS);
	assert_true(ext_critical(x, NID_basic_constraints));
	assert_true(ext_critical(x, NID_key_usage));
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_false(ext_critical(x, NID_ext_key_usage));
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	assert_true(ext_critical(x, NID_subject_alt_name)); /* empty subject */
	san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);
		if (gn->type == GEN_URI) {
			uris++;
			assert_string_equal(ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier), uri);
		} else {
			assert_int_equal(gn->type, GEN_DNS);
			dnss++;
		}
	}
	GENERAL_NAMES_free(san);
	assert_int_equal(uris, 1);
	assert_int_equal(dnss, ndns);
	ski = X509_get0_subject_key_id(x);
	p256_key_id(kp->pub, want_ski);
	assert_int_equal(ASN1_STRING_length(ski), CERT_SKI_LEN);
	assert_memory_equal(ASN1_STRING_get0_data(ski), want_ski, CERT_SKI_LEN);
	assert_int_equal(ASN1_STRING_length(X509_get0_authority_key_id(x)), CERT_SKI_LEN);
	assert_memory_equal(ASN1_STRING_get0_data(X509_get0_authority_key_id(x)), is->ski, CERT_SKI_LEN);
	assert_true(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
	assert_true(X509_cmp_current_time(X509_get0_notAfter(x)) > 0);
	/* the private key matches the leaf */
	{
		uint8_t der[P256_PKCS8_LEN];
		const unsigned char *p = der;
		EVP_PKEY *k;
		keypair_to_pkcs8(kp, der);
		k = d2i_AutoPrivateKey(NULL, &p, sizeof(der));
		assert_int_equal(X509_check_private_key(x, k), 1);
		EVP_PKEY_free(k);
	}
	verify_chain(x, is->cert);
}

static void check_ca(X509 *x)
{
	assert_true(X509_check_ca(x) >= 1);
	assert_true(ext_critical(x, NID_basic_constraints));
	assert_true(ext_critical(x, NID_key_usage));
	assert_int_equal(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_false(ext_critical(x, NID_subject_alt_name)); /* subject is not empty */
	assert_true(X509_get_extension_flags(x) & EXFLAG_SS);
}

static void leaf_with_issuer(const char *alg, const char *param)
{
	static const char *const dns[] = {"web.example.org", "*.svc.example.org"};
	struct kwid_keygen *g = NULL;
	struct kwid_keypair kp;
	struct issuer is = {0};
	X509 *leaf;

	make_issuer(&is, alg, param);
	check_ca(is.cert);
	assert_int_equal(keygen_new(&g), 0);
	assert_int_equal(keygen_p256(g, &kp), 0);
	leaf = mint_leaf(&is, &kp, "spiffe://example.org/ns/prod/sa/web", NULL, 0);
	check_leaf(leaf, &is, &kp, "spiffe://example.org/ns/prod/sa/web", 0);
	X509_free(leaf);
	leaf = mint_leaf(&is, &kp, "spiffe://example.org/web", dns, 2);
	check_leaf(leaf, &is, &kp, "spiffe://example.org/web", 2);
	X509_free(leaf);
	keygen_free(g);
	free_issuer(&is);
}

static void test_leaf_p256(void **state) { leaf_with_issuer("EC", "P-256"); }
static void test_leaf_p384(void **state) { leaf_with_issuer("EC", "P-384"); }
static void test_leaf_rsa(void **state) { leaf_with_issuer("RSA", NULL); }

static void test_bad_specs(void **state)
{
	static const char *const bad_dns[] = {"ok.example", "not ok"};
	struct kwid_keygen *g = NULL;
	struct kwid_keypair kp;
	struct issuer is = {0};
	uint8_t spki[P256_SPKI_LEN], *der = NULL;
	struct cert_spec s = {0};
	size_t len;

	make_issuer(&is, "EC", "P-256");
	keygen_new(&g);
	keygen_p256(g, &kp);
	p256_spki(kp.pub, spki);
	s.issuer = is.name;
	s.issuer_len = is.name_len;
	s.spki = spki;
	s.spki_len = sizeof(spki);
	s.not_before = 100;
	s.not_after = 100; /* empty window */
	s.uri = "spiffe://example.org/x";
	assert_int_equal(cert_issue(&s, &is.signer, &der, &len), -EINVAL);
	s.not_after = 200;
	s.dns = bad_dns;
	s.ndns = 2;
	assert_int_equal(cert_issue(&s, &is.signer, &der, &len), -EINVAL);
	s.ndns = CERT_MAX_DNS + 1;
	assert_int_equal(cert_issue(&s, &is.signer, &der, &len), -EINVAL);
	s.ndns = 0;
	s.uri = NULL;
	assert_int_equal(cert_issue(&s, &is.signer, &der, &len), -EINVAL);
	assert_int_equal(cert_name("", "x", &der, &len), -EINVAL);
	keygen_free(g);
	free_issuer(&is);
}

static void test_ecdsa_conversion(void **state)
{
	uint8_t raw[64], back[64], *der = NULL;
	size_t derlen;

	memset(raw, 0, 32); /* r with leading zeros */
	raw[31] = 1;
	memset(raw + 32, 0xff, 32); /* s with the high bit set */
	assert_int_equal(ecdsa_raw_to_der(raw, 64, &der, &derlen), 0);
	assert_int_equal(ecdsa_der_to_raw(der, derlen, 32, back), 0);
	assert_memory_equal(raw, back, 64);
	assert_int_equal(ecdsa_der_to_raw(der, derlen - 1, 32, back), -EINVAL);
	OPENSSL_free(der);
	assert_int_equal(ecdsa_raw_to_der(raw, 63, &der, &derlen), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_der_lengths),   cmocka_unit_test(test_der_values),
		cmocka_unit_test(test_base64),	      cmocka_unit_test(test_keypair_pkcs8),
		cmocka_unit_test(test_keypool),
		cmocka_unit_test(test_leaf_p256),     cmocka_unit_test(test_leaf_p384),
		cmocka_unit_test(test_leaf_rsa),      cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_ecdsa_conversion),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
