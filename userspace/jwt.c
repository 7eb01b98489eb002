/* jwt.c - JWT-SVID encoding (ES256) and strict validation (see kwid/jwt.h). */
#include "kwid/base64.h"
#include "kwid/jwt.h"
#include "kwid/spiffe_id.h"
#include "kwid/util.h"

#include <math.h>
#include <openssl/core_names.h>

#define JWT_JSON_DEPTH 8
#define NBF_LEEWAY_S 30

char *jwt_header_b64(const char *kid)
{
	json_object *h = json_object_new_object();
	const char *text;
	size_t len;
	char *out;

	if (!h)
		return NULL;
	json_object_object_add(h, "alg", json_object_new_string("ES256"));
	json_object_object_add(h, "kid", json_object_new_string(kid));
	json_object_object_add(h, "typ", json_object_new_string("JWT"));
	text = json_object_to_json_string_length(h, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	out = text ? base64url_encode_alloc((const uint8_t *)text, len) : NULL;
	json_object_put(h);
	return out;
}

static json_object *claims_new(const char *sub, const char *const *aud, size_t naud, int64_t iat, int64_t exp)
{
	json_object *c = json_object_new_object(), *a = json_object_new_array();

	if (!c || !a) {
		json_object_put(c);
		json_object_put(a);
		return NULL;
	}
	for (size_t i = 0; i < naud; i++)
		json_object_array_add(a, json_object_new_string(aud[i]));
	json_object_object_add(c, "aud", a);
	json_object_object_add(c, "exp", json_object_new_int64(exp));
	json_object_object_add(c, "iat", json_object_new_int64(iat));
	json_object_object_add(c, "sub", json_object_new_string(sub));
	return c;
}

int jwt_encode(struct kwid_signer *s, const char *header_b64, const char *sub, const char *const *aud,
	       size_t naud, int64_t iat, int64_t exp, char **token)
{
	uint8_t der[SIGNER_MAX_SIG], raw[132];
	size_t derlen = sizeof(der), hlen = strlen(header_b64), plen, clen, o;
	json_object *claims;
	const char *text;
	char *t;
	int r;

	if (s->kind != SIGNER_EC || s->coord_len != 32 || naud == 0 || naud > JWT_MAX_AUDIENCES)
		return -EINVAL;
	claims = claims_new(sub, aud, naud, iat, exp);
	if (!claims)
		return -ENOMEM;
	text = json_object_to_json_string_length(claims, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
						 &clen);
	plen = base64url_len(clen);
	t = malloc(hlen + 1 + plen + 1 + base64url_len(64) + 1);
	if (!t || !text) {
		json_object_put(claims);
		free(t);
		return -ENOMEM;
	}
	memcpy(t, header_b64, hlen);
	t[hlen] = '.';
	base64url_encode((const uint8_t *)text, clen, t + hlen + 1);
	json_object_put(claims);
	o = hlen + 1 + plen;
	r = signer_sign(s, t, o, der, &derlen);
	if (r == 0)
		r = ecdsa_der_to_raw(der, derlen, 32, raw);
	if (r < 0) {
		free(t);
		return r;
	}
	t[o++] = '.';
	base64url_encode(raw, 64, t + o);
	if (strlen(t) > JWT_MAX_LEN) { /* we could not validate it ourselves */
		free(t);
		return -E2BIG;
	}
	*token = t;
	return 0;
}

/* ---- validation ---- */

struct jws_parts {
	const char *hdr, *payload, *sig;
	size_t hdr_len, payload_len, sig_len;
};

static int split(const char *token, struct jws_parts *p, const char **reason)
{
	size_t len = strnlen(token, JWT_MAX_LEN + 1);
	const char *d1, *d2;

	if (len == 0)
		return *reason = "token is empty", -EINVAL;
	if (len > JWT_MAX_LEN)
		return *reason = "token is longer than " STRINGIFY(JWT_MAX_LEN) " bytes", -EINVAL;
	d1 = memchr(token, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
		return *reason = "token is not a compact JWS (three dot-separated segments)", -EINVAL;
	*p = (struct jws_parts){token, d1 + 1, d2 + 1, (size_t)(d1 - token), (size_t)(d2 - d1 - 1),
				len - (size_t)(d2 + 1 - token)};
	if (p->hdr_len == 0 || p->payload_len == 0)
		return *reason = "token has an empty header or claims segment", -EINVAL;
	if (p->sig_len == 0)
		return *reason = "token is unsigned", -EINVAL;
	return 0;
}

/* Decode a base64url segment holding a JSON object. */
static int decode_json(const char *seg, size_t n, json_object **out)
{
	_cleanup_free_ uint8_t *buf = malloc(n * 3 / 4 + 1);
	struct json_tokener *tok;
	json_object *obj;
	ssize_t len;

	if (!buf)
		return -ENOMEM;
	len = base64url_decode(seg, n, buf, n * 3 / 4 + 1);
	if (len <= 0)
		return -EINVAL;
	tok = json_tokener_new_ex(JWT_JSON_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != (size_t)len || !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		json_tokener_free(tok);
		return -EINVAL;
	}
	json_tokener_free(tok);
	*out = obj;
	return 0;
}

/* A string member without embedded NULs, or NULL. */
static const char *member_string(json_object *o, const char *key, bool *present)
{
	json_object *v;
	const char *s;

	*present = json_object_object_get_ex(o, key, &v);
	if (!*present || !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

static bool alg_known(const char *alg)
{
	static const char *const spiffe_algs[] = {"ES256", "ES384", "ES512", "RS256", "RS384",
						  "RS512", "PS256", "PS384", "PS512"};
	for (size_t i = 0; i < ARRAY_SIZE(spiffe_algs); i++)
		if (streq(alg, spiffe_algs[i]))
			return true;
	return false;
}

/* The alg a key may verify, and the digest: EC keys by curve only. */
static const EVP_MD *alg_for_key(EVP_PKEY *key, const char **alg, unsigned *coord)
{
	char group[64];

	if (!EVP_PKEY_is_a(key, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL))
		return NULL;
	if (streq(group, "prime256v1"))
		return *alg = "ES256", *coord = 32, EVP_sha256();
	if (streq(group, "secp384r1"))
		return *alg = "ES384", *coord = 48, EVP_sha384();
	if (streq(group, "secp521r1"))
		return *alg = "ES512", *coord = 66, EVP_sha512();
	return NULL;
}

static int check_header(json_object *h, const char **alg, const char **kid, const char **reason)
{
	const char *typ;
	bool present;

	json_object_object_foreach(h, key, val) {
		(void)val;
		if (!streq(key, "alg") && !streq(key, "kid") && !streq(key, "typ"))
			return *reason = "header has members other than alg, kid and typ", -EINVAL;
	}
	*alg = member_string(h, "alg", &present);
	if (!*alg)
		return *reason = "header has no alg string", -EINVAL;
	if (streq(*alg, "none"))
		return *reason = "alg none is not allowed", -EINVAL;
	if (startswith(*alg, "HS"))
		return *reason = "symmetric algorithms (HS*) are not allowed", -EINVAL;
	if (!alg_known(*alg))
		return *reason = "alg is not one of the SPIFFE JWT-SVID algorithms", -EINVAL;
	typ = member_string(h, "typ", &present);
	if (present && !streq(typ, "JWT") && !streq(typ, "JOSE"))
		return *reason = "typ must be JWT or JOSE", -EINVAL;
	*kid = member_string(h, "kid", &present);
	if (!*kid || !**kid || strlen(*kid) > JWT_MAX_KID_LEN)
		return *reason = "header has no kid", -EINVAL;
	return 0;
}

static int verify_signature(const struct jws_parts *p, EVP_PKEY *key, const EVP_MD *md, unsigned coord,
			    const char **reason)
{
	uint8_t raw[2 * 66 + 3], digest[EVP_MAX_MD_SIZE];
	unsigned dlen;
	uint8_t *der = NULL;
	size_t derlen;
	EVP_PKEY_CTX *ctx;
	ssize_t n;
	int ok;

	n = base64url_decode(p->sig, p->sig_len, raw, sizeof(raw));
	if (n != (ssize_t)(2 * coord))
		return *reason = "signature is not base64url of the algorithm's r||s size", -EINVAL;
	if (ecdsa_raw_to_der(raw, (size_t)n, &der, &derlen) < 0)
		return *reason = "signature is malformed", -EINVAL;
	if (!EVP_Digest(p->hdr, p->hdr_len + 1 + p->payload_len, digest, &dlen, md, NULL)) {
		OPENSSL_free(der);
		return *reason = "cannot hash the token", -EIO;
	}
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	ok = ctx && EVP_PKEY_verify_init(ctx) > 0 && EVP_PKEY_verify(ctx, der, derlen, digest, dlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_free(der);
	if (!ok)
		return *reason = "signature does not verify", -EINVAL;
	return 0;
}

/* NumericDate: an integer or a finite number, taken as whole seconds. */
static bool member_time(json_object *c, const char *key, bool *present, int64_t *out)
{
	json_object *v;

	*present = json_object_object_get_ex(c, key, &v);
	if (!*present)
		return false;
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return true;
	}
	if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);
		if (!isfinite(d) || d < -9.2e18 || d > 9.2e18)
			return false;
		*out = (int64_t)d; /* toward zero; make it floor */
		if ((double)*out > d)
			(*out)--;
		return true;
	}
	return false;
}

static int check_audience(json_object *c, const char *audience, const char **reason)
{
	json_object *aud;
	size_t n;

	if (!json_object_object_get_ex(c, "aud", &aud))
		return *reason = "aud claim missing", -EINVAL;
	if (json_object_is_type(aud, json_type_string)) {
		if (streq(json_object_get_string(aud), audience) &&
		    (size_t)json_object_get_string_len(aud) == strlen(audience))
			return 0;
		return *reason = "audience is not in aud", -EINVAL;
	}
	if (!json_object_is_type(aud, json_type_array))
		return *reason = "aud claim is neither a string nor an array", -EINVAL;
	n = json_object_array_length(aud);
	if (n == 0 || n > JWT_MAX_AUDIENCES)
		return *reason = "aud claim holds no or too many audiences", -EINVAL;
	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(aud, i);
		if (!json_object_is_type(a, json_type_string))
			return *reason = "aud claim holds a non-string", -EINVAL;
		if (streq(json_object_get_string(a), audience) &&
		    (size_t)json_object_get_string_len(a) == strlen(audience))
			return 0;
	}
	return *reason = "audience is not in aud", -EINVAL;
}

static int check_claims(json_object *c, const char *audience, int64_t now, const char *td, const char **reason)
{
	char sub_td[SPIFFE_TD_MAX + 1];
	const char *sub;
	int64_t exp, nbf;
	bool present;

	sub = member_string(c, "sub", &present);
	if (!sub)
		return *reason = "sub claim missing or not a string", -EINVAL;
	if (spiffe_id_validate(sub, NULL) < 0 || spiffe_id_trust_domain(sub, sub_td, sizeof(sub_td)) < 0)
		return *reason = "sub is not a valid SPIFFE ID", -EINVAL;
	if (!streq(sub_td, td))
		return *reason = "no bundle for the token's trust domain", -EINVAL;
	if (!*spiffe_id_path(sub))
		return *reason = "sub is a trust domain, not a workload SPIFFE ID", -EINVAL;
	if (!member_time(c, "exp", &present, &exp))
		return *reason = present ? "exp claim is not a number" : "exp claim missing", -EINVAL;
	if (now >= exp)
		return *reason = "token has expired", -EINVAL;
	if (member_time(c, "nbf", &present, &nbf)) {
		if (now + NBF_LEEWAY_S < nbf)
			return *reason = "token is not valid yet (nbf)", -EINVAL;
	} else if (present) {
		return *reason = "nbf claim is not a number", -EINVAL;
	}
	return check_audience(c, audience, reason);
}

int jwt_validate(const char *token, const char *audience, int64_t now, const char *td, jwt_key_fn lookup,
		 void *userdata, char **spiffe_id, json_object **claims, const char **reason)
{
	const char *dummy, *alg, *kid, *key_alg;
	json_object *hdr = NULL, *c = NULL;
	struct jws_parts p;
	const EVP_MD *md;
	EVP_PKEY *key;
	unsigned coord;
	int r;

	if (!reason)
		reason = &dummy;
	if (!token)
		return *reason = "token is empty", -EINVAL;
	if (!audience || !*audience)
		return *reason = "audience is empty", -EINVAL;
	r = split(token, &p, reason);
	if (r < 0)
		return r;
	if (decode_json(p.hdr, p.hdr_len, &hdr) < 0)
		return *reason = "header is not base64url of a JSON object", -EINVAL;
	r = check_header(hdr, &alg, &kid, reason);
	if (r < 0)
		goto out;
	key = lookup(userdata, kid);
	if (!key) {
		*reason = "kid is not in the trust domain's JWT bundle";
		r = -EINVAL;
		goto out;
	}
	md = alg_for_key(key, &key_alg, &coord);
	if (!md || !streq(alg, key_alg)) {
		*reason = "alg does not match the key that kid names";
		r = -EINVAL;
		goto out;
	}
	r = verify_signature(&p, key, md, coord, reason);
	if (r < 0)
		goto out;
	if (decode_json(p.payload, p.payload_len, &c) < 0) {
		*reason = "claims are not base64url of a JSON object";
		r = -EINVAL;
		goto out;
	}
	r = check_claims(c, audience, now, td, reason);
	if (r < 0)
		goto out;
	*spiffe_id = strdup(json_object_get_string(json_object_object_get(c, "sub")));
	if (!*spiffe_id) {
		r = -ENOMEM;
		goto out;
	}
	*claims = TAKE_PTR(c);
out:
	json_object_put(hdr);
	json_object_put(c);
	return r;
}
