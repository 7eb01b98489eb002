/* strmap.h - a hash map from strings to pointers: open addressing with
 * linear probing and backward-shift deletion (no tombstones), keyed by a
 * per-process random seed so that look-ups of attacker-chosen strings
 * cannot be steered into long probe chains.
 *
 * The map owns copies of its keys; values are the caller's. */
#ifndef KWID_STRMAP_H
#define KWID_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "kwid/util.h"

struct strmap;

int strmap_new(struct strmap **out);
/* Frees the map and its keys, not the values. */
void strmap_free(struct strmap *m);
DEFINE_CLEANUP_FUNC(struct strmap, strmap_free)

/* -EEXIST when key is present already (the map is unchanged). */
int strmap_put(struct strmap *m, const char *key, void *value);
void *strmap_get(const struct strmap *m, const char *key);
/* Remove key; returns its value or NULL when absent. */
void *strmap_remove(struct strmap *m, const char *key);
size_t strmap_size(const struct strmap *m);

/* Iterate: size_t it = 0; while (strmap_next(m, &it, &k, &v)) ...
 * The map must not change during the iteration. */
bool strmap_next(const struct strmap *m, size_t *it, const char **key, void **value);

#endif
