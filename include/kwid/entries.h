/* entries.h - registration entries: which selector sets earn which SPIFFE
 * ID. Durable store under the state directory, optional read-only
 * directory of JSON files, and a selector index so that matching cost does
 * not grow with the number of entries.
 *
 * Consumers (Workload API, kwidctl why) use entries_match(). Entry
 * pointers stay valid until control returns to the event loop; keep the
 * entry id (and revision) across loop iterations, never the pointer.
 *
 * Match order (the first entry is the caller's default identity): oldest
 * created_ns first, then entry id (byte order). Entries from the read-only
 * directory without "created_at_ns" count as created at 0, so they come
 * before every entry created through kwidctl. */
#ifndef KWID_ENTRIES_H
#define KWID_ENTRIES_H

#include <json-c/json.h>
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
	int64_t created_ns;	/* unix ns of creation; orders matches (see above) */
	char *source;		/* read-only entries: the file they came from; else NULL */
};

/* Every unexpired entry whose selectors are all in `workload` (sorted).
 * *out is a malloc'd array the caller frees (not the entries). Order is
 * deterministic: the first entry is the caller's default identity. */
int entries_match(struct kwid_entries *es, const struct kwid_selector_set *workload,
		  const struct kwid_entry ***out, size_t *n);
const struct kwid_entry *entries_get(struct kwid_entries *es, const char *id);

int entries_new(struct kwid_agent *a, struct kwid_entries **out);
void entries_free(struct kwid_entries *es);

/* ---- limits and validation (shared with kwidctl, which checks its flags
 * with the same code before it asks the agent) ---- */

#define ENTRY_ID_MAX 64
#define ENTRY_MAX_SELECTORS 64
#define ENTRY_MAX_DNS_NAMES 32
#define ENTRY_DNS_NAME_MAX 253
#define ENTRY_HINT_MAX 1024
#define ENTRY_X509_TTL_MIN 10
#define ENTRY_X509_TTL_MAX (30 * 86400)
#define ENTRY_JWT_TTL_MIN 10
#define ENTRY_JWT_TTL_MAX 86400

/* Why an entry was refused: the field (as named in JSON), the offending
 * value (escaped and shortened for printing; empty when there is none) and
 * the rule broken. */
struct entry_error {
	char field[48];
	char value[160];
	char rule[256];
};

/* Fill *err (when err != NULL; value may be NULL) and return -EINVAL. */
int entry_error_set(struct entry_error *err, const char *field, const char *value, const char *fmt, ...)
	_printf_(4, 5);
/* "invalid FIELD \"VALUE\": RULE" (or "invalid FIELD: RULE"), with FIELD
 * replaced by field_name(field) when that is given and returns non-NULL
 * (kwidctl names its flags). */
void entry_error_format(const struct entry_error *err, const char *(*field_name)(const char *field),
			char *buf, size_t len);

int entry_id_validate(const char *id, const char **why);
int entry_dns_name_validate(const char *name, const char **why);
int entry_hint_validate(const char *hint, const char **why);

/* What a JSON entry object may hold besides the fields a user gives. */
enum entry_json_flags {
	ENTRY_JSON_NEED_ID = 1u << 0,	  /* "id" required (the durable store) */
	ENTRY_JSON_ALLOW_CREATED = 1u << 1, /* "created_at_ns" accepted (store, directory) */
};

/* Parse and validate one entry object strictly: unknown keys, wrong types,
 * values outside their rule are refused with *err filled in. The trust
 * domain is not checked here (see entries_add). */
int entry_from_json(json_object *obj, unsigned flags, struct kwid_entry **out, struct entry_error *err);
/* The entry as JSON: its fields (what the store writes) and, with
 * `with_state`, read_only, source, revision and expired (admin output). */
json_object *entry_to_json(const struct kwid_entry *e, bool with_state, int64_t now);

struct kwid_entry *entry_new(void);
void entry_free(struct kwid_entry *e);
DEFINE_CLEANUP_FUNC(struct kwid_entry, entry_free)
/* true when every field a user gives (and created_ns) is equal. */
bool entry_equal(const struct kwid_entry *a, const struct kwid_entry *b);
/* "spiffe_id\nsel1\nsel2...": equal for entries that are duplicates. */
char *entry_identity_key(const struct kwid_entry *e);
bool entry_expired(const struct kwid_entry *e, int64_t now);
/* Fill e->id with a random UUIDv4 (OpenSSL RAND_bytes). */
int entry_assign_random_id(struct kwid_entry *e);
/* Match order: created_ns, then id. qsort comparator over entry pointers. */
int entry_cmp_order(const void *a, const void *b);

/* ---- the collection (userspace/entries.c) ---- */

/* Add a validated entry (ownership passes on success): refused when its
 * SPIFFE ID is not a workload ID of the agent's trust domain, its id is
 * taken, or another entry has the same SPIFFE ID and selector set.
 * `persist` writes it durably (fsync'd) before it becomes visible. */
int entries_add(struct kwid_entries *es, struct kwid_entry *e, bool persist, struct entry_error *err);
/* entries_add(persist) followed by KWID_CHANGE_ENTRIES: what `kwidctl
 * entry create` does. When it returns 0 the entry is on disk and every
 * subscriber has been told. */
int entries_create(struct kwid_entries *es, struct kwid_entry *e, struct entry_error *err);
/* Delete a durable entry (on disk before it returns, subscribers told):
 * -ENOENT, or -EROFS for a read-only one. */
int entries_delete(struct kwid_entries *es, const char *id);
/* Replace the read-only entries with `v` (ownership of every element
 * passes; the array stays the caller's). Unchanged entries keep their
 * revision. Entries that conflict with others are dropped and described in
 * *errors (malloc'd, "; "-separated; NULL when none). Returns the number of
 * entries dropped. */
int entries_replace_read_only(struct kwid_entries *es, struct kwid_entry **v, size_t n, char **errors);
size_t entries_count(struct kwid_entries *es);
/* Every entry in match order (malloc'd array the caller frees). */
int entries_list(struct kwid_entries *es, const struct kwid_entry ***out, size_t *n);

/* An entry that shares selectors with a workload but misses others. */
struct entry_near_miss {
	const struct kwid_entry *entry;
	const char **missing; /* the entry's selectors the workload lacks (malloc'd array) */
	size_t nmissing;
};
/* At most `max` near misses, fewest missing selectors first, then match
 * order. An expired entry whose selectors all match is a near miss with
 * nothing missing (it would match but for its expiry). O(number of
 * entries): meant for `kwidctl why`, not for the hot path. Caller frees
 * with entry_near_misses_free(). */
int entries_near_misses(struct kwid_entries *es, const struct kwid_selector_set *workload, size_t max,
			struct entry_near_miss **out, size_t *n);
void entry_near_misses_free(struct entry_near_miss *v, size_t n);

#endif
