/* jwk.c - JSON Web Keys and thumbprints for the bundle (see kwid/jwk.h). */
#include "kwid/base64.h"
#include "kwid/jwk.h"
#include "kwid/util.h"

#include <openssl/core_names.h>
#include <openssl/sha.h>

static const char *curve_name(EVP_PKEY *key)
{
	char group[64];

	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL))
		return NULL;
	if (streq(group, "prime256v1"))
		return "P-256";
	if (streq(group, "secp384r1"))
		return "P-384";
	if (streq(group, "secp521r1"))
		return "P-521";
	return NULL;
}

static char *b64u(const uint8_t *p, size_t n)
{
	return base64url_encode_alloc(p, n);
}

/* EC public point as base64url x and y. */
static int ec_coords(EVP_PKEY *key, char **x, char **y)
{
	uint8_t pt[1 + 2 * 66];
	size_t len = 0, c;

	if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &len) ||
	    len < 3 || pt[0] != 0x04 || (len - 1) % 2)
		return -EINVAL;
	c = (len - 1) / 2;
	*x = b64u(pt + 1, c);
	*y = b64u(pt + 1 + c, c);
	if (!*x || !*y) {
		free(*x);
		free(*y);
		return -ENOMEM;
	}
	return 0;
}

static char *bn_param_b64u(EVP_PKEY *key, const char *name)
{
	BIGNUM *bn = NULL;
	uint8_t *buf;
	char *out = NULL;
	int n;

	if (!EVP_PKEY_get_bn_param(key, name, &bn))
		return NULL;
	n = BN_num_bytes(bn);
	buf = malloc((size_t)MAX(n, 1));
	if (buf && BN_bn2bin(bn, buf) == n)
		out = b64u(buf, (size_t)n);
	free(buf);
	BN_free(bn);
	return out;
}

json_object *jwk_from_pkey(EVP_PKEY *key, int *err)
{
	json_object *j;

	*err = 0;
	if (EVP_PKEY_is_a(key, "EC")) {
		const char *crv = curve_name(key);
		char *x = NULL, *y = NULL;
		if (!crv || (*err = ec_coords(key, &x, &y)) < 0) {
			if (!*err)
				*err = -EOPNOTSUPP;
			return NULL;
		}
		j = json_object_new_object();
		json_object_object_add(j, "kty", json_object_new_string("EC"));
		json_object_object_add(j, "crv", json_object_new_string(crv));
		json_object_object_add(j, "x", json_object_new_string(x));
		json_object_object_add(j, "y", json_object_new_string(y));
		free(x);
		free(y);
		return j;
	}
	if (EVP_PKEY_is_a(key, "RSA")) {
		char *n = bn_param_b64u(key, OSSL_PKEY_PARAM_RSA_N), *e = bn_param_b64u(key, OSSL_PKEY_PARAM_RSA_E);
		if (!n || !e) {
			free(n);
			free(e);
			*err = -EINVAL;
			return NULL;
		}
		j = json_object_new_object();
		json_object_object_add(j, "kty", json_object_new_string("RSA"));
		json_object_object_add(j, "n", json_object_new_string(n));
		json_object_object_add(j, "e", json_object_new_string(e));
		free(n);
		free(e);
		return j;
	}
	*err = -EOPNOTSUPP;
	return NULL;
}

int jwk_thumbprint(EVP_PKEY *key, char out[JWK_THUMBPRINT_LEN + 1])
{
	uint8_t digest[SHA256_DIGEST_LENGTH];
	_cleanup_free_ char *canon = NULL;
	json_object *j;
	int err, n;

	j = jwk_from_pkey(key, &err);
	if (!j)
		return err;
	/* RFC 7638: the required members in lexicographic order, no spaces. */
	if (EVP_PKEY_is_a(key, "EC"))
		n = asprintf(&canon, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
			     json_object_get_string(json_object_object_get(j, "crv")),
			     json_object_get_string(json_object_object_get(j, "x")),
			     json_object_get_string(json_object_object_get(j, "y")));
	else
		n = asprintf(&canon, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}",
			     json_object_get_string(json_object_object_get(j, "e")),
			     json_object_get_string(json_object_object_get(j, "n")));
	json_object_put(j);
	if (n < 0) {
		canon = NULL;
		return -ENOMEM;
	}
	SHA256((const uint8_t *)canon, (size_t)n, digest);
	base64url_encode(digest, sizeof(digest), out);
	return 0;
}
