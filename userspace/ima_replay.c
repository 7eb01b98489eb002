/* ima_replay.c - replays an IMA log into PCR values (extend =
 * H(PCR || template hash)) until a caller-supplied test says the quoted
 * state is reached, and collects the file digests of the entries that the
 * quote thereby vouches for.
 *
 * The log and the quote are not taken atomically: the log may have grown
 * after the quote, so the replay stops at the first prefix that matches
 * and reports its length. It never accepts a log shorter than the quote:
 * the kernel appends to the log before it extends the PCR. */
#include "kwid/ima.h"

struct replay_bank {
	bool used;
	EVP_MD *md;
	uint8_t digest[KWID_DIGEST_MAX]; /* what this entry extends into the bank */
};

struct replay {
	const struct ima_log *log;
	enum ima_extend_mode mode;
	struct replay_bank banks[KWID_DIGEST__COUNT];
	EVP_MD_CTX *ctx;
	uint8_t scratch[20 + 4 + IMA_OLD_NAME_MAX + 1];
};

static void replay_done(struct replay *r)
{
	for (size_t b = 0; b < KWID_DIGEST__COUNT; b++)
		EVP_MD_free(r->banks[b].md);
	EVP_MD_CTX_free(r->ctx);
}

/* The bytes the template hash covers: the template data, except for the
 * "ima" template (digest || name zero-padded to 256 bytes). */
static void hashed_bytes(struct replay *r, const struct ima_entry *e, const uint8_t **p, size_t *n)
{
	if (e->kind != IMA_TEMPLATE_IMA) {
		*p = e->template_data;
		*n = e->template_data_len;
		return;
	}
	memset(r->scratch, 0, sizeof(r->scratch));
	memcpy(r->scratch, e->file_digest, 20);
	memcpy(r->scratch + 20, e->path, e->path_len);
	*p = r->scratch;
	*n = 20 + IMA_OLD_NAME_MAX + 1;
}

/* Fill banks[].digest with what entry e extends into each used bank. */
static int entry_digests(struct replay *r, size_t index, const struct ima_entry *e,
			 struct ima_replay_result *res)
{
	enum kwid_digest_alg lb = r->log->bank;
	size_t lsize = digest_info(lb)->size;
	uint8_t logged[KWID_DIGEST_MAX];
	const uint8_t *p;
	size_t n;

	if (e->violation) {
		for (size_t b = 0; b < KWID_DIGEST__COUNT; b++) {
			if (!r->banks[b].used)
				continue;
			memset(r->banks[b].digest, 0, sizeof(r->banks[b].digest));
			if (r->mode == IMA_EXTEND_PADDED_SHA1 && lb == KWID_DIGEST_SHA1)
				memset(r->banks[b].digest, 0xff, 20);
			else
				memset(r->banks[b].digest, 0xff, digest_info(b)->size);
		}
		return 0;
	}
	hashed_bytes(r, e, &p, &n);
	/* Bind the entry's data to what is extended: its logged template
	 * digest must be the hash of its data. */
	if (digest_buf(lb, r->banks[lb].md, r->ctx, p, n, logged) < 0)
		return -EIO;
	if (memcmp(logged, e->template_digest, lsize) != 0) {
		char path[128];
		ima_path_escape(e, path, sizeof(path));
		res->bad_entry = index;
		snprintf(res->error, sizeof(res->error),
			 "entry %zu (%s): %s template digest does not match its template data", index, path,
			 digest_info(lb)->name);
		return -EBADMSG;
	}
	for (size_t b = 0; b < KWID_DIGEST__COUNT; b++) {
		struct replay_bank *rb = &r->banks[b];
		if (!rb->used)
			continue;
		if (b == lb) {
			memcpy(rb->digest, logged, lsize);
		} else if (r->mode == IMA_EXTEND_PADDED_SHA1 && lb == KWID_DIGEST_SHA1) {
			memset(rb->digest, 0, sizeof(rb->digest));
			memcpy(rb->digest, logged, 20);
		} else if (digest_buf((enum kwid_digest_alg)b, rb->md, r->ctx, p, n, rb->digest) < 0) {
			return -EIO;
		}
	}
	return 0;
}

static int replay_init(struct replay *r, const struct ima_log *log, enum ima_extend_mode mode,
		       struct ima_replay_pcr *pcrs, size_t npcrs, uint64_t *mask)
{
	memset(r, 0, sizeof(*r));
	r->log = log;
	r->mode = mode;
	r->ctx = EVP_MD_CTX_new();
	if (!r->ctx)
		return -ENOMEM;
	r->banks[log->bank].used = true;
	*mask = 0;
	for (size_t i = 0; i < npcrs; i++) {
		if (!digest_info(pcrs[i].bank) || pcrs[i].pcr >= IMA_PCR_LIMIT)
			return -EINVAL;
		r->banks[pcrs[i].bank].used = true;
		memset(pcrs[i].value, 0, sizeof(pcrs[i].value));
		*mask |= 1ull << pcrs[i].pcr;
	}
	for (size_t b = 0; b < KWID_DIGEST__COUNT; b++) {
		if (r->banks[b].used && !(r->banks[b].md = digest_fetch((enum kwid_digest_alg)b)))
			return -EIO;
	}
	return 0;
}

int ima_replay(const struct ima_log *log, enum ima_extend_mode mode, struct ima_replay_pcr *pcrs,
	       size_t npcrs, ima_replay_match_fn match, void *userdata, struct ima_replay_result *res)
{
	struct replay r;
	uint64_t mask;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = replay_init(&r, log, mode, pcrs, npcrs, &mask);
	if (ret < 0)
		goto out;
	if (match(userdata, pcrs, npcrs, 0))
		goto out; /* ret == 0, matched == 0 */
	for (size_t i = 0; i < log->n; i++) {
		const struct ima_entry *e = &log->entries[i];

		if (!(mask & (1ull << e->pcr)))
			continue;
		ret = entry_digests(&r, i, e, res);
		if (ret < 0)
			goto out;
		for (size_t k = 0; k < npcrs; k++) {
			if (pcrs[k].pcr != e->pcr)
				continue;
			ret = digest_extend(pcrs[k].bank, r.banks[pcrs[k].bank].md, r.ctx, pcrs[k].value,
					    r.banks[pcrs[k].bank].digest);
			if (ret < 0)
				goto out;
		}
		if (match(userdata, pcrs, npcrs, i + 1)) {
			res->matched = i + 1;
			goto out;
		}
	}
	snprintf(res->error, sizeof(res->error), "no prefix of the %zu-entry IMA log reproduces the quoted PCRs",
		 log->n);
	ret = -ENOENT;
out:
	replay_done(&r);
	return ret;
}

static int cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

int ima_digest_set_build(const struct ima_log *log, size_t count, uint64_t pcr_mask,
			 struct ima_digest_set *out)
{
	size_t n = 0, w = 0;

	memset(out, 0, sizeof(*out));
	count = MIN(count, log->n);
	out->v = calloc_array(count, 32);
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		const struct ima_entry *e = &log->entries[i];
		if (e->violation || e->file_alg != KWID_DIGEST_SHA256 || !(pcr_mask & (1ull << e->pcr)) ||
		    streq(e->digest_type, "verity"))
			continue;
		memcpy(out->v[n++], e->file_digest, 32);
	}
	qsort(out->v, n, 32, cmp_digest);
	for (size_t i = 0; i < n; i++)
		if (w == 0 || memcmp(out->v[w - 1], out->v[i], 32) != 0)
			memmove(out->v[w++], out->v[i], 32);
	out->n = w;
	return 0;
}

bool ima_digest_set_contains(const struct ima_digest_set *s, const uint8_t sha256[32])
{
	return s->n && bsearch(sha256, s->v, s->n, 32, cmp_digest) != NULL;
}

void ima_digest_set_clear(struct ima_digest_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
