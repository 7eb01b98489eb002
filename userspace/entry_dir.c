/* entry_dir.c - read-only registration entries from a directory of JSON
 * files, watched with inotify and reloaded on change (see
 * kwid/entry_dir.h for the file format and the error policy). */
#include "kwid/entry_dir.h"
#include "kwid/agent.h"
#include "kwid/config.h"
#include "kwid/entries.h"
#include "kwid/log.h"
#include "kwid/strmap.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#define DEBOUNCE_NS (100 * 1000000ull)
#define REWATCH_NS (2000 * 1000000ull)
#define WATCH_MASK                                                                               \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB |      \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct entry_dir {
	struct kwid_agent *agent;
	struct kwid_entries *es;
	char *path;
	int ifd, wd;
	struct kwid_io *io;
	struct kwid_timer *debounce; /* reload shortly after the first event */
	struct kwid_timer *rewatch;  /* the directory went away: try again */
	struct strmap *good;	     /* file name -> json_object array: last good entries */
	char *last_error;	     /* of the last reload; NULL when clean */
	uint64_t reloads;
	int64_t last_reload;	     /* unix s */
	size_t nfiles;
};

/* ---- reading one file ---- */

/* Open name in dirfd (following symlinks), refuse what an unprivileged
 * user could have written, and read it whole. */
static int read_trusted(int dirfd, const char *name, char **text, char **errmsg)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return errmsg_set(errmsg, -EINVAL, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) < 0)
		return errmsg_set(errmsg, -EINVAL, "cannot stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return errmsg_set(errmsg, -EINVAL, "not a regular file");
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return errmsg_set(errmsg, -EINVAL, "owned by uid %u, not root: refusing entries others could write",
			       (unsigned)st.st_uid);
	if (st.st_mode & 022)
		return errmsg_set(errmsg, -EINVAL, "mode %04o is writable by group or others: refusing it",
			       (unsigned)(st.st_mode & 07777));
	if ((uint64_t)st.st_size > ENTRY_DIR_FILE_MAX)
		return errmsg_set(errmsg, -EINVAL, "larger than %u bytes", ENTRY_DIR_FILE_MAX);
	buf = malloc((size_t)st.st_size + 2);
	if (!buf)
		return -ENOMEM;
	/* One byte more than fstat said tells a file still being written. */
	n = read_full(fd, buf, (size_t)st.st_size + 1);
	if (n < 0)
		return errmsg_set(errmsg, -EINVAL, "cannot read: %s", strerror((int)-n));
	if (n != st.st_size)
		return errmsg_set(errmsg, -EINVAL, "changed while being read");
	buf[n] = '\0';
	*text = TAKE_PTR(buf);
	return 0;
}

/* Validate every entry object of a file; returns the array of them. */
static int check_entries(json_object *root, json_object **out, char **errmsg)
{
	json_object *list;

	if (json_object_object_get_ex(root, "entries", &list)) {
		if (json_object_object_length(root) != 1 || !json_object_is_type(list, json_type_array))
			return errmsg_set(errmsg, -EINVAL, "want {\"entries\": [...]} or one entry object");
		json_object_get(list);
	} else {
		list = json_object_new_array();
		json_object_array_add(list, json_object_get(root));
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct kwid_entry *e = NULL;
		struct entry_error err;
		char msg[600];
		int r = entry_from_json(json_object_array_get_idx(list, i), ENTRY_JSON_ALLOW_CREATED, &e, &err);
		if (r < 0) {
			json_object_put(list);
			if (r != -EINVAL)
				return r;
			entry_error_format(&err, NULL, msg, sizeof(msg));
			return errmsg_set(errmsg, -EINVAL, "entry #%zu: %s", i + 1, msg);
		}
		entry_free(e);
	}
	*out = list;
	return 0;
}

static int read_one(int dirfd, const char *name, json_object **out, char **errmsg)
{
	_cleanup_free_ char *text = NULL, *jerr = NULL;
	json_object *root;
	int r;

	r = read_trusted(dirfd, name, &text, errmsg);
	if (r < 0)
		return r;
	/* config_parse_text() allows comments: handy in hand-written files. */
	r = config_parse_text(text, "content", &root, &jerr);
	if (r < 0)
		return errmsg_set(errmsg, -EINVAL, "%s", jerr ? jerr + strlen("content: ") : "not JSON");
	r = check_entries(root, out, errmsg);
	json_object_put(root);
	return r;
}

/* ---- reloading the whole directory ---- */

static bool wanted_name(const char *name)
{
	return name[0] != '.' && endswith(name, ".json") && strlen(name) > strlen(".json");
}

static void free_good(struct strmap *m)
{
	size_t it = 0;
	void *v;

	if (!m)
		return;
	while (strmap_next(m, &it, NULL, &v))
		json_object_put(v);
	strmap_free(m);
}

/* Read every file into `next` (name -> entries array). A file that fails
 * keeps its last good version from d->good, and the failure goes to
 * *errors. Fails only when the directory cannot be read at all. */
static int scan(struct entry_dir *d, struct strmap *next, char **errors)
{
	DIR *dir = opendir(d->path);
	struct dirent *de;
	int r = 0;

	if (!dir) {
		r = -errno;
		errmsg_append(errors, "%s: cannot read the entries directory: %s", d->path, strerror(-r));
		return r;
	}
	while ((de = readdir(dir))) {
		_cleanup_free_ char *msg = NULL;
		json_object *list = NULL, *old;

		if (!wanted_name(de->d_name))
			continue;
		if (strmap_size(next) >= ENTRY_DIR_MAX_FILES) {
			errmsg_append(errors, "%s/%s: ignored, more than %d files", d->path, de->d_name,
				  ENTRY_DIR_MAX_FILES);
			continue;
		}
		r = read_one(dirfd(dir), de->d_name, &list, &msg);
		if (r == -ENOMEM)
			break;
		if (r < 0) {
			errmsg_append(errors, "%s/%s: %s", d->path, de->d_name, msg ? msg : strerror(-r));
			old = strmap_get(d->good, de->d_name);
			r = 0;
			if (!old)
				continue;
			list = json_object_get(old);
		}
		r = strmap_put(next, de->d_name, list);
		if (r < 0) {
			json_object_put(list);
			break;
		}
	}
	closedir(dir);
	return r;
}

/* "ro-" + 32 hex of SHA-256 of the entry's identity key. */
static int derive_id(struct kwid_entry *e)
{
	_cleanup_free_ char *key = entry_identity_key(e);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[33];

	if (!key)
		return -ENOMEM;
	if (EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
		return -EIO;
	hex_encode(md, 16, hex);
	if (asprintf(&e->id, "ro-%s", hex) < 0)
		return -ENOMEM;
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Entries of every file in `files`, in file-name order. */
static int build_entries(struct entry_dir *d, struct strmap *files, struct kwid_entry ***out, size_t *n)
{
	_cleanup_free_ const char **names = calloc_array(strmap_size(files), sizeof(char *));
	struct kwid_entry **v = NULL;
	size_t nn = 0, nv = 0, cap = 0, it = 0;
	const char *name;
	int r = 0;

	if (!names)
		return -ENOMEM;
	while (strmap_next(files, &it, &name, NULL))
		names[nn++] = name;
	qsort(names, nn, sizeof(*names), cmp_name);
	for (size_t i = 0; i < nn && r == 0; i++) {
		json_object *list = strmap_get(files, names[i]);
		for (size_t k = 0; k < json_object_array_length(list) && r == 0; k++) {
			struct kwid_entry *e = NULL;
			if (nv == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct kwid_entry **nvv = reallocarray_safe(v, ncap, sizeof(*nvv));
				if (!nvv) {
					r = -ENOMEM;
					break;
				}
				v = nvv;
				cap = ncap;
			}
			r = entry_from_json(json_object_array_get_idx(list, k), ENTRY_JSON_ALLOW_CREATED, &e, NULL);
			if (r < 0)
				break;
			v[nv++] = e;
			e->read_only = true;
			if (asprintf(&e->source, "%s/%s", d->path, names[i]) < 0)
				r = -ENOMEM;
			else if (!e->id)
				r = derive_id(e);
		}
	}
	if (r < 0) {
		for (size_t i = 0; i < nv; i++)
			entry_free(v[i]);
		free(v);
		return r;
	}
	*out = v;
	*n = nv;
	return 0;
}

int entry_dir_reload(struct entry_dir *d)
{
	_cleanup_free_ char *errors = NULL, *conflicts = NULL;
	struct kwid_entry **v = NULL;
	struct strmap *next = NULL;
	size_t n = 0;
	int r;

	r = strmap_new(&next);
	if (r < 0)
		return r;
	r = scan(d, next, &errors);
	if (r == 0)
		r = build_entries(d, next, &v, &n);
	if (r < 0) {
		/* Keep what we have: an unreadable directory loses nothing. */
		free_good(next);
		goto out;
	}
	entries_replace_read_only(d->es, v, n, &conflicts);
	free(v);
	if (conflicts)
		errmsg_append(&errors, "%s", conflicts);
	free_good(d->good);
	d->good = next;
	d->nfiles = strmap_size(next);
out:
	d->reloads++;
	d->last_reload = (int64_t)(now_real_ns() / 1000000000ull);
	if (errors && !streq_ptr(errors, d->last_error))
		log_warn("entries: reload of %s: %s", d->path, errors);
	else if (!errors)
		log_info("entries: %zu read-only entries from %zu files in %s", n, d->nfiles, d->path);
	free(d->last_error);
	d->last_error = TAKE_PTR(errors);
	return r < 0 ? r : d->last_error ? -EINVAL : 0;
}

/* ---- watching ---- */

static void on_debounce(struct kwid_timer *t, void *userdata)
{
	entry_dir_reload(userdata);
}

static int watch(struct entry_dir *d)
{
	d->wd = inotify_add_watch(d->ifd, d->path, WATCH_MASK);
	if (d->wd < 0)
		return -errno;
	return 0;
}

static void on_rewatch(struct kwid_timer *t, void *userdata)
{
	struct entry_dir *d = userdata;

	if (watch(d) < 0) {
		loop_timer_arm(d->rewatch, REWATCH_NS);
		return;
	}
	log_info("entries: %s is back, watching it again", d->path);
	entry_dir_reload(d);
}

static void on_inotify(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct entry_dir *d = userdata;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool lost = false, changed = false;

	for (;;) {
		ssize_t len = read(fd, buf, sizeof(buf));
		if (len <= 0)
			break;
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
				lost = true;
			changed = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (lost && d->wd >= 0) {
		inotify_rm_watch(d->ifd, d->wd);
		d->wd = -1;
		free(d->last_error);
		if (asprintf(&d->last_error, "%s: the entries directory went away; keeping the %zu files last loaded",
			     d->path, d->nfiles) < 0)
			d->last_error = NULL;
		log_warn("entries: %s went away; keeping its entries until it is back", d->path);
		loop_timer_arm(d->rewatch, REWATCH_NS);
		return;
	}
	if (changed && d->wd >= 0 && !loop_timer_armed(d->debounce))
		loop_timer_arm(d->debounce, DEBOUNCE_NS);
}

static int check_dir(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return log_error_errno(-errno, "entries: cannot use entries.dir %s", path);
	if (!S_ISDIR(st.st_mode))
		return log_error_errno(-ENOTDIR, "entries: entries.dir %s is not a directory", path);
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022))
		return log_error_errno(-EPERM,
				       "entries: entries.dir %s must be owned by root and not writable by group or others (mode %04o, uid %u)",
				       path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
	return 0;
}

int entry_dir_new(struct kwid_agent *a, struct kwid_entries *es, const char *path, struct entry_dir **out)
{
	struct entry_dir *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->agent = a;
	d->es = es;
	d->ifd = d->wd = -1;
	d->path = strdup(path);
	r = d->path ? check_dir(path) : -ENOMEM;
	if (r == 0)
		r = strmap_new(&d->good);
	if (r == 0) {
		d->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (d->ifd < 0 || watch(d) < 0)
			r = log_error_errno(-errno, "entries: cannot watch %s", path);
	}
	if (r == 0)
		r = loop_io_add(a->loop, d->ifd, EPOLLIN, on_inotify, d, &d->io);
	if (r == 0)
		r = loop_timer_new(a->loop, on_debounce, d, &d->debounce);
	if (r == 0)
		r = loop_timer_new(a->loop, on_rewatch, d, &d->rewatch);
	if (r == 0) {
		/* Nothing may be wrong at start-up: a bad file would otherwise
		 * silently leave out part of the configured policy. */
		r = entry_dir_reload(d);
		if (r < 0)
			log_error("entries: refusing to start: %s", d->last_error ? d->last_error : strerror(-r));
	}
	if (r < 0) {
		entry_dir_free(d);
		return r;
	}
	*out = d;
	return 0;
}

void entry_dir_free(struct entry_dir *d)
{
	if (!d)
		return;
	if (d->io)
		loop_io_free(d->io);
	if (d->debounce)
		loop_timer_free(d->debounce);
	if (d->rewatch)
		loop_timer_free(d->rewatch);
	if (d->ifd >= 0)
		close(d->ifd);
	free_good(d->good);
	free(d->last_error);
	free(d->path);
	free(d);
}

void entry_dir_status(struct entry_dir *d, json_object *out)
{
	json_object_object_add(out, "dir", json_object_new_string(d->path));
	json_object_object_add(out, "dir_files", json_object_new_int64((int64_t)d->nfiles));
	json_object_object_add(out, "dir_watching", json_object_new_boolean(d->wd >= 0));
	json_object_object_add(out, "reloads", json_object_new_int64((int64_t)d->reloads));
	json_object_object_add(out, "last_reload", json_object_new_int64(d->last_reload));
	json_object_object_add(out, "last_reload_error",
			       d->last_error ? json_object_new_string(d->last_error) : NULL);
}
