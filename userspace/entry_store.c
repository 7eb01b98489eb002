/* entry_store.c - durable registration entries, one JSON file per entry
 * (see kwid/entry_store.h for the layout and why). */
#include "kwid/entry_store.h"
#include "kwid/config.h"
#include "kwid/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#define STORE_SUBDIR "entries"
#define STORE_FORMAT_VERSION 1

struct entry_store {
	char *path;
	int dfd;
};

/* Temporary files of write_file_atomic: ".<name>.tmp.<pid>". */
static bool is_temp_name(const char *name)
{
	return name[0] == '.' && strstr(name, ".tmp.");
}

static void remove_leftovers(struct entry_store *st)
{
	_cleanup_close_ int fd = openat(st->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	bool removed = false;

	if (!d)
		return;
	TAKE_FD(fd);
	while ((de = readdir(d))) {
		if (!is_temp_name(de->d_name))
			continue;
		/* An interrupted write never acknowledged this entry. */
		if (unlinkat(st->dfd, de->d_name, 0) == 0) {
			log_info("entry store: removed unfinished write %s/%s", st->path, de->d_name);
			removed = true;
		}
	}
	closedir(d);
	if (removed)
		fsync(st->dfd);
}

int entry_store_open(const char *state_dir, struct entry_store **out)
{
	struct entry_store *st = calloc(1, sizeof(*st));
	struct stat s;
	int r;

	if (!st)
		return -ENOMEM;
	st->dfd = -1;
	if (asprintf(&st->path, "%s/" STORE_SUBDIR, state_dir) < 0) {
		free(st);
		return -ENOMEM;
	}
	r = mkdir_p(st->path, 0700);
	if (r < 0) {
		log_error_errno(r, "entry store: cannot create %s", st->path);
		goto fail;
	}
	st->dfd = open(st->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (st->dfd < 0) {
		r = log_error_errno(-errno, "entry store: cannot open %s", st->path);
		goto fail;
	}
	if (fstat(st->dfd, &s) == 0 && (s.st_mode & 077) && fchmod(st->dfd, 0700) < 0) {
		r = log_error_errno(-errno, "entry store: cannot restrict %s to 0700", st->path);
		goto fail;
	}
	remove_leftovers(st);
	*out = st;
	return 0;
fail:
	entry_store_free(st);
	return r;
}

void entry_store_free(struct entry_store *st)
{
	if (!st)
		return;
	if (st->dfd >= 0)
		close(st->dfd);
	free(st->path);
	free(st);
}

const char *entry_store_path(const struct entry_store *st)
{
	return st->path;
}

/* Parse one store file into an entry whose id must match the file name. */
static int load_one(struct entry_store *st, const char *name, struct kwid_entry **out, char **errmsg)
{
	_cleanup_free_ char *text = NULL, *jerr = NULL, *path = NULL;
	json_object *root = NULL, *version, *obj;
	struct entry_error err;
	struct kwid_entry *e = NULL;
	size_t stem = strlen(name) - strlen(".json");
	int r;

	r = read_file_at(st->dfd, name, ENTRY_STORE_FILE_MAX, &text, NULL);
	if (r < 0)
		return errmsg_set(errmsg, r, "%s/%s: cannot read: %s", st->path, name, strerror(-r));
	if (asprintf(&path, "%s/%s", st->path, name) < 0)
		return -ENOMEM;
	r = config_parse_text(text, path, &root, &jerr);
	if (r < 0)
		return errmsg_set(errmsg, r, "%s", jerr ? jerr : path);
	if (!json_object_object_get_ex(root, "version", &version) ||
	    json_object_get_int(version) != STORE_FORMAT_VERSION ||
	    !json_object_object_get_ex(root, "entry", &obj)) {
		json_object_put(root);
		return errmsg_set(errmsg, -EINVAL, "%s/%s: not a kwid entry file (want {\"version\": %d, \"entry\": {...}})",
			       st->path, name, STORE_FORMAT_VERSION);
	}
	r = entry_from_json(obj, ENTRY_JSON_NEED_ID | ENTRY_JSON_ALLOW_CREATED, &e, &err);
	json_object_put(root);
	if (r < 0) {
		char msg[512];
		if (r != -EINVAL)
			return errmsg_set(errmsg, r, "%s/%s: %s", st->path, name, strerror(-r));
		entry_error_format(&err, NULL, msg, sizeof(msg));
		return errmsg_set(errmsg, r, "%s/%s: %s", st->path, name, msg);
	}
	if (strlen(e->id) != stem || strncmp(e->id, name, stem) != 0) {
		r = errmsg_set(errmsg, -EINVAL, "%s/%s: holds entry id \"%s\", not the file's name", st->path,
			    name, e->id);
		entry_free(e);
		return r;
	}
	*out = e;
	return 0;
}

static bool is_regular(struct entry_store *st, const struct dirent *de)
{
	struct stat s;

	if (de->d_type == DT_REG)
		return true;
	if (de->d_type != DT_UNKNOWN)
		return false;
	return fstatat(st->dfd, de->d_name, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(s.st_mode);
}

int entry_store_load(struct entry_store *st, int (*fn)(void *ud, struct kwid_entry *e, char **why),
		     void *ud,
		     char **errmsg)
{
	_cleanup_close_ int fd = openat(st->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int r = 0;

	if (!d)
		return errmsg_set(errmsg, -errno, "%s: cannot list: %s", st->path, strerror(errno));
	TAKE_FD(fd);
	while (r == 0 && (de = readdir(d))) {
		struct kwid_entry *e = NULL;

		if (streq(de->d_name, ".") || streq(de->d_name, "..") || is_temp_name(de->d_name))
			continue;
		if (!endswith(de->d_name, ".json") || !is_regular(st, de)) {
			log_warn("entry store: ignoring %s/%s (not an entry file)", st->path, de->d_name);
			continue;
		}
		r = load_one(st, de->d_name, &e, errmsg);
		if (r == 0) {
			_cleanup_free_ char *why = NULL;
			r = fn(ud, e, &why);
			if (r < 0)
				errmsg_set(errmsg, r, "%s/%s: %s", st->path, de->d_name, why ? why : strerror(-r));
		}
	}
	closedir(d);
	return r;
}

int entry_store_put(struct entry_store *st, const struct kwid_entry *e)
{
	char name[ENTRY_ID_MAX + sizeof(".json")];
	json_object *root = json_object_new_object();
	const char *text;
	size_t len;
	int r;

	if (!root)
		return -ENOMEM;
	snprintf(name, sizeof(name), "%s.json", e->id);
	json_object_object_add(root, "version", json_object_new_int(STORE_FORMAT_VERSION));
	json_object_object_add(root, "entry", entry_to_json(e, false, 0));
	text = json_object_to_json_string_length(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE,
						 &len);
	r = write_file_atomic(st->path, name, text, len, 0600);
	json_object_put(root);
	if (r < 0)
		return log_error_errno(r, "entry store: cannot write %s/%s", st->path, name);
	return 0;
}

int entry_store_delete(struct entry_store *st, const char *id)
{
	char name[ENTRY_ID_MAX + sizeof(".json")];

	snprintf(name, sizeof(name), "%s.json", id);
	if (unlinkat(st->dfd, name, 0) < 0)
		return log_error_errno(-errno, "entry store: cannot remove %s/%s", st->path, name);
	if (fsync(st->dfd) < 0)
		return log_error_errno(-errno, "entry store: cannot sync %s", st->path);
	return 0;
}
