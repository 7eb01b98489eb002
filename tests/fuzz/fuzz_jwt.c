/* fuzz_jwt.c - libFuzzer harness for JWT-SVID validation (kwid/jwt.h).
 *
 * Input starting with 'S': the rest is a claims set that the harness signs
 * with the bundle's key, so the fuzzer reaches the claims checks behind
 * the signature. Any other input is validated as a token as it is. */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kwid/base64.h"
#include "kwid/jwk.h"
#include "kwid/jwt.h"

static EVP_PKEY *key;
static struct kwid_signer signer;
static char kid[JWK_THUMBPRINT_LEN + 1];
static char *header;

static EVP_PKEY *lookup(void *ud, const char *k)
{
	return strcmp(k, kid) == 0 ? key : NULL;
}

static void init(void)
{
	key = EVP_EC_gen("P-256");
	if (!key || signer_init(&signer, key, NULL) < 0 || jwk_thumbprint(key, kid) < 0)
		abort();
	header = jwt_header_b64(kid);
	if (!header)
		abort();
}

/* header.b64(claims).signature with the bundle's key. */
static char *sign_claims(const uint8_t *claims, size_t n)
{
	size_t hlen = strlen(header), plen = base64url_len(n);
	uint8_t der[SIGNER_MAX_SIG], raw[64];
	size_t derlen = sizeof(der);
	char *t = malloc(hlen + plen + 100);

	if (!t)
		return NULL;
	memcpy(t, header, hlen);
	t[hlen] = '.';
	base64url_encode(claims, n, t + hlen + 1);
	if (signer_sign(&signer, t, hlen + 1 + plen, der, &derlen) < 0 || ecdsa_der_to_raw(der, derlen, 32, raw) < 0) {
		free(t);
		return NULL;
	}
	t[hlen + 1 + plen] = '.';
	base64url_encode(raw, 64, t + hlen + 2 + plen);
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *token, *id = NULL;
	json_object *claims = NULL;
	const char *reason = NULL;

	if (!key)
		init();
	if (size > 0 && data[0] == 'S') {
		token = sign_claims(data + 1, size - 1);
	} else {
		token = malloc(size + 1);
		if (token) {
			memcpy(token, data, size);
			token[size] = '\0';
		}
	}
	if (!token)
		return 0;
	if (jwt_validate(token, "spiffe://example.org/db", 1700000000, "example.org", lookup, NULL, &id, &claims,
			 &reason) == 0) {
		free(id);
		json_object_put(claims);
	} else if (!reason) {
		abort(); /* every refusal says why */
	}
	free(token);
	return 0;
}
