/* wlapi_front_jwt.h - ValidateJWTSVID in the unprivileged front: the token
 * is attacker-supplied, so it is parsed where no key and no privilege
 * lives, against the JWT bundles (public keys only) the core pushes on
 * every bundle change (WLAPI_C_JWT_KEYS).
 *
 * Key set document (JSON): {"<trust domain ID>": <JWKS>, ...}, e.g.
 * {"spiffe://example.org": {"keys": [...], "spiffe_sequence": 3}}. */
#ifndef KWID_WLAPI_FRONT_JWT_H
#define KWID_WLAPI_FRONT_JWT_H

#include <stddef.h>
#include <stdint.h>

struct wlapi_jwt_keys;

/* Parse the key set document. -EINVAL when it is not one. */
int wlapi_jwt_keys_new(const char *json, size_t len, struct wlapi_jwt_keys **out);
void wlapi_jwt_keys_free(struct wlapi_jwt_keys *k);

/* Validate `token` for `audience` with the bundle of the token's trust
 * domain. Returns a gRPC status: OK with *resp (encoded
 * ValidateJWTSVIDResponse, malloc'd) set, INVALID_ARGUMENT with *why
 * (static text) for a token that does not validate, UNAVAILABLE when no
 * key set has arrived yet. `keys` may be NULL. */
int wlapi_jwt_validate(const struct wlapi_jwt_keys *keys, const char *token, const char *audience,
		       uint8_t **resp, size_t *len, const char **why);

/* Load OpenSSL's configuration and the algorithms validation uses, before
 * the front's seccomp filter forbids opening files. */
int wlapi_jwt_warm_up(void);

#endif
