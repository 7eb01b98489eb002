/* entries.h - registration entries: which selector sets earn which SPIFFE
 * ID. Durable store under the state directory, optional read-only
 * directory of JSON files, and a selector index so that matching cost does
 * not grow with the number of entries.
 *
 * Consumers (Workload API, kwidctl why) use entries_match(). Entry
 * pointers stay valid until control returns to the event loop; keep the
 * entry id (and revision) across loop iterations, never the pointer. */
#ifndef KWID_ENTRIES_H
#define KWID_ENTRIES_H

#include <stdbool.h>
#include <stdint.h>

#include "kwid/selectors.h"

struct kwid_agent;
struct kwid_entries;

struct kwid_entry {
	char *id;		/* stable, unique */
	char *spiffe_id;
	struct kwid_selector_set selectors; /* sorted, at least one */
	uint32_t x509_svid_ttl; /* seconds, 0: agent default */
	uint32_t jwt_svid_ttl;	/* seconds, 0: agent default */
	char **dns_names;
	size_t ndns;
	char *hint;		/* or NULL */
	int64_t expires_at;	/* unix seconds, 0: never */
	bool read_only;		/* loaded from the configured directory */
	uint64_t revision;	/* differs after any change to this entry */
};

/* Every unexpired entry whose selectors are all in `workload` (sorted).
 * *out is a malloc'd array the caller frees (not the entries). Order is
 * deterministic: the first entry is the caller's default identity. */
int entries_match(struct kwid_entries *es, const struct kwid_selector_set *workload,
		  const struct kwid_entry ***out, size_t *n);
const struct kwid_entry *entries_get(struct kwid_entries *es, const char *id);

int entries_new(struct kwid_agent *a, struct kwid_entries **out);
void entries_free(struct kwid_entries *es);

#endif
