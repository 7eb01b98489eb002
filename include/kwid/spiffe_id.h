/* spiffe_id.h - SPIFFE IDs and trust domain names, parsed exactly as the
 * SPIFFE-ID standard and go-spiffe (the strictest common client) do.
 *
 * spiffe://<trust domain><path>
 *   trust domain: 1..255 bytes of [a-z0-9.-_]; no uppercase, port,
 *                 userinfo or percent-encoding.
 *   path: empty, or "/"-separated segments of [a-zA-Z0-9.-_]; no empty,
 *         "." or ".." segment, no trailing "/", no query or fragment.
 *   whole ID: at most 2048 bytes. */
#ifndef KWID_SPIFFE_ID_H
#define KWID_SPIFFE_ID_H

#include <stdbool.h>
#include <stddef.h>

#define SPIFFE_TD_MAX 255
#define SPIFFE_ID_MAX 2048

/* 0 when valid; otherwise -EINVAL and *why (static string, may be NULL)
 * names the rule broken. */
int spiffe_trust_domain_validate(const char *td, const char **why);
int spiffe_id_validate(const char *id, const char **why);

/* Copy the trust domain of a valid ID into td (SPIFFE_TD_MAX + 1 bytes). */
int spiffe_id_trust_domain(const char *id, char *td, size_t tdlen);
/* The path part of a valid ID ("" for a trust-domain ID). */
const char *spiffe_id_path(const char *id);
/* true when id is a valid SPIFFE ID with a non-empty path in trust domain td. */
bool spiffe_id_is_workload_in(const char *id, const char *td);

#endif
