/* wlapi_front_jwt.c - ValidateJWTSVID in the front (see
 * kwid/wlapi_front_jwt.h). */
#include "kwid/wlapi_front_jwt.h"
#include "kwid/grpc.h"
#include "kwid/util.h"

#include <json-c/json.h>

#define KEYS_MAX_BYTES (4u << 20)

struct wlapi_jwt_keys {
	json_object *doc; /* {"spiffe://td": JWKS, ...} */
};

int wlapi_jwt_keys_new(const char *json, size_t len, struct wlapi_jwt_keys **out)
{
	struct json_tokener *tok;
	json_object *doc;
	struct wlapi_jwt_keys *k;

	if (len > KEYS_MAX_BYTES)
		return -EINVAL;
	tok = json_tokener_new_ex(16);
	if (!tok)
		return -ENOMEM;
	doc = json_tokener_parse_ex(tok, json, (int)len);
	if (!doc || json_tokener_get_parse_end(tok) != len || !json_object_is_type(doc, json_type_object)) {
		json_tokener_free(tok);
		json_object_put(doc);
		return -EINVAL;
	}
	json_tokener_free(tok);
	k = calloc(1, sizeof(*k));
	if (!k) {
		json_object_put(doc);
		return -ENOMEM;
	}
	k->doc = doc;
	*out = k;
	return 0;
}

void wlapi_jwt_keys_free(struct wlapi_jwt_keys *k)
{
	if (!k)
		return;
	json_object_put(k->doc);
	free(k);
}

int wlapi_jwt_validate(const struct wlapi_jwt_keys *keys, const char *token, const char *audience,
		       uint8_t **resp, size_t *len, const char **why)
{
	if (!keys) {
		*why = "no JWT bundle has reached the Workload API yet; retry";
		return GRPC_STATUS_UNAVAILABLE;
	}
	/* The JWS verification comes from the authority (authority_validate_jwt
	 * refactored to take a key set); until it lands, say so. */
	*why = "JWT-SVID validation is not available in this build";
	return GRPC_STATUS_UNAVAILABLE;
}

int wlapi_jwt_warm_up(void)
{
	return 0;
}
