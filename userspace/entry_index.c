/* entry_index.c - selector -> entries index (see kwid/entry_index.h).
 *
 * Per selector the index keeps a bucket: how many entries hold the
 * selector (`holders`, used to choose keys) and the entries filed under it
 * (`filed`). Per entry a small record says where it is filed so that
 * removal is O(1) plus one hash look-up per selector. */
#include "kwid/entry_index.h"
#include "kwid/strmap.h"

struct bucket {
	size_t holders;
	struct filing **filed;
	size_t nfiled, cap;
};

struct filing {
	const struct kwid_entry *entry;
	struct bucket *bucket;
	size_t pos; /* index in bucket->filed */
};

struct entry_index {
	struct strmap *buckets; /* selector -> struct bucket */
	struct strmap *filings; /* entry id -> struct filing */
};

int entry_index_new(struct entry_index **out)
{
	struct entry_index *ix = calloc(1, sizeof(*ix));
	int r;

	if (!ix)
		return -ENOMEM;
	r = strmap_new(&ix->buckets);
	if (r == 0)
		r = strmap_new(&ix->filings);
	if (r < 0) {
		entry_index_free(ix);
		return r;
	}
	*out = ix;
	return 0;
}

void entry_index_free(struct entry_index *ix)
{
	size_t it = 0;
	void *v;

	if (!ix)
		return;
	if (ix->buckets) {
		while (strmap_next(ix->buckets, &it, NULL, &v)) {
			struct bucket *b = v;
			free(b->filed);
			free(b);
		}
		strmap_free(ix->buckets);
	}
	it = 0;
	if (ix->filings) {
		while (strmap_next(ix->filings, &it, NULL, &v))
			free(v);
		strmap_free(ix->filings);
	}
	free(ix);
}

static struct bucket *bucket_get_or_new(struct entry_index *ix, const char *sel)
{
	struct bucket *b = strmap_get(ix->buckets, sel);

	if (b)
		return b;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	if (strmap_put(ix->buckets, sel, b) < 0) {
		free(b);
		return NULL;
	}
	return b;
}

static void bucket_release(struct entry_index *ix, const char *sel, struct bucket *b)
{
	if (b->holders > 0 || b->nfiled > 0)
		return;
	strmap_remove(ix->buckets, sel);
	free(b->filed);
	free(b);
}

/* The selector of e held by the fewest entries; on a tie the longer one
 * (a hash or an id is rarer in the long run than "unix:uid:0"). */
static size_t choose_key(struct bucket **bs, const struct kwid_entry *e)
{
	size_t best = 0;

	for (size_t i = 1; i < e->selectors.n; i++) {
		if (bs[i]->holders < bs[best]->holders ||
		    (bs[i]->holders == bs[best]->holders &&
		     strlen(e->selectors.v[i]) > strlen(e->selectors.v[best])))
			best = i;
	}
	return best;
}

static int bucket_file(struct bucket *b, struct filing *f)
{
	if (b->nfiled == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 4;
		struct filing **n = reallocarray_safe(b->filed, ncap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		b->filed = n;
		b->cap = ncap;
	}
	f->bucket = b;
	f->pos = b->nfiled;
	b->filed[b->nfiled++] = f;
	return 0;
}

int entry_index_add(struct entry_index *ix, const struct kwid_entry *e)
{
	_cleanup_free_ struct bucket **bs = calloc_array(e->selectors.n, sizeof(*bs));
	_cleanup_free_ struct filing *f = calloc(1, sizeof(*f));
	size_t key, got = 0;
	int r = -ENOMEM;

	if (!bs || !f || e->selectors.n == 0)
		return bs && f ? -EINVAL : -ENOMEM;
	for (; got < e->selectors.n; got++) {
		bs[got] = bucket_get_or_new(ix, e->selectors.v[got]);
		if (!bs[got])
			goto undo;
	}
	key = choose_key(bs, e);
	f->entry = e;
	r = strmap_put(ix->filings, e->id, f);
	if (r < 0)
		goto undo;
	r = bucket_file(bs[key], f);
	if (r < 0) {
		strmap_remove(ix->filings, e->id);
		goto undo;
	}
	for (size_t i = 0; i < e->selectors.n; i++)
		bs[i]->holders++;
	TAKE_PTR(f);
	return 0;
undo:
	for (size_t i = 0; i < got; i++)
		bucket_release(ix, e->selectors.v[i], bs[i]);
	return r;
}

void entry_index_remove(struct entry_index *ix, const struct kwid_entry *e)
{
	struct filing *f = strmap_remove(ix->filings, e->id);
	struct bucket *b;

	if (!f)
		return;
	/* Swap-remove from the bucket it is filed in. */
	b = f->bucket;
	b->filed[f->pos] = b->filed[b->nfiled - 1];
	b->filed[f->pos]->pos = f->pos;
	b->nfiled--;
	free(f);
	for (size_t i = 0; i < e->selectors.n; i++) {
		b = strmap_get(ix->buckets, e->selectors.v[i]);
		if (!b)
			continue;
		b->holders--;
		bucket_release(ix, e->selectors.v[i], b);
	}
}

/* Subset test: both sorted, so one merge walk. */
static bool sorted_subset(const struct kwid_selector_set *sub, const struct kwid_selector_set *super)
{
	size_t j = 0;

	for (size_t i = 0; i < sub->n; i++) {
		int c = 1;
		while (j < super->n && (c = strcmp(super->v[j], sub->v[i])) < 0)
			j++;
		if (c != 0)
			return false;
		j++;
	}
	return true;
}

static int push(const struct kwid_entry ***out, size_t *n, size_t *cap, const struct kwid_entry *e)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		const struct kwid_entry **v = reallocarray_safe(*out, ncap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		*out = v;
		*cap = ncap;
	}
	(*out)[(*n)++] = e;
	return 0;
}

int entry_index_match(struct entry_index *ix, const struct kwid_selector_set *workload, int64_t now,
		      const struct kwid_entry ***out, size_t *n, size_t *cap)
{
	if (!workload->sorted)
		return -EINVAL;
	for (size_t i = 0; i < workload->n; i++) {
		struct bucket *b = strmap_get(ix->buckets, workload->v[i]);
		if (!b)
			continue;
		for (size_t k = 0; k < b->nfiled; k++) {
			const struct kwid_entry *e = b->filed[k]->entry;
			int r;
			if (entry_expired(e, now) || !sorted_subset(&e->selectors, workload))
				continue;
			r = push(out, n, cap, e);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

void entry_index_status(struct entry_index *ix, json_object *out)
{
	size_t it = 0, largest = 0;
	const char *largest_sel = NULL, *sel;
	void *v;

	while (strmap_next(ix->buckets, &it, &sel, &v)) {
		struct bucket *b = v;
		if (b->nfiled > largest) {
			largest = b->nfiled;
			largest_sel = sel;
		}
	}
	json_object_object_add(out, "indexed_selectors", json_object_new_int64((int64_t)strmap_size(ix->buckets)));
	json_object_object_add(out, "largest_bucket", json_object_new_int64((int64_t)largest));
	json_object_object_add(out, "largest_bucket_selector",
			       largest_sel ? json_object_new_string(largest_sel) : NULL);
}
