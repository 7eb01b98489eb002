/* idmap.c - intrusive id map with an all-nodes list (see kwid/idmap.h). */
#include "kwid/idmap.h"

struct idmap_node *idmap_find(const struct idmap *m, uint32_t id)
{
	for (struct idmap_node *n = m->buckets[id % IDMAP_BUCKETS]; n; n = n->hnext)
		if (n->id == id)
			return n;
	return NULL;
}

void idmap_add(struct idmap *m, struct idmap_node *n)
{
	n->hnext = m->buckets[n->id % IDMAP_BUCKETS];
	m->buckets[n->id % IDMAP_BUCKETS] = n;
	n->prev = NULL;
	n->next = m->head;
	if (m->head)
		m->head->prev = n;
	m->head = n;
	m->count++;
}

void idmap_del(struct idmap *m, struct idmap_node *n)
{
	struct idmap_node **pp = &m->buckets[n->id % IDMAP_BUCKETS];

	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (!*pp)
		return;
	*pp = n->hnext;
	if (n->prev)
		n->prev->next = n->next;
	else
		m->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	m->count--;
}
