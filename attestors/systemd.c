/* systemd.c - the systemd attestor: the unit (and slice) that holds the
 * process, read from its cgroup path without D-Bus, and the unit's
 * fragment path found by looking the unit file up in the unit directories
 * (a lookup, bounded and cached; not systemd's own answer). A unit inside
 * a user's own manager (user@<uid>.service) is reported as
 * systemd:user_unit: that user controls it. */
#include "kwid/agent.h"
#include "kwid/attest.h"
#include "kwid/attestor_util.h"
#include "kwid/cgroup_path.h"
#include "kwid/log.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#define UNIT_DIRS_MAX 16
#define FRAGMENT_CACHE_SIZE 128
#define FRAGMENT_TTL_NS (30ull * 1000000000ull)

/* systemd's system unit search path, most specific first. */
static const char *const default_unit_dirs[] = {
	"/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient",
	"/run/systemd/generator.early", "/etc/systemd/system", "/etc/systemd/system.attached",
	"/run/systemd/system", "/run/systemd/system.attached", "/run/systemd/generator",
	"/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system",
	"/run/systemd/generator.late",
};

struct fragment_entry {
	bool used;
	uint64_t expires;
	char unit[KWID_CGROUP_NAME_MAX + 1];
	char path[PATH_MAX]; /* "" when no unit file was found */
};

struct systemd_state {
	char *dirs[UNIT_DIRS_MAX];
	size_t ndirs;
	struct fragment_entry cache[FRAGMENT_CACHE_SIZE];
	size_t next;
	uint64_t lookups, hits;
};

enum unit_file { UNIT_ABSENT, UNIT_FOUND, UNIT_MASKED };

/* Is there a unit file dir/name, and is it a mask? */
static enum unit_file unit_file_at(const char *dir, const char *name, char *path, size_t pathlen)
{
	struct stat st;
	char target[16];
	ssize_t n;

	if (snprintf(path, pathlen, "%s/%s", dir, name) >= (int)pathlen)
		return UNIT_ABSENT;
	if (lstat(path, &st) < 0)
		return UNIT_ABSENT;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, target, sizeof(target) - 1);
		if (n >= 0) {
			target[n] = '\0';
			if (streq(target, "/dev/null"))
				return UNIT_MASKED;
		}
		return UNIT_FOUND;
	}
	/* systemd takes an empty file or a device node as a mask too. */
	if (S_ISCHR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_size == 0))
		return UNIT_MASKED;
	return S_ISREG(st.st_mode) ? UNIT_FOUND : UNIT_ABSENT;
}

/* The first directory that has the name decides: a mask there hides any
 * file further down. The instance's own file first, then its template's
 * (foo@bar.service -> foo@.service), as systemd looks them up. */
static enum unit_file search_dirs(struct systemd_state *st, const char *name, char *path, size_t pathlen)
{
	for (size_t i = 0; i < st->ndirs; i++) {
		enum unit_file u = unit_file_at(st->dirs[i], name, path, pathlen);
		if (u != UNIT_ABSENT)
			return u;
	}
	return UNIT_ABSENT;
}

static void find_fragment(struct systemd_state *st, const char *unit, char *path, size_t pathlen)
{
	char templ[KWID_CGROUP_NAME_MAX + 1];
	const char *at = strchr(unit, '@'), *dot = strrchr(unit, '.');
	enum unit_file u = search_dirs(st, unit, path, pathlen);

	if (u == UNIT_ABSENT && at && dot && dot > at + 1 &&
	    snprintf(templ, sizeof(templ), "%.*s%s", (int)(at - unit + 1), unit, dot) < (int)sizeof(templ))
		u = search_dirs(st, templ, path, pathlen);
	if (u != UNIT_FOUND)
		path[0] = '\0';
}

static const char *fragment_path(struct systemd_state *st, const char *unit)
{
	uint64_t now = now_mono_ns();
	struct fragment_entry *e;

	st->lookups++;
	for (size_t i = 0; i < FRAGMENT_CACHE_SIZE; i++) {
		e = &st->cache[i];
		if (e->used && e->expires > now && streq(e->unit, unit)) {
			st->hits++;
			return e->path[0] ? e->path : NULL;
		}
	}
	e = &st->cache[st->next];
	st->next = (st->next + 1) % FRAGMENT_CACHE_SIZE;
	e->used = true;
	e->expires = now + FRAGMENT_TTL_NS;
	strscpy(e->unit, unit, sizeof(e->unit));
	find_fragment(st, unit, e->path, sizeof(e->path));
	return e->path[0] ? e->path : NULL;
}

static int systemd_attest(void *state, const struct kwid_attest_ctx *ctx, struct kwid_selector_set *out)
{
	struct systemd_state *st = state;
	const struct kwid_cgroup_path_info *info;
	const char *frag;
	int r;

	r = attest_cgroup_facts(ctx, false, &info);
	if (r < 0)
		return r;
	if (!info->unit[0])
		return 0;
	if ((r = sel_add(out, "systemd", "id", info->unit)) < 0 ||
	    (info->slice[0] && (r = sel_add(out, "systemd", "slice", info->slice)) < 0) ||
	    (info->user_unit[0] && (r = sel_add(out, "systemd", "user_unit", info->user_unit)) < 0))
		return r;
	frag = fragment_path(st, info->unit);
	if (frag && (r = sel_add(out, "systemd", "fragment_path", frag)) < 0 && r != -ENAMETOOLONG)
		return r;
	return 0;
}

static void systemd_fini(void *state)
{
	struct systemd_state *st = state;

	if (!st)
		return;
	for (size_t i = 0; i < st->ndirs; i++)
		free(st->dirs[i]);
	free(st);
}

static int add_dir(struct systemd_state *st, const char *dir)
{
	if (st->ndirs == UNIT_DIRS_MAX)
		return log_error_errno(-E2BIG, "config: attestors.systemd_unit_dirs holds more than %d directories",
				       UNIT_DIRS_MAX);
	if (dir[0] != '/')
		return log_error_errno(-EINVAL, "config: attestors.systemd_unit_dirs: '%s' is not absolute", dir);
	st->dirs[st->ndirs] = strdup(dir);
	return st->dirs[st->ndirs++] ? 0 : -ENOMEM;
}

static int systemd_init(struct kwid_agent *a, void **state)
{
	struct systemd_state *st = calloc(1, sizeof(*st));
	json_object *dirs = a && a->cfg ? config_get(a->cfg, "attestors.systemd_unit_dirs") : NULL;
	int r = 0;

	if (!st)
		return -ENOMEM;
	if (dirs && !json_object_is_type(dirs, json_type_null)) {
		if (!json_object_is_type(dirs, json_type_array))
			r = log_error_errno(-EINVAL, "config: attestors.systemd_unit_dirs must be an array");
		for (size_t i = 0; r == 0 && i < json_object_array_length(dirs); i++) {
			json_object *v = json_object_array_get_idx(dirs, i);
			r = json_object_is_type(v, json_type_string)
				    ? add_dir(st, json_object_get_string(v))
				    : log_error_errno(-EINVAL, "config: attestors.systemd_unit_dirs[%zu] is not a string", i);
		}
	} else {
		for (size_t i = 0; r == 0 && i < ARRAY_SIZE(default_unit_dirs); i++)
			r = add_dir(st, default_unit_dirs[i]);
	}
	if (r < 0) {
		systemd_fini(st);
		return r;
	}
	*state = st;
	return 0;
}

static void systemd_status(void *state, json_object *out)
{
	struct systemd_state *st = state;

	json_object_object_add(out, "fragment_lookups", json_object_new_int64((int64_t)st->lookups));
	json_object_object_add(out, "fragment_cache_hits", json_object_new_int64((int64_t)st->hits));
}

const struct kwid_attestor kwid_attestor_systemd = {
	.name = "systemd",
	.init = systemd_init,
	.fini = systemd_fini,
	.attest = systemd_attest,
	.status = systemd_status,
};
