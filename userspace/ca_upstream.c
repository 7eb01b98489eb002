/* ca_upstream.c - an upstream authority from files: an intermediate CA
 * certificate (optionally followed by further intermediates) and its key,
 * signed by a root in the given bundle that this host never holds. Checked
 * before use: the key matches, the certificate is a CA allowed to sign
 * certificates, its URI SAN (if any) is the trust domain's SPIFFE ID, it
 * is valid now and it chains to the bundle. */
#include "authority_internal.h"
#include "kwid/jwk.h"
#include "kwid/log.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* Every certificate of a PEM file (at most AU_MAX_UPSTREAM_CERTS). */
static int read_certs(const char *what, const char *path, STACK_OF(X509) **out)
{
	_cleanup_free_ char *data = NULL;
	STACK_OF(X509) *sk = sk_X509_new_null();
	size_t len = 0;
	BIO *bio;
	X509 *x;
	int r;

	if (!sk)
		return -ENOMEM;
	r = read_file(path, AU_MAX_FILE, &data, &len);
	if (r < 0) {
		sk_X509_free(sk);
		return log_error_errno(r, "authority: cannot read upstream %s %s", what, path);
	}
	bio = BIO_new_mem_buf(data, (int)len);
	while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		if (sk_X509_num(sk) == AU_MAX_UPSTREAM_CERTS || !sk_X509_push(sk, x)) {
			X509_free(x);
			r = -E2BIG;
			break;
		}
	}
	BIO_free(bio);
	if (r == 0 && sk_X509_num(sk) == 0)
		r = -EINVAL;
	if (r < 0) {
		sk_X509_pop_free(sk, X509_free);
		return log_error_errno(r, "authority: upstream %s %s must hold 1..%d PEM certificates", what, path,
				       AU_MAX_UPSTREAM_CERTS);
	}
	*out = sk;
	return 0;
}

static int read_key(const char *path, EVP_PKEY **out)
{
	char *data = NULL;
	size_t len = 0;
	int r = read_file(path, AU_MAX_FILE, &data, &len);

	if (r < 0)
		return log_error_errno(r, "authority: cannot read upstream key %s", path);
	*out = au_parse_private_key(data, len);
	if (!*out)
		return log_error_errno(-EINVAL, "authority: upstream key %s holds no unencrypted PEM private key", path);
	return 0;
}

/* A CA that may sign certificates, whose URI SAN is at most the trust
 * domain's own SPIFFE ID. */
static int check_ca(struct kwid_authority *au, X509 *cert, const char *path)
{
	GENERAL_NAMES *sans;
	uint32_t ku;
	int r = 0;

	if (X509_check_ca(cert) < 1 || !(X509_get_extension_flags(cert) & EXFLAG_CA))
		return log_error_errno(-EINVAL, "authority: upstream certificate %s is not a CA (basicConstraints cA=true)",
				       path);
	ku = X509_get_key_usage(cert);
	if (ku != UINT32_MAX && !(ku & KU_KEY_CERT_SIGN))
		return log_error_errno(-EINVAL, "authority: upstream certificate %s lacks keyUsage keyCertSign", path);
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		const char *uri;
		if (gn->type != GEN_URI)
			continue;
		uri = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
		if ((size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier) != strlen(au->td_id) ||
		    !streq(uri, au->td_id)) {
			r = log_error_errno(-EINVAL,
					    "authority: upstream certificate %s has URI SAN '%.*s'; a CA of trust domain "
					    "%s may only hold '%s'",
					    path, ASN1_STRING_length(gn->d.uniformResourceIdentifier), uri, au->td,
					    au->td_id);
			break;
		}
	}
	GENERAL_NAMES_free(sans);
	return r;
}

static int check_chain(STACK_OF(X509) *chain, STACK_OF(X509) *roots, const struct authority_settings *s)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_dup(chain);
	int r = -ENOMEM;

	if (!store || !ctx || !untrusted)
		goto out;
	(void)sk_X509_shift(untrusted); /* the signing certificate itself */
	for (int i = 0; i < sk_X509_num(roots); i++)
		X509_STORE_add_cert(store, sk_X509_value(roots, i));
	if (!X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), untrusted))
		goto out;
	if (X509_verify_cert(ctx) != 1) {
		int err = X509_STORE_CTX_get_error(ctx);
		r = log_error_errno(-EINVAL, "authority: upstream certificate %s does not chain to the roots in %s: %s",
				    s->up_cert, s->up_bundle, X509_verify_cert_error_string(err));
		goto out;
	}
	r = 0;
out:
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return r;
}

static int concat_der(STACK_OF(X509) *sk, uint8_t **out, size_t *len, int64_t *min_not_after)
{
	size_t total = 0;
	uint8_t *buf, *p;

	for (int i = 0; i < sk_X509_num(sk); i++) {
		int n = i2d_X509(sk_X509_value(sk, i), NULL);
		if (n <= 0)
			return -EINVAL;
		total += (size_t)n;
	}
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	p = buf;
	*min_not_after = INT64_MAX;
	for (int i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);
		i2d_X509(x, &p);
		*min_not_after = MIN(*min_not_after, au_asn1_time(X509_get0_notAfter(x)));
	}
	*out = buf;
	*len = total;
	return 0;
}

/* Roots must be publishable as JWKS x509-svid keys. */
static int check_roots(STACK_OF(X509) *roots, const char *path)
{
	for (int i = 0; i < sk_X509_num(roots); i++) {
		json_object *j;
		int err;
		if (!(X509_get_extension_flags(sk_X509_value(roots, i)) & EXFLAG_CA))
			return log_error_errno(-EINVAL, "authority: certificate %d of upstream bundle %s is not a CA", i + 1,
					       path);
		j = jwk_from_pkey(X509_get0_pubkey(sk_X509_value(roots, i)), &err);
		if (!j)
			return log_error_errno(-EINVAL, "authority: root %d of upstream bundle %s has a key kwid cannot "
					       "publish (EC P-256/384/521 or RSA only)", i + 1, path);
		json_object_put(j);
	}
	return 0;
}

void au_upstream_clear(struct au_upstream *up)
{
	for (size_t i = 0; i < up->nroots; i++)
		X509_free(up->roots[i]);
	free(up->roots);
	free(up->chain_der);
	free(up->roots_der);
	*up = (struct au_upstream){0};
}

static int take_roots(STACK_OF(X509) *roots, struct au_upstream *up)
{
	int64_t ignored;
	int r = concat_der(roots, &up->roots_der, &up->roots_len, &ignored);

	if (r < 0)
		return r;
	up->roots = calloc_array((size_t)sk_X509_num(roots), sizeof(X509 *));
	if (!up->roots)
		return -ENOMEM;
	for (int i = 0; i < sk_X509_num(roots); i++) {
		up->roots[i] = sk_X509_value(roots, i);
		X509_up_ref(up->roots[i]);
	}
	up->nroots = (size_t)sk_X509_num(roots);
	return 0;
}

int au_upstream_load(struct kwid_authority *au, struct au_upstream *up, struct au_key **key)
{
	const struct authority_settings *s = &au->set;
	STACK_OF(X509) *chain = NULL, *roots = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *cert;
	int64_t now = au_now();
	int r;

	*up = (struct au_upstream){0};
	r = read_certs("certificate", s->up_cert, &chain);
	if (r == 0)
		r = read_certs("bundle", s->up_bundle, &roots);
	if (r == 0)
		r = read_key(s->up_key, &pkey);
	if (r < 0)
		goto out;
	cert = sk_X509_value(chain, 0);
	if (X509_check_private_key(cert, pkey) != 1) {
		r = log_error_errno(-EINVAL, "authority: upstream key %s does not match certificate %s", s->up_key,
				    s->up_cert);
		goto out;
	}
	r = check_ca(au, cert, s->up_cert);
	if (r == 0)
		r = check_chain(chain, roots, s);
	if (r == 0)
		r = check_roots(roots, s->up_bundle);
	if (r < 0)
		goto out;
	r = concat_der(chain, &up->chain_der, &up->chain_len, &up->chain_not_after);
	if (r == 0)
		r = take_roots(roots, up);
	if (r < 0)
		goto out;
	if (up->chain_not_after - now < 2 * (int64_t)s->x509_svid_ttl)
		log_warn("authority: upstream certificate %s expires in %" PRId64 " s; X.509-SVIDs are cut short to "
			 "its expiry; renew it and send SIGHUP",
			 s->up_cert, up->chain_not_after - now);
	X509_up_ref(cert);
	r = au_x509_key_from(TAKE_PTR(pkey), cert, key);
	if (r == 0) {
		(*key)->t.state = KEY_ACTIVE;
		(*key)->t.activate_at = (*key)->t.created;
		(*key)->t.not_after = up->chain_not_after;
	}
out:
	if (r < 0)
		au_upstream_clear(up);
	EVP_PKEY_free(pkey);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(roots, X509_free);
	return r;
}
