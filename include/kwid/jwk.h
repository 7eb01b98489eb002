/* jwk.h - public keys as JSON Web Keys (RFC 7517/7518) and their RFC 7638
 * thumbprints, which kwid uses as the JWT key ids. EC keys on P-256/384/521
 * and RSA keys are supported. */
#ifndef KWID_JWK_H
#define KWID_JWK_H

#include <json-c/json.h>
#include <openssl/evp.h>

#define JWK_THUMBPRINT_LEN 43 /* base64url of SHA-256 */

/* {"kty","crv","x","y"} or {"kty","n","e"}; NULL with *err set on failure. */
json_object *jwk_from_pkey(EVP_PKEY *key, int *err);
/* RFC 7638 SHA-256 thumbprint, base64url, NUL-terminated. */
int jwk_thumbprint(EVP_PKEY *key, char out[JWK_THUMBPRINT_LEN + 1]);

#endif
