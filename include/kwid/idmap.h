/* idmap.h - an intrusive map from 32-bit ids to objects, with a list of
 * all of them: the Workload API front and core both keep their
 * connections this way. Embed struct idmap_node and use container_of. */
#ifndef KWID_IDMAP_H
#define KWID_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#define IDMAP_BUCKETS 1024

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct idmap_node {
	uint32_t id;
	struct idmap_node *hnext;      /* bucket chain */
	struct idmap_node *prev, *next; /* all nodes, newest first */
};

struct idmap {
	struct idmap_node *buckets[IDMAP_BUCKETS];
	struct idmap_node *head;
	size_t count;
};

struct idmap_node *idmap_find(const struct idmap *m, uint32_t id);
/* The id must not be in the map yet. */
void idmap_add(struct idmap *m, struct idmap_node *n);
void idmap_del(struct idmap *m, struct idmap_node *n);

#endif
