/* unix.c - the unix attestor: effective user and group, supplementary
 * groups (live, from /proc/<pid>/status, so current after setuid), their
 * names where the lookup succeeds, the executable's path and the SHA-256
 * measured from the exact file that was executed. */
#include "kwid/agent.h"
#include "kwid/attest.h"
#include "kwid/attestor_util.h"
#include "kwid/log.h"
#include "kwid/measure.h"

#include <grp.h>
#include <pwd.h>

#define NAME_CACHE_SIZE 256
#define NAME_TTL_NS (30ull * 1000000000ull)
#define GROUPS_MAX 4096
#define NSS_BUF_MAX (1u << 20)

/* uid/gid -> name, positive and negative, for NAME_TTL_NS: name lookups go
 * through NSS and must not run on every attestation. */
struct name_entry {
	bool used, is_group, found;
	uint32_t id;
	uint64_t expires;
	char name[256];
};

struct unix_state {
	struct name_entry names[NAME_CACHE_SIZE];
	size_t next; /* round-robin replacement */
	uint64_t lookups, lookup_hits;
};

static int nss_lookup(bool is_group, uint32_t id, char *name, size_t namelen)
{
	size_t size = 16384;

	for (;;) {
		_cleanup_free_ char *buf = malloc(size);
		int r;

		if (!buf)
			return -ENOMEM;
		if (is_group) {
			struct group gr, *res = NULL;
			r = getgrgid_r((gid_t)id, &gr, buf, size, &res);
			if (r == 0 && res)
				return strscpy(name, gr.gr_name, namelen);
		} else {
			struct passwd pw, *res = NULL;
			r = getpwuid_r((uid_t)id, &pw, buf, size, &res);
			if (r == 0 && res)
				return strscpy(name, pw.pw_name, namelen);
		}
		if (r != ERANGE || size >= NSS_BUF_MAX)
			return r ? -r : -ENOENT;
		size *= 2;
	}
}

/* The name of uid/gid `id`, or NULL when it has none. */
static const char *lookup_name(struct unix_state *st, bool is_group, uint32_t id)
{
	uint64_t now = now_mono_ns();
	struct name_entry *e;

	st->lookups++;
	for (size_t i = 0; i < NAME_CACHE_SIZE; i++) {
		e = &st->names[i];
		if (e->used && e->is_group == is_group && e->id == id && e->expires > now) {
			st->lookup_hits++;
			return e->found ? e->name : NULL;
		}
	}
	e = &st->names[st->next];
	st->next = (st->next + 1) % NAME_CACHE_SIZE;
	*e = (struct name_entry){.used = true, .is_group = is_group, .id = id, .expires = now + NAME_TTL_NS};
	e->found = nss_lookup(is_group, id, e->name, sizeof(e->name)) == 0 && e->name[0];
	return e->found ? e->name : NULL;
}

static int add_id(struct unix_state *st, struct kwid_selector_set *out, bool is_group, const char *id_key,
		  const char *name_key, uint32_t id)
{
	const char *name;
	int r = selset_addf(out, "unix:%s:%u", id_key, id);

	if (r < 0)
		return r;
	name = lookup_name(st, is_group, id);
	if (!name)
		return 0;
	r = sel_add(out, "unix", name_key, name);
	return r == -ENAMETOOLONG || r == -EINVAL ? 0 : r; /* a name no selector can hold: left out */
}

/* unix:sha256 only for a finished measurement of a file unchanged since
 * exec; otherwise say why it is missing. */
static int add_digest(const struct kwid_attest_ctx *ctx, struct kwid_selector_set *out, const char *key,
		      const struct kwid_measurement *m, bool unchanged)
{
	if (!m)
		return 0;
	if (m->state != KWID_MEASURE_DONE) {
		attest_note(ctx, "%s left out: measurement %s (%s)", key,
			    m->state == KWID_MEASURE_PENDING ? "still pending" : "failed",
			    m->error ? strerror(-m->error) : "no error recorded");
		return 0;
	}
	if (!unchanged) {
		attest_note(ctx, "%s left out: the executable changed since exec", key);
		return 0;
	}
	return selset_addf(out, "unix:%s:%s", key, m->sha256_hex);
}

static int unix_attest(void *state, const struct kwid_attest_ctx *ctx, struct kwid_selector_set *out)
{
	struct unix_state *st = state;
	const struct kwid_image *img = ctx->proc->image;
	size_t ngroups = MIN(ctx->ngroups, (size_t)GROUPS_MAX);
	int r;

	r = add_id(st, out, false, "uid", "user", ctx->creds.euid);
	if (r < 0)
		return r;
	r = add_id(st, out, true, "gid", "group", ctx->creds.egid);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ngroups; i++) {
		r = add_id(st, out, true, "supplementary_gid", "supplementary_group", (uint32_t)ctx->groups[i]);
		if (r < 0)
			return r;
	}
	if (ctx->ngroups > ngroups)
		attest_note(ctx, "only the first %d of %zu supplementary groups became selectors", GROUPS_MAX,
			    ctx->ngroups);
	if (img->path) {
		r = sel_add(out, "unix", "path", img->path);
		if (r < 0 && r != -ENAMETOOLONG)
			return r;
	}
	r = add_digest(ctx, out, "sha256", img->measurement, ctx->exe_unchanged);
	if (r < 0)
		return r;
	if (img->script_path) {
		r = sel_add(out, "unix", "script_path", img->script_path);
		if (r < 0 && r != -ENAMETOOLONG)
			return r;
		/* The script is measured from the file named at exec, checked
		 * against its recorded version by the measurer. */
		r = add_digest(ctx, out, "script_sha256", img->script_measurement, true);
	}
	return r;
}

static int unix_init(struct kwid_agent *a, void **state)
{
	*state = calloc(1, sizeof(struct unix_state));
	return *state ? 0 : -ENOMEM;
}

static void unix_fini(void *state)
{
	free(state);
}

static void unix_status(void *state, json_object *out)
{
	struct unix_state *st = state;

	json_object_object_add(out, "name_lookups", json_object_new_int64((int64_t)st->lookups));
	json_object_object_add(out, "name_cache_hits", json_object_new_int64((int64_t)st->lookup_hits));
}

const struct kwid_attestor kwid_attestor_unix = {
	.name = "unix",
	.init = unix_init,
	.fini = unix_fini,
	.attest = unix_attest,
	.status = unix_status,
};
