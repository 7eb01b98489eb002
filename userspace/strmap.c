/* strmap.c - string-keyed hash map (see kwid/strmap.h). */
#include "kwid/strmap.h"
#include "kwid/util.h"

#include <sys/random.h>

#define STRMAP_MIN_CAP 16

struct slot {
	char *key; /* NULL: empty */
	void *value;
	uint64_t hash;
};

struct strmap {
	struct slot *slots;
	size_t cap; /* power of two */
	size_t n;
};

static uint64_t hash_seed;

static void seed_once(void)
{
	while (hash_seed == 0) {
		uint64_t s = 0;
		if (getrandom(&s, sizeof(s), 0) != sizeof(s))
			s = now_mono_ns() ^ ((uint64_t)getpid() << 32);
		hash_seed = s | 1;
	}
}

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* Seeded FNV-1a over the bytes, finished with a 64-bit avalanche so that
 * the low bits (the ones the table uses) depend on every input byte. */
static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull ^ hash_seed;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return mix64(h ^ hash_seed);
}

int strmap_new(struct strmap **out)
{
	struct strmap *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	seed_once();
	m->slots = calloc(STRMAP_MIN_CAP, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return -ENOMEM;
	}
	m->cap = STRMAP_MIN_CAP;
	*out = m;
	return 0;
}

void strmap_free(struct strmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

/* Index of key's slot, or of the empty slot where it would go. */
static size_t find(const struct strmap *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1, i = h & mask;

	while (m->slots[i].key && !(m->slots[i].hash == h && strcmp(m->slots[i].key, key) == 0))
		i = (i + 1) & mask;
	return i;
}

static int grow(struct strmap *m)
{
	size_t ncap = m->cap * 2;
	struct slot *old = m->slots, *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	m->slots = ns;
	for (size_t i = 0; i < m->cap; i++) {
		if (old[i].key) {
			size_t j = old[i].hash & (ncap - 1);
			while (ns[j].key)
				j = (j + 1) & (ncap - 1);
			ns[j] = old[i];
		}
	}
	m->cap = ncap;
	free(old);
	return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	uint64_t h = hash_str(key);
	size_t i;
	char *copy;

	/* Keep the load factor at most 1/2: short probe chains. */
	if ((m->n + 1) * 2 > m->cap) {
		int r = grow(m);
		if (r < 0)
			return r;
	}
	i = find(m, key, h);
	if (m->slots[i].key)
		return -EEXIST;
	copy = strdup(key);
	if (!copy)
		return -ENOMEM;
	m->slots[i] = (struct slot){copy, value, h};
	m->n++;
	return 0;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	size_t i = find(m, key, hash_str(key));

	return m->slots[i].key ? m->slots[i].value : NULL;
}

void *strmap_remove(struct strmap *m, const char *key)
{
	size_t mask = m->cap - 1, i = find(m, key, hash_str(key)), j;
	void *value;

	if (!m->slots[i].key)
		return NULL;
	value = m->slots[i].value;
	free(m->slots[i].key);
	m->slots[i].key = NULL;
	m->n--;
	/* Backward shift: move later members of the cluster into the hole
	 * when their home slot is not between the hole and themselves. */
	for (j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		size_t home = m->slots[j].hash & mask;
		bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
		if (stays)
			continue;
		m->slots[i] = m->slots[j];
		m->slots[j].key = NULL;
		i = j;
	}
	return value;
}

size_t strmap_size(const struct strmap *m)
{
	return m->n;
}

bool strmap_next(const struct strmap *m, size_t *it, const char **key, void **value)
{
	for (; *it < m->cap; (*it)++) {
		if (m->slots[*it].key) {
			if (key)
				*key = m->slots[*it].key;
			if (value)
				*value = m->slots[*it].value;
			(*it)++;
			return true;
		}
	}
	return false;
}
