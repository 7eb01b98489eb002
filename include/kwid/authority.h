/* authority.h - the trust domain's signing authority: the X.509 CA (a local
 * self-signed root, or an intermediate from an upstream authority), the
 * JWT signing keys, their rotation and persistence, the bundles, and the
 * minting of X.509-SVIDs and JWT-SVIDs.
 *
 * Consumers that only need SVIDs and bundles use kwid/svid.h; this header
 * adds construction, X.509 minting for a given SPIFFE ID (the SVID cache,
 * the svid.mint admin command, benchmarks) and the full SPIFFE bundle.
 *
 * Key files live in <state_dir>/authority/ (directory 0700, files 0600,
 * written atomically) and are never logged. Everything runs on the event
 * loop thread except the key-pair pool's worker. */
#ifndef KWID_AUTHORITY_H
#define KWID_AUTHORITY_H

#include <json-c/json.h>
#include <stdint.h>

#include "kwid/svid.h"

struct kwid_agent;
struct kwid_authority;

/* Reads the "authority" configuration, loads or creates the keys, starts
 * the rotation schedule and registers the admin commands ("bundle.show",
 * "svid.mint") and the "authority" status section. */
int authority_new(struct kwid_agent *a, struct kwid_authority **out);
void authority_free(struct kwid_authority *au);

struct x509_svid_request {
	const char *spiffe_id;	/* a workload ID of the trust domain */
	const char *const *dns; /* DNS SANs (at most CERT_MAX_DNS) */
	size_t ndns;
	uint32_t ttl_s;		/* 0: the configured default */
	int64_t expires_max;	/* unix seconds the SVID must not outlive, 0: none */
	const char *entry_id;	/* copied into the SVID, may be NULL */
	const char *hint;	/* copied into the SVID, may be NULL */
};

/* Mint an X.509-SVID now (fresh key, signed by the active CA). -EINVAL for
 * a bad request, -EKEYEXPIRED when no CA can sign (upstream certificate
 * expired). *out has one reference. */
int authority_mint_x509(struct kwid_authority *au, const struct x509_svid_request *req,
			struct kwid_x509_svid **out);

uint32_t authority_x509_svid_ttl(const struct kwid_authority *au);
const char *authority_trust_domain(const struct kwid_authority *au);
uint64_t authority_bundle_sequence(const struct kwid_authority *au);

/* The SPIFFE bundle as JWKS: x509-svid keys (x5c) and jwt-svid keys (kid),
 * spiffe_sequence and spiffe_refresh_hint. A new reference. */
json_object *authority_bundle_jwks(struct kwid_authority *au);
/* The X.509 roots as PEM (malloc'd). */
int authority_x509_bundle_pem(struct kwid_authority *au, char **pem);
/* Changes when X.509-SVIDs signed so far stop chaining to the bundle (an
 * upstream authority reloaded with other roots); CA rotation keeps it. */
uint64_t authority_x509_generation(const struct kwid_authority *au);

/* ---- the SVID cache (svid_cache.c): svid_cache_x509() of kwid/svid.h ----
 * One current X.509-SVID per entry (keyed by entry id and revision),
 * minted on first use and renewed when half its life has passed (minus up
 * to a tenth, at random), announced with KWID_CHANGE_SVID_ROTATED. An SVID
 * nobody fetched since its last renewal is dropped instead of renewed.
 * Entries that changed or went away lose their SVID on
 * KWID_CHANGE_ENTRIES. */
int svid_cache_new(struct kwid_agent *a, struct kwid_authority *au, struct kwid_svid_cache **out);
void svid_cache_free(struct kwid_svid_cache *c);
size_t svid_cache_count(const struct kwid_svid_cache *c);
uint64_t svid_cache_renewals(const struct kwid_svid_cache *c);

#endif
