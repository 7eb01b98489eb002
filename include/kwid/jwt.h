/* jwt.h - JWT-SVIDs: compact JWS with ES256, header {"alg","kid","typ"},
 * claims sub/aud/exp/iat; and their strict validation.
 *
 * Encoding: base64url without padding, ES256 signatures as the raw 64-byte
 * r||s (RFC 7518 3.4). Validation refuses anything but a three-segment
 * compact JWS of bounded size whose header holds only alg, kid and typ;
 * alg must be one of the SPIFFE algorithms and match the key that kid
 * names (no "none", no HMAC, no key confusion); the signature is checked
 * before any claim is looked at; then sub (a workload SPIFFE ID of the
 * trust domain), exp (strictly in the future), nbf (if present) and aud
 * (must contain the audience). */
#ifndef KWID_JWT_H
#define KWID_JWT_H

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdint.h>

#include "kwid/signer.h"

#define JWT_MAX_LEN 16384	/* whole token */
#define JWT_MAX_AUDIENCES 32
#define JWT_MAX_AUDIENCE_LEN 1024
#define JWT_MAX_KID_LEN 128

/* base64url of {"alg":"ES256","kid":<kid>,"typ":"JWT"}; malloc'd. */
char *jwt_header_b64(const char *kid);

/* Sign a JWT-SVID with an EC P-256 signer. *token is malloc'd. -E2BIG
 * when the token would exceed JWT_MAX_LEN (too many or too long audiences). */
int jwt_encode(struct kwid_signer *s, const char *header_b64, const char *sub, const char *const *aud,
	       size_t naud, int64_t iat, int64_t exp, char **token);

/* The public key for kid (borrowed), or NULL when the bundle has none. */
typedef EVP_PKEY *(*jwt_key_fn)(void *userdata, const char *kid);

/* 0 with *spiffe_id (malloc'd) and *claims (a reference) set, or -EINVAL
 * with *reason (static text) saying why the token is refused. `td` is the
 * trust domain whose bundle `lookup` searches. */
int jwt_validate(const char *token, const char *audience, int64_t now, const char *td, jwt_key_fn lookup,
		 void *userdata, char **spiffe_id, json_object **claims, const char **reason);

#endif
