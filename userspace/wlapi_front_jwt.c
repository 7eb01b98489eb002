/* wlapi_front_jwt.c - ValidateJWTSVID in the front (see
 * kwid/wlapi_front_jwt.h): the core's key set document becomes public
 * EVP_PKEYs per trust domain and kid, and the authority's strict JWT-SVID
 * validator (kwid/jwt.h) runs against them. */
#include "kwid/wlapi_front_jwt.h"
#include "kwid/base64.h"
#include "kwid/grpc.h"
#include "kwid/jwt.h"
#include "kwid/log.h"
#include "kwid/pbstruct.h"
#include "kwid/spiffe_id.h"
#include "kwid/util.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <time.h>

#include "workload.pb-c.h"

#define KEYS_MAX_BYTES (4u << 20)
#define MAX_TRUST_DOMAINS 64
#define MAX_KEYS_PER_TD 64

struct jwt_key {
	char *kid;
	EVP_PKEY *key;
};

struct td_keys {
	char *td; /* trust domain name, without "spiffe://" */
	struct jwt_key keys[MAX_KEYS_PER_TD];
	size_t n;
};

struct wlapi_jwt_keys {
	struct td_keys *tds;
	size_t ntd;
};

/* ---- JWK -> public key ---- */

static ssize_t b64u_field(json_object *jwk, const char *name, uint8_t *out, size_t cap)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(jwk, name, &v) || !json_object_is_type(v, json_type_string))
		return -EINVAL;
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) / 4 * 3 + 3 > cap)
		return -EINVAL;
	return base64url_decode(s, (size_t)json_object_get_string_len(v), out, cap);
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *key = NULL;

	if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return key;
}

static EVP_PKEY *ec_key(json_object *jwk)
{
	static const struct {
		const char *crv, *group;
		size_t len;
	} curves[] = {{"P-256", "prime256v1", 32}, {"P-384", "secp384r1", 48}, {"P-521", "secp521r1", 66}};
	uint8_t pt[1 + 2 * 66], x[70], y[70];
	const char *crv = json_object_get_string(json_object_object_get(jwk, "crv"));
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *key = NULL;
	ssize_t xl, yl;

	for (size_t i = 0; crv && i < ARRAY_SIZE(curves); i++) {
		if (!streq(crv, curves[i].crv))
			continue;
		xl = b64u_field(jwk, "x", x, sizeof(x));
		yl = b64u_field(jwk, "y", y, sizeof(y));
		if (xl != (ssize_t)curves[i].len || yl != (ssize_t)curves[i].len)
			return NULL;
		pt[0] = 0x04;
		memcpy(pt + 1, x, curves[i].len);
		memcpy(pt + 1 + curves[i].len, y, curves[i].len);
		bld = OSSL_PARAM_BLD_new();
		if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curves[i].group, 0) &&
		    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * curves[i].len))
			key = pkey_fromdata("EC", bld);
		OSSL_PARAM_BLD_free(bld);
		return key;
	}
	return NULL;
}

static EVP_PKEY *rsa_key(json_object *jwk)
{
	uint8_t n[1024], e[16];
	ssize_t nl = b64u_field(jwk, "n", n, sizeof(n)), el = b64u_field(jwk, "e", e, sizeof(e));
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *key = NULL;

	if (nl < 256 || el < 1) /* at least 2048 bits */
		return NULL;
	bn = BN_bin2bn(n, (int)nl, NULL);
	be = BN_bin2bn(e, (int)el, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		key = pkey_fromdata("RSA", bld);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return key;
}

/* Keys of one JWKS that may sign JWT-SVIDs: "use" jwt-svid and a kid. */
static int load_jwks(json_object *jwks, struct td_keys *t)
{
	json_object *arr;

	if (!json_object_object_get_ex(jwks, "keys", &arr) || !json_object_is_type(arr, json_type_array))
		return -EINVAL;
	for (size_t i = 0; i < json_object_array_length(arr) && t->n < MAX_KEYS_PER_TD; i++) {
		json_object *jwk = json_object_array_get_idx(arr, i);
		const char *use = json_object_get_string(json_object_object_get(jwk, "use"));
		const char *kid = json_object_get_string(json_object_object_get(jwk, "kid"));
		const char *kty = json_object_get_string(json_object_object_get(jwk, "kty"));
		EVP_PKEY *key;

		if (!streq(use, "jwt-svid") || !kid || !*kid || strlen(kid) > JWT_MAX_KID_LEN || !kty)
			continue;
		key = streq(kty, "EC") ? ec_key(jwk) : streq(kty, "RSA") ? rsa_key(jwk) : NULL;
		if (!key) {
			log_warn("wlapi front: JWT key %s of %s is unusable, skipped", kid, t->td);
			continue;
		}
		t->keys[t->n].kid = strdup(kid);
		if (!t->keys[t->n].kid) {
			EVP_PKEY_free(key);
			return -ENOMEM;
		}
		t->keys[t->n++].key = key;
	}
	return 0;
}

void wlapi_jwt_keys_free(struct wlapi_jwt_keys *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->ntd; i++) {
		for (size_t j = 0; j < k->tds[i].n; j++) {
			free(k->tds[i].keys[j].kid);
			EVP_PKEY_free(k->tds[i].keys[j].key);
		}
		free(k->tds[i].td);
	}
	free(k->tds);
	free(k);
}

int wlapi_jwt_keys_new(const char *json, size_t len, struct wlapi_jwt_keys **out)
{
	struct json_tokener *tok;
	json_object *doc;
	struct wlapi_jwt_keys *k;
	int r = 0;

	if (len > KEYS_MAX_BYTES)
		return -EINVAL;
	tok = json_tokener_new_ex(16);
	if (!tok)
		return -ENOMEM;
	doc = json_tokener_parse_ex(tok, json, (int)len);
	if (!doc || json_tokener_get_parse_end(tok) != len || !json_object_is_type(doc, json_type_object) ||
	    json_object_object_length(doc) > MAX_TRUST_DOMAINS) {
		json_tokener_free(tok);
		json_object_put(doc);
		return -EINVAL;
	}
	json_tokener_free(tok);
	k = calloc(1, sizeof(*k));
	if (k)
		k->tds = calloc_array((size_t)json_object_object_length(doc), sizeof(*k->tds));
	if (!k || !k->tds) {
		free(k);
		json_object_put(doc);
		return -ENOMEM;
	}
	json_object_object_foreach(doc, td_id, jwks) {
		struct td_keys *t = &k->tds[k->ntd];

		if (!startswith(td_id, "spiffe://") || spiffe_trust_domain_validate(td_id + 9, NULL) < 0) {
			r = -EINVAL;
			break;
		}
		t->td = strdup(td_id + 9);
		if (!t->td) {
			r = -ENOMEM;
			break;
		}
		k->ntd++;
		r = load_jwks(jwks, t);
		if (r < 0)
			break;
	}
	json_object_put(doc);
	if (r < 0) {
		wlapi_jwt_keys_free(k);
		return r;
	}
	*out = k;
	return 0;
}

/* ---- validation ---- */

struct lookup {
	const struct td_keys *t;
	bool asked; /* the validator got as far as looking up the kid */
	bool found;
};

static EVP_PKEY *lookup_kid(void *userdata, const char *kid)
{
	struct lookup *l = userdata;

	l->asked = true;
	for (size_t i = 0; i < l->t->n; i++) {
		if (streq(l->t->keys[i].kid, kid)) {
			l->found = true;
			return l->t->keys[i].key;
		}
	}
	return NULL;
}

static int encode_response(const char *spiffe_id, json_object *claims, uint8_t **resp, size_t *len)
{
	ValidateJWTSVIDResponse out = VALIDATE_JWTSVIDRESPONSE__INIT;
	Google__Protobuf__Struct *st;
	int r = pbstruct_from_json(claims, &st);

	if (r < 0)
		return r;
	out.spiffe_id = (char *)spiffe_id;
	out.claims = st;
	*len = validate_jwtsvidresponse__get_packed_size(&out);
	*resp = malloc(*len ? *len : 1);
	if (*resp)
		validate_jwtsvidresponse__pack(&out, *resp);
	google__protobuf__struct__free_unpacked(st, NULL);
	return *resp ? 0 : -ENOMEM;
}

int wlapi_jwt_validate(const struct wlapi_jwt_keys *keys, const char *token, const char *audience,
		       uint8_t **resp, size_t *len, const char **why)
{
	const char *reason = "kid is not in any trust domain's JWT bundle";
	int64_t now = (int64_t)time(NULL);

	if (!keys) {
		*why = "no JWT bundle has reached the Workload API yet; retry";
		return GRPC_STATUS_UNAVAILABLE;
	}
	/* The bundle of the token's trust domain is the one holding its kid;
	 * the validator then also requires sub to be in that trust domain. */
	for (size_t i = 0; i < keys->ntd; i++) {
		struct lookup l = {.t = &keys->tds[i]};
		_cleanup_free_ char *spiffe_id = NULL;
		json_object *claims = NULL;
		const char *r_why = NULL;
		int r = jwt_validate(token, audience, now, keys->tds[i].td, lookup_kid, &l, &spiffe_id, &claims, &r_why);

		if (r == 0) {
			r = encode_response(spiffe_id, claims, resp, len);
			json_object_put(claims);
			if (r < 0) {
				*why = r == -ENOMEM ? "out of memory" : "claims nest too deeply";
				return r == -ENOMEM ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_INVALID_ARGUMENT;
			}
			return GRPC_STATUS_OK;
		}
		/* Refused before the key lookup (the same for every trust
		 * domain), or by the trust domain that holds the kid. */
		if (!l.asked || l.found) {
			reason = r_why ? r_why : "invalid token";
			break;
		}
	}
	*why = reason;
	return GRPC_STATUS_INVALID_ARGUMENT;
}

int wlapi_jwt_warm_up(void)
{
	/* Load OpenSSL's configuration and providers now: after the seccomp
	 * filter is on, a first use would try to open files and die. */
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t sig[128];
	size_t siglen = sizeof(sig);
	int ok = ec && md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ec) == 1 &&
		 EVP_DigestSign(md, sig, &siglen, (const uint8_t *)"kwid", 4) == 1 &&
		 EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, ec) == 1 &&
		 EVP_DigestVerify(md, sig, siglen, (const uint8_t *)"kwid", 4) == 1;
	EVP_PKEY_CTX *rsa = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);

	EVP_MD_CTX_free(md);
	EVP_PKEY_free(ec);
	EVP_PKEY_CTX_free(rsa);
	EVP_get_digestbyname("SHA384");
	EVP_get_digestbyname("SHA512");
	return ok ? 0 : -EIO;
}
