/* entry_index.h - the selector index behind entries_match(): each entry
 * is filed under exactly one of its selectors, the one fewest entries held
 * when it was added (its "key"). Matching a workload looks up each of the
 * workload's selectors and checks only the entries filed there, so the
 * cost depends on the workload's selectors and on how many entries share
 * them, never on the total number of entries. */
#ifndef KWID_ENTRY_INDEX_H
#define KWID_ENTRY_INDEX_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "kwid/entries.h"

struct entry_index;

int entry_index_new(struct entry_index **out);
void entry_index_free(struct entry_index *ix);

/* File e (its selectors sorted, its id unique in the index). The index
 * keeps the pointer until entry_index_remove(). */
int entry_index_add(struct entry_index *ix, const struct kwid_entry *e);
void entry_index_remove(struct entry_index *ix, const struct kwid_entry *e);

/* Every entry whose selectors are all in `workload` (sorted) and which has
 * not expired at `now` (unix s), appended to *out (a malloc'd array grown
 * as needed; *n and *cap track it). Unordered. */
int entry_index_match(struct entry_index *ix, const struct kwid_selector_set *workload, int64_t now,
		      const struct kwid_entry ***out, size_t *n, size_t *cap);

/* Counters for `kwidctl status`: selectors, entries, largest bucket. */
void entry_index_status(struct entry_index *ix, json_object *out);

#endif
