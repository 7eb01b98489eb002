/* runtime_cache.c - finds a container's state file under the runtimes'
 * state roots, reads it with the checks of read_trusted_file_at() and
 * caches the parsed result per container while the file's version stays
 * the same (see kwid/runtime_state.h). The warm path is one fstatat(). */
#include "kwid/attestor_util.h"
#include "kwid/runtime_state.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#define CONTAINERD_NS_MAX 64
/* A container without state is looked for again after this long: its
 * runtime may be writing the state right now. */
#define NEGATIVE_TTL_NS (1ull * 1000000000ull)

struct cache_entry {
	bool used;
	bool negative;	  /* no state found; valid until expires */
	uint64_t expires;
	char id[KWID_CONTAINER_ID_LEN + 1];
	enum kwid_runtime asked;
	char path[PATH_MAX];
	struct stat st;
	uint64_t last_use;
	struct kwid_container_state state;
};

/* containers/storage keeps every container of a store in one file. */
struct store_cache {
	struct stat st;
	json_object *root;
};

struct kwid_runtime_cache {
	char *docker_root, *containerd_state, *crio_state, *podman_state;
	struct cache_entry *entries;
	size_t max_entries;
	uint64_t clock;
	struct store_cache podman;
	uint64_t hits, misses, not_found, refused;
};

int runtime_cache_new(const struct kwid_runtime_roots *roots, size_t max_entries, struct kwid_runtime_cache **out)
{
	struct kwid_runtime_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->max_entries = max_entries ? max_entries : 1;
	c->entries = calloc_array(c->max_entries, sizeof(*c->entries));
	c->docker_root = strdup(roots->docker_root ? roots->docker_root : "");
	c->containerd_state = strdup(roots->containerd_state ? roots->containerd_state : "");
	c->crio_state = strdup(roots->crio_state ? roots->crio_state : "");
	c->podman_state = strdup(roots->podman_state ? roots->podman_state : "");
	if (!c->entries || !c->docker_root || !c->containerd_state || !c->crio_state || !c->podman_state) {
		runtime_cache_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void runtime_cache_free(struct kwid_runtime_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->entries && i < c->max_entries; i++)
		container_state_clear(&c->entries[i].state);
	free(c->entries);
	json_object_put(c->podman.root);
	free(c->docker_root);
	free(c->containerd_state);
	free(c->crio_state);
	free(c->podman_state);
	free(c);
}

static struct cache_entry *find_entry(struct kwid_runtime_cache *c, const char *id, enum kwid_runtime asked)
{
	for (size_t i = 0; i < c->max_entries; i++) {
		struct cache_entry *e = &c->entries[i];
		if (e->used && e->asked == asked && streq(e->id, id))
			return e;
	}
	return NULL;
}

static struct cache_entry *take_slot(struct kwid_runtime_cache *c)
{
	struct cache_entry *victim = &c->entries[0];

	for (size_t i = 0; i < c->max_entries; i++) {
		struct cache_entry *e = &c->entries[i];
		if (!e->used)
			return e;
		if (e->last_use < victim->last_use)
			victim = e;
	}
	container_state_clear(&victim->state);
	victim->used = victim->negative = false;
	return victim;
}

static int why_errno(char *why, size_t whylen, const char *path, int r)
{
	if (r == -EPERM)
		snprintf(why, whylen, "%s: not a regular file owned by root and writable only by root", path);
	else
		snprintf(why, whylen, "%s: %s", path, strerror(-r));
	return r;
}

/* Read and parse one container's state file into e->state. */
static int load_file(struct kwid_runtime_cache *c, enum kwid_runtime runtime, const char *id, const char *path,
		     struct cache_entry *e, char *why, size_t whylen)
{
	_cleanup_free_ char *buf = NULL;
	const char *perr = NULL;
	size_t len;
	int r;

	r = read_trusted_file_at(AT_FDCWD, path, KWID_STATE_FILE_MAX, true, &buf, &len, &e->st);
	if (r < 0)
		return why_errno(why, whylen, path, r);
	if (runtime == KWID_RUNTIME_DOCKER)
		r = docker_config_parse(buf, len, id, &e->state, &perr);
	else
		r = oci_config_parse(buf, len, runtime, id, &e->state, &perr);
	if (r < 0)
		snprintf(why, whylen, "%s: %s", path, perr ? perr : strerror(-r));
	return r;
}

static int load_podman(struct kwid_runtime_cache *c, const char *id, const char *path, struct cache_entry *e,
		       char *why, size_t whylen)
{
	const char *perr = NULL;
	struct stat st;
	int r;

	if (stat(path, &st) < 0)
		return why_errno(why, whylen, path, -errno);
	if (!c->podman.root || !stat_same_version(&st, &c->podman.st)) {
		_cleanup_free_ char *buf = NULL;
		json_object *root;
		size_t len;

		r = read_trusted_file_at(AT_FDCWD, path, KWID_STATE_STORE_MAX, true, &buf, &len, &st);
		if (r < 0)
			return why_errno(why, whylen, path, r);
		r = state_json_parse(buf, len, &root, &perr);
		if (r < 0) {
			snprintf(why, whylen, "%s: %s", path, perr);
			return r;
		}
		json_object_put(c->podman.root);
		c->podman.root = root;
		c->podman.st = st;
	}
	e->st = c->podman.st;
	r = cstorage_containers_find(c->podman.root, id, &e->state, &perr);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		snprintf(why, whylen, "%s: %s", path, perr ? perr : strerror(-r));
	return r;
}

/* Candidate state files of (runtime, id), in the order they are tried. */
static size_t candidates(struct kwid_runtime_cache *c, enum kwid_runtime runtime, const char *id,
			 char (*paths)[PATH_MAX], enum kwid_runtime *kinds, size_t max)
{
	static const char *const task_dirs[] = {"io.containerd.runtime.v2.task", "io.containerd.runtime.v1.linux"};
	static const char *const preferred_ns[] = {"k8s.io", "moby", "default"};
	size_t n = 0;

#define ADD(kind, ...)                                                                   \
	do {                                                                             \
		if (n < max && snprintf(paths[n], PATH_MAX, __VA_ARGS__) < PATH_MAX) \
			kinds[n++] = (kind);                                             \
	} while (0)

	if (runtime == KWID_RUNTIME_CONTAINERD || runtime == KWID_RUNTIME_UNKNOWN) {
		for (size_t t = 0; t < ARRAY_SIZE(task_dirs); t++) {
			char dir[PATH_MAX];
			DIR *d;
			struct dirent *de;
			size_t seen = 0;

			for (size_t i = 0; i < ARRAY_SIZE(preferred_ns); i++)
				ADD(KWID_RUNTIME_CONTAINERD, "%s/%s/%s/%s/config.json", c->containerd_state,
				    task_dirs[t], preferred_ns[i], id);
			/* Other namespaces, bounded. */
			if (snprintf(dir, sizeof(dir), "%s/%s", c->containerd_state, task_dirs[t]) >= (int)sizeof(dir))
				continue;
			d = opendir(dir);
			if (!d)
				continue;
			while ((de = readdir(d)) && seen++ < CONTAINERD_NS_MAX) {
				bool known = de->d_name[0] == '.';
				for (size_t i = 0; i < ARRAY_SIZE(preferred_ns) && !known; i++)
					known = streq(de->d_name, preferred_ns[i]);
				if (!known)
					ADD(KWID_RUNTIME_CONTAINERD, "%s/%s/%s/config.json", dir, de->d_name, id);
			}
			closedir(d);
		}
	}
	if (runtime == KWID_RUNTIME_DOCKER || runtime == KWID_RUNTIME_UNKNOWN)
		ADD(KWID_RUNTIME_DOCKER, "%s/containers/%s/config.v2.json", c->docker_root, id);
	if (runtime == KWID_RUNTIME_CRIO)
		ADD(KWID_RUNTIME_CRIO, "%s/%s/userdata/config.json", c->crio_state, id);
	if (runtime == KWID_RUNTIME_PODMAN)
		ADD(KWID_RUNTIME_PODMAN, "%s/containers.json", c->podman_state);
#undef ADD
	return n;
}

static bool entry_fresh(const struct cache_entry *e)
{
	struct stat st;

	return fstatat(AT_FDCWD, e->path, &st, AT_SYMLINK_NOFOLLOW) == 0 && stat_same_version(&st, &e->st);
}

int runtime_cache_lookup(struct kwid_runtime_cache *c, enum kwid_runtime runtime, const char *id,
			 const struct kwid_container_state **out, char *why, size_t whylen)
{
	enum { MAX_CANDIDATES = 2 * (3 + CONTAINERD_NS_MAX) + 4 };
	_cleanup_free_ char(*paths)[PATH_MAX] = NULL;
	enum kwid_runtime kinds[MAX_CANDIDATES];
	struct cache_entry *e;
	size_t n;
	int r;

	*out = NULL;
	why[0] = '\0';
	if (runtime == KWID_RUNTIME_NONE || !id || strlen(id) != KWID_CONTAINER_ID_LEN ||
	    !is_lower_hex(id, KWID_CONTAINER_ID_LEN))
		return -EINVAL;
	e = find_entry(c, id, runtime);
	if (e && e->negative && e->expires > now_mono_ns()) {
		e->last_use = ++c->clock;
		c->not_found++;
		return -ENOENT;
	}
	if (e && !e->negative && entry_fresh(e)) {
		e->last_use = ++c->clock;
		c->hits++;
		*out = &e->state;
		return 0;
	}
	if (e) {
		container_state_clear(&e->state);
		e->used = e->negative = false;
	}
	c->misses++;
	paths = calloc(MAX_CANDIDATES, sizeof(*paths));
	if (!paths)
		return -ENOMEM;
	n = candidates(c, runtime, id, paths, kinds, MAX_CANDIDATES);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (fstatat(AT_FDCWD, paths[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			c->refused++;
			return why_errno(why, whylen, paths[i], -errno);
		}
		e = take_slot(c);
		if (kinds[i] == KWID_RUNTIME_PODMAN)
			r = load_podman(c, id, paths[i], e, why, whylen);
		else
			r = load_file(c, kinds[i], id, paths[i], e, why, whylen);
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			container_state_clear(&e->state);
			c->refused++;
			return r;
		}
		e->used = true;
		e->asked = runtime;
		strscpy(e->id, id, sizeof(e->id));
		strscpy(e->path, paths[i], sizeof(e->path));
		e->last_use = ++c->clock;
		*out = &e->state;
		return 0;
	}
	c->not_found++;
	e = take_slot(c);
	e->used = e->negative = true;
	e->expires = now_mono_ns() + NEGATIVE_TTL_NS;
	e->asked = runtime;
	strscpy(e->id, id, sizeof(e->id));
	e->path[0] = '\0';
	e->last_use = ++c->clock;
	return -ENOENT;
}

void runtime_cache_status(struct kwid_runtime_cache *c, json_object *out)
{
	size_t used = 0;

	for (size_t i = 0; i < c->max_entries; i++)
		used += c->entries[i].used;
	json_object_object_add(out, "state_cache_entries", json_object_new_int64((int64_t)used));
	json_object_object_add(out, "state_cache_hits", json_object_new_int64((int64_t)c->hits));
	json_object_object_add(out, "state_cache_misses", json_object_new_int64((int64_t)c->misses));
	json_object_object_add(out, "state_not_found", json_object_new_int64((int64_t)c->not_found));
	json_object_object_add(out, "state_refused", json_object_new_int64((int64_t)c->refused));
}
