/* svid.h - what the Workload API needs from the signing authority: current
 * X.509-SVIDs per entry (minted on first use, renewed at half-life),
 * JWT-SVIDs, bundles, and JWT-SVID validation.
 *
 * Rotation and bundle changes are announced with KWID_CHANGE_SVID_ROTATED
 * and KWID_CHANGE_BUNDLE (see kwid/agent.h). */
#ifndef KWID_SVID_H
#define KWID_SVID_H

#include <json-c/json.h>
#include <stdint.h>

struct kwid_agent;
struct kwid_entry;
struct kwid_authority;
struct kwid_svid_cache;

struct kwid_x509_svid {
	unsigned refs;
	char *spiffe_id;
	char *entry_id;
	char *hint;		/* or NULL */
	uint8_t *chain_der;	/* leaf first, then intermediates, concatenated DER */
	size_t chain_len;
	uint8_t *key_pkcs8_der; /* unencrypted PKCS#8 DER */
	size_t key_len;
	int64_t not_before, not_after; /* unix seconds */
};

/* A reference to the entry's current X.509-SVID (minted now if needed). */
int svid_cache_x509(struct kwid_svid_cache *c, const struct kwid_entry *e, struct kwid_x509_svid **out);
void x509_svid_unref(struct kwid_x509_svid *s);

/* CA certificates of the trust domain, concatenated DER. */
int authority_x509_bundle_der(struct kwid_authority *au, uint8_t **der, size_t *len);
/* JWKS holding only the "jwt-svid" keys (Workload API JWT bundle). */
int authority_jwt_bundle_jwks(struct kwid_authority *au, char **json, size_t *len);
/* Mint a JWT-SVID (ES256, kid set) for spiffe_id with these audiences. */
int authority_mint_jwt(struct kwid_authority *au, const char *spiffe_id, const char *const *aud,
		       size_t naud, uint32_t ttl_s, char **token);
/* Validate a JWT-SVID against the bundle for `audience`. On success
 * *spiffe_id and *claims are set (caller frees/puts); on failure
 * -EINVAL and *reason says why. */
int authority_validate_jwt(struct kwid_authority *au, const char *token, const char *audience,
			   char **spiffe_id, json_object **claims, const char **reason);

#endif
