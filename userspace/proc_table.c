/* proc_table.c - the live process table: processes by tgid, the images
 * they run (shared, refcounted, interned) and interned path strings. Pure
 * data structure: the tracker decides what goes in (see kwid/tracker.h). */
#include "kwid/log.h"
#include "kwid/siphash.h"
#include "kwid/tracker.h"

#include <stddef.h>

struct istr {
	struct istr *next;
	unsigned refs;
	uint64_t hash;
	char s[];
};

struct image_entry {
	struct kwid_image img; /* first: struct kwid_image * converts back */
	struct image_entry *next;
	uint64_t hash;
	struct kwid_image_spec spec;
	struct image_entry *idle_prev, *idle_next; /* while unreferenced */
	bool idle;
};

/* Images nobody runs are kept a while: a short-lived program exec'd again
 * and again (a shell loop, a build) reuses its image, path and
 * measurement instead of resolving them anew each time. */
#define IDLE_IMAGES_MAX 256

struct proc_entry {
	struct kwid_proc p; /* first: struct kwid_proc * converts back */
	struct proc_entry *next;
	uint64_t updated_ns;
	uint32_t mark;
	bool start_coarse;
};

/* A chained hash table of power-of-two size; grows at load factor 1. */
struct chain_table {
	void **buckets;
	size_t nbuckets, count;
};

struct kwid_proc_table {
	struct siphash_key key;
	struct chain_table procs;   /* struct proc_entry, by tgid */
	struct chain_table strings; /* struct istr */
	struct chain_table images;  /* struct image_entry */
	struct image_entry *idle_head, *idle_tail; /* oldest first */
	size_t nidle;
	uint32_t mark;
};

#define entry_of(p) ((struct proc_entry *)(p))
#define image_of(i) ((struct image_entry *)(i))

static int chain_init(struct chain_table *c, size_t n)
{
	c->buckets = calloc(n, sizeof(void *));
	if (!c->buckets)
		return -ENOMEM;
	c->nbuckets = n;
	c->count = 0;
	return 0;
}

/* Double the buckets when the table is full. Node types keep their `next`
 * pointer at different offsets, so the caller passes the offset. */
static void chain_grow(struct chain_table *c, size_t next_off, uint64_t (*hash_of)(void *node, void *ud),
		       void *ud)
{
	size_t n = c->nbuckets * 2;
	void **nb;

	if (c->count < c->nbuckets || n > (SIZE_MAX / sizeof(void *)))
		return;
	nb = calloc(n, sizeof(void *));
	if (!nb)
		return; /* keep working with longer chains */
	for (size_t i = 0; i < c->nbuckets; i++) {
		void *node = c->buckets[i];
		while (node) {
			void **nextp = (void **)((char *)node + next_off);
			void *next = *nextp;
			size_t b = hash_of(node, ud) & (n - 1);
			*nextp = nb[b];
			nb[b] = node;
			node = next;
		}
	}
	free(c->buckets);
	c->buckets = nb;
	c->nbuckets = n;
}

static uint64_t tgid_hash(const struct kwid_proc_table *t, pid_t tgid)
{
	uint64_t x = ((uint64_t)(uint32_t)tgid ^ t->key.k0) * 0x9e3779b97f4a7c15ull;
	return x ^ (x >> 29);
}

static uint64_t proc_node_hash(void *node, void *ud)
{
	return tgid_hash(ud, ((struct proc_entry *)node)->p.id.tgid);
}

static uint64_t str_node_hash(void *node, void *ud)
{
	return ((struct istr *)node)->hash;
}

static uint64_t image_node_hash(void *node, void *ud)
{
	return ((struct image_entry *)node)->hash;
}

int proc_table_new(struct kwid_proc_table **out)
{
	struct kwid_proc_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	siphash_key_random(&t->key);
	if (chain_init(&t->procs, 1024) < 0 || chain_init(&t->strings, 256) < 0 ||
	    chain_init(&t->images, 256) < 0) {
		proc_table_free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

/* ---- strings ---- */

const char *proc_table_intern(struct kwid_proc_table *t, const char *s)
{
	size_t len;
	uint64_t h;
	struct istr *n;

	if (!s)
		return NULL;
	len = strlen(s);
	h = siphash13(&t->key, s, len);
	for (n = t->strings.buckets[h & (t->strings.nbuckets - 1)]; n; n = n->next) {
		if (n->hash == h && strcmp(n->s, s) == 0) {
			n->refs++;
			return n->s;
		}
	}
	n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return NULL;
	n->refs = 1;
	n->hash = h;
	memcpy(n->s, s, len + 1);
	n->next = t->strings.buckets[h & (t->strings.nbuckets - 1)];
	t->strings.buckets[h & (t->strings.nbuckets - 1)] = n;
	t->strings.count++;
	chain_grow(&t->strings, offsetof(struct istr, next), str_node_hash, t);
	return n->s;
}

void proc_table_release_str(struct kwid_proc_table *t, const char *s)
{
	struct istr *n, **pp;

	if (!s)
		return;
	n = (struct istr *)(s - offsetof(struct istr, s));
	if (--n->refs > 0)
		return;
	for (pp = (struct istr **)&t->strings.buckets[n->hash & (t->strings.nbuckets - 1)]; *pp;
	     pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			t->strings.count--;
			break;
		}
	}
	free(n);
}

size_t proc_table_string_count(struct kwid_proc_table *t) { return t->strings.count; }

/* ---- images ---- */

bool file_key_equal(const struct kwid_file_key *a, const struct kwid_file_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->mtime_ns == b->mtime_ns &&
	       a->ctime_ns == b->ctime_ns && a->size == b->size;
}

static uint64_t spec_hash(const struct kwid_proc_table *t, const struct kwid_image_spec *s)
{
	/* Interned strings compare by pointer, so their addresses hash. */
	struct {
		struct kwid_file_key file;
		uintptr_t filename, interp, path_hint;
		uint64_t mnt_ns;
	} k = {s->file, (uintptr_t)s->filename, (uintptr_t)s->interp, (uintptr_t)s->path_hint, s->mnt_ns};

	return siphash13(&t->key, &k, sizeof(k));
}

static bool spec_equal(const struct kwid_image_spec *a, const struct kwid_image_spec *b)
{
	return file_key_equal(&a->file, &b->file) && a->filename == b->filename && a->interp == b->interp &&
	       a->path_hint == b->path_hint && a->mnt_ns == b->mnt_ns;
}

static void idle_remove(struct kwid_proc_table *t, struct image_entry *e)
{
	if (e->idle_prev)
		e->idle_prev->idle_next = e->idle_next;
	else
		t->idle_head = e->idle_next;
	if (e->idle_next)
		e->idle_next->idle_prev = e->idle_prev;
	else
		t->idle_tail = e->idle_prev;
	e->idle_prev = e->idle_next = NULL;
	e->idle = false;
	t->nidle--;
}

static void image_destroy(struct kwid_proc_table *t, struct image_entry *e);

static void idle_add(struct kwid_proc_table *t, struct image_entry *e)
{
	e->idle = true;
	e->idle_prev = t->idle_tail;
	e->idle_next = NULL;
	if (t->idle_tail)
		t->idle_tail->idle_next = e;
	else
		t->idle_head = e;
	t->idle_tail = e;
	t->nidle++;
	while (t->nidle > IDLE_IMAGES_MAX) {
		struct image_entry *old = t->idle_head;
		idle_remove(t, old);
		image_destroy(t, old);
	}
}

struct kwid_image *proc_image_find(struct kwid_proc_table *t, const struct kwid_image_spec *spec)
{
	uint64_t h = spec_hash(t, spec);

	for (struct image_entry *e = t->images.buckets[h & (t->images.nbuckets - 1)]; e; e = e->next) {
		if (e->hash == h && spec_equal(&e->spec, spec)) {
			if (e->idle)
				idle_remove(t, e);
			return proc_image_ref(&e->img);
		}
	}
	return NULL;
}

struct kwid_image *proc_image_create(struct kwid_proc_table *t, const struct kwid_image_spec *spec,
				     const char *path, const char *script_path,
				     struct kwid_measurement *m, struct kwid_measurement *sm)
{
	struct image_entry *e = calloc(1, sizeof(*e));
	size_t b;

	if (!e) {
		proc_table_release_str(t, path);
		proc_table_release_str(t, script_path);
		measurement_unref(m);
		measurement_unref(sm);
		return NULL;
	}
	e->img.refs = 1;
	e->img.file = spec->file;
	e->img.path = path;
	e->img.filename = proc_table_intern(t, spec->filename);
	e->img.script_path = script_path;
	e->img.measurement = m;
	e->img.script_measurement = sm;
	e->spec = *spec;
	/* The spec holds its own references on its strings. */
	e->spec.filename = proc_table_intern(t, spec->filename);
	e->spec.interp = proc_table_intern(t, spec->interp);
	e->spec.path_hint = proc_table_intern(t, spec->path_hint);
	e->hash = spec_hash(t, &e->spec);
	b = e->hash & (t->images.nbuckets - 1);
	e->next = t->images.buckets[b];
	t->images.buckets[b] = e;
	t->images.count++;
	chain_grow(&t->images, offsetof(struct image_entry, next), image_node_hash, t);
	return &e->img;
}

struct kwid_image *proc_image_ref(struct kwid_image *img)
{
	if (img)
		img->refs++;
	return img;
}

void proc_image_unref(struct kwid_proc_table *t, struct kwid_image *img)
{
	if (!img || --img->refs > 0)
		return;
	idle_add(t, image_of(img));
}

static void image_destroy(struct kwid_proc_table *t, struct image_entry *e)
{
	struct kwid_image *img = &e->img;
	struct image_entry **pp;

	for (pp = (struct image_entry **)&t->images.buckets[e->hash & (t->images.nbuckets - 1)]; *pp;
	     pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			t->images.count--;
			break;
		}
	}
	proc_table_release_str(t, img->path);
	proc_table_release_str(t, img->filename);
	proc_table_release_str(t, img->script_path);
	proc_table_release_str(t, e->spec.filename);
	proc_table_release_str(t, e->spec.interp);
	proc_table_release_str(t, e->spec.path_hint);
	measurement_unref(img->measurement);
	measurement_unref(img->script_measurement);
	free(e);
}

size_t proc_table_image_count(struct kwid_proc_table *t) { return t->images.count - t->nidle; }

/* ---- processes ---- */

static struct proc_entry **find_slot(struct kwid_proc_table *t, pid_t tgid)
{
	struct proc_entry **pp = (struct proc_entry **)&t->procs.buckets[tgid_hash(t, tgid) & (t->procs.nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->p.id.tgid == tgid)
			return pp;
	return pp;
}

struct kwid_proc *proc_table_get(struct kwid_proc_table *t, pid_t tgid)
{
	struct proc_entry *e = *find_slot(t, tgid);
	return e ? &e->p : NULL;
}

const struct kwid_proc *proc_table_lookup(struct kwid_proc_table *t, pid_t tgid)
{
	return proc_table_get(t, tgid);
}

const struct kwid_proc *proc_table_lookup_exec(struct kwid_proc_table *t, const struct kwid_exec_id *id)
{
	const struct kwid_proc *p = proc_table_get(t, id->tgid);

	return p && exec_id_equal(&p->id, id) ? p : NULL;
}

size_t proc_table_count(struct kwid_proc_table *t) { return t->procs.count; }

struct kwid_proc *proc_table_put(struct kwid_proc_table *t, const struct kwid_proc *p, uint64_t updated_ns)
{
	struct proc_entry **pp = find_slot(t, p->id.tgid), *e = *pp;

	if (e) {
		struct kwid_image *old = e->p.image;
		e->p = *p;
		e->updated_ns = updated_ns;
		e->start_coarse = false;
		proc_image_unref(t, old);
		return &e->p;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		proc_image_unref(t, p->image);
		return NULL;
	}
	e->p = *p;
	e->updated_ns = updated_ns;
	e->mark = t->mark;
	*pp = e;
	t->procs.count++;
	chain_grow(&t->procs, offsetof(struct proc_entry, next), proc_node_hash, t);
	return &e->p;
}

void proc_table_set_image(struct kwid_proc_table *t, struct kwid_proc *p, struct kwid_image *img)
{
	struct kwid_image *old = p->image;

	p->image = img;
	proc_image_unref(t, old);
}

void proc_table_touch(struct kwid_proc *p, uint64_t updated_ns, uint32_t mark)
{
	entry_of(p)->updated_ns = updated_ns;
	entry_of(p)->mark = mark;
}

int proc_table_remove(struct kwid_proc_table *t, pid_t tgid)
{
	struct proc_entry **pp = find_slot(t, tgid), *e = *pp;

	if (!e)
		return -ENOENT;
	*pp = e->next;
	t->procs.count--;
	proc_image_unref(t, e->p.image);
	free(e);
	return 0;
}

void proc_table_foreach(struct kwid_proc_table *t, void (*fn)(const struct kwid_proc *p, void *ud), void *ud)
{
	for (size_t i = 0; i < t->procs.nbuckets; i++)
		for (struct proc_entry *e = t->procs.buckets[i]; e; e = e->next)
			fn(&e->p, ud);
}

uint32_t proc_table_next_mark(struct kwid_proc_table *t) { return ++t->mark; }
uint32_t proc_entry_mark(const struct kwid_proc *p) { return ((const struct proc_entry *)p)->mark; }
uint64_t proc_entry_updated(const struct kwid_proc *p) { return ((const struct proc_entry *)p)->updated_ns; }
bool proc_entry_start_coarse(const struct kwid_proc *p) { return ((const struct proc_entry *)p)->start_coarse; }
void proc_entry_set_start_coarse(struct kwid_proc *p, bool coarse) { entry_of(p)->start_coarse = coarse; }

int proc_table_collect_stale(struct kwid_proc_table *t, uint32_t mark, uint64_t before_ns, pid_t **out, size_t *n)
{
	pid_t *v = NULL;
	size_t cnt = 0, cap = 0;

	for (size_t i = 0; i < t->procs.nbuckets; i++) {
		for (struct proc_entry *e = t->procs.buckets[i]; e; e = e->next) {
			if (e->mark == mark || e->updated_ns >= before_ns)
				continue;
			if (cnt == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				pid_t *nv = reallocarray_safe(v, ncap, sizeof(*nv));
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
				cap = ncap;
			}
			v[cnt++] = e->p.id.tgid;
		}
	}
	*out = v;
	*n = cnt;
	return 0;
}

void proc_table_free(struct kwid_proc_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; t->procs.buckets && i < t->procs.nbuckets; i++) {
		struct proc_entry *e = t->procs.buckets[i];
		while (e) {
			struct proc_entry *next = e->next;
			proc_image_unref(t, e->p.image);
			free(e);
			e = next;
		}
	}
	while (t->idle_head) {
		struct image_entry *e = t->idle_head;
		idle_remove(t, e);
		image_destroy(t, e);
	}
	if (t->images.count)
		log_warn("process table freed with %zu images still referenced", t->images.count);
	free(t->procs.buckets);
	free(t->images.buckets);
	free(t->strings.buckets);
	free(t);
}

/* ---- start times ---- */

uint64_t proc_tick_ns(void)
{
	static uint64_t tick;

	if (!tick) {
		long hz = sysconf(_SC_CLK_TCK);
		tick = 1000000000ull / (uint64_t)(hz > 0 ? hz : 100);
	}
	return tick;
}

bool proc_start_matches(uint64_t a_ns, bool a_coarse, uint64_t b_ns, bool b_coarse)
{
	uint64_t tick;

	if (!a_coarse && !b_coarse)
		return a_ns == b_ns;
	tick = proc_tick_ns();
	return a_ns / tick == b_ns / tick;
}
