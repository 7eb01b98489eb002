/* siphash.h - SipHash-1-3, a keyed hash for in-memory hash tables whose
 * keys an unprivileged user can choose (file names, paths): with a random
 * key per table, nobody can craft collisions to make lookups linear. */
#ifndef KWID_SIPHASH_H
#define KWID_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct siphash_key {
	uint64_t k0, k1;
};

/* A fresh random key (getrandom); falls back to clock noise, never fails. */
void siphash_key_random(struct siphash_key *key);
uint64_t siphash13(const struct siphash_key *key, const void *data, size_t len);

#endif
