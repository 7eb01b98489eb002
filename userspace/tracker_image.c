/* tracker_image.c - what a process runs: the image of an exec or snapshot
 * event (interned, so execs of the same file by the same name share one),
 * its path resolved through /proc/<pid>/exe and checked against the
 * kernel's file key, the script named on exec for #! interpreters, and the
 * measurements started for both. */
#include "kwid/log.h"
#include "tracker_int.h"

#include <limits.h>
#include <sys/stat.h>

static bool stat_same_inode(const char *path, const struct kwid_file_key *key)
{
	struct stat st;

	return stat(path, &st) == 0 && (uint64_t)st.st_dev == key->dev && (uint64_t)st.st_ino == key->ino;
}

/* `candidate` (a path to the executable from the kernel or from
 * /proc/<pid>/exe) only if it names the executed inode in the agent's own
 * mount namespace. Both sources spell the path as the process's mount
 * namespace has it: a process that mounted its own file over a well-known
 * path (unshare -Urm; mount; exec) would otherwise choose its unix:path. */
static const char *verified_path(struct kwid_tracker *tr, char *candidate, const struct kwid_file_key *key)
{
	path_strip_deleted(candidate);
	if (candidate[0] != '/' || !stat_same_inode(candidate, key))
		return NULL;
	return proc_table_intern(tr->table, candidate);
}

/* The executable's path as the agent sees it, only if it names the inode
 * the kernel executed (verified_path). */
static const char *resolve_exe_path(struct kwid_tracker *tr, pid_t pid, const struct kwid_file_key *key,
				    const char *filename)
{
	char link[64], buf[PATH_MAX];
	const char *path;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	if (pid > 0 && (n = readlink(link, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		if ((path = verified_path(tr, buf, key)))
			return path;
	}
	/* The process is gone already (or its path is not ours): an
	 * absolute filename that names the same inode here will do. */
	if (filename && filename[0] == '/' && realpath(filename, buf))
		return verified_path(tr, buf, key);
	return NULL;
}

/* The script named on exec, seen from the process (its root and cwd), and
 * its measurement. The kernel does not report the script's inode (it only
 * keeps the interpreter), so the script is measured by path: the key is
 * taken when the event is handled. */
static void resolve_script(struct kwid_tracker *tr, const struct kwid_proc_event *ev, const char **script_path,
			   struct kwid_measurement **sm)
{
	char open_path[PATH_MAX + 64], path[PATH_MAX], cwd_link[64], cwd[PATH_MAX];
	const char *name = ev->filename;
	ssize_t n;

	*script_path = NULL;
	*sm = NULL;
	if (name[0] == '/') {
		if (snprintf(open_path, sizeof(open_path), "/proc/%d/root%s", (int)ev->tgid, name) >=
		    (int)sizeof(open_path))
			return;
		strscpy(path, name, sizeof(path));
	} else {
		while (startswith(name, "./"))
			name += 2;
		snprintf(cwd_link, sizeof(cwd_link), "/proc/%d/cwd", (int)ev->tgid);
		n = readlink(cwd_link, cwd, sizeof(cwd) - 1);
		if (n <= 0)
			return;
		cwd[n] = '\0';
		if (snprintf(path, sizeof(path), "%s/%s", streq(cwd, "/") ? "" : cwd, name) >= (int)sizeof(path) ||
		    snprintf(open_path, sizeof(open_path), "/proc/%d/cwd/%s", (int)ev->tgid, name) >=
			    (int)sizeof(open_path))
			return;
	}
	*script_path = proc_table_intern(tr->table, path);
	*sm = measurer_get_path(tr->ms, open_path, path);
}

static struct kwid_image *build_image(struct kwid_tracker *tr, const struct kwid_proc_event *ev,
				      const struct kwid_image_spec *spec)
{
	const char *path = NULL, *script_path = NULL;
	struct kwid_measurement *m, *sm = NULL;

	if (ev->path && ev->has_file) {
		char buf[PATH_MAX];
		strscpy(buf, ev->path, sizeof(buf));
		path = verified_path(tr, buf, &ev->file);
	}
	if (!path && ev->has_file)
		path = resolve_exe_path(tr, ev->tgid, &ev->file, ev->filename);
	if (ev->has_file)
		m = measurer_get(tr->ms, &ev->file, ev->tgid, path);
	else
		m = measurer_get_failed(tr->ms, -ENOENT);
	if (!m) {
		proc_table_release_str(tr->table, path);
		return NULL;
	}
	if (ev->interp && ev->filename)
		resolve_script(tr, ev, &script_path, &sm);
	return proc_image_create(tr->table, spec, path, script_path, m, sm);
}

/* An image built while its process was already gone may lack its path
 * (a relative filename cannot be resolved without the process) or hold a
 * failed measurement. Reused as is, it would deny every later run of the
 * same file its unix:path and unix:sha256 selectors. When this new, live
 * process can supply what is missing, it does: a missing path makes a new
 * image (shadowing the old one in the table); a failed measurement is
 * retried through this process. Returns the image to use (a reference). */
static struct kwid_image *complete_image(struct kwid_tracker *tr, struct kwid_image *img,
					 const struct kwid_proc_event *ev, const struct kwid_image_spec *spec)
{
	const struct kwid_measurement *m = img->measurement;

	if (!ev->has_file)
		return img;
	if (!img->path) {
		const char *path = resolve_exe_path(tr, ev->tgid, &ev->file, ev->filename);
		struct kwid_image *fresh;

		if (!path)
			return img; /* this process cannot tell either */
		proc_table_release_str(tr->table, path);
		fresh = build_image(tr, ev, spec);
		if (!fresh)
			return img;
		proc_image_unref(tr->table, img);
		return fresh;
	}
	if (m->state == KWID_MEASURE_FAILED && m->error != -EFBIG && m->error != -ESTALE)
		measurement_unref(measurer_get(tr->ms, &ev->file, ev->tgid, img->path));
	return img;
}

struct kwid_image *tracker_image_for_event(struct kwid_tracker *tr, const struct kwid_proc_event *ev)
{
	struct kwid_image_spec spec = {
		.file = ev->has_file ? ev->file : (struct kwid_file_key){0},
		.filename = proc_table_intern(tr->table, ev->filename),
		.interp = proc_table_intern(tr->table, ev->interp),
		.path_hint = proc_table_intern(tr->table, ev->path),
		.mnt_ns = ev->mnt_ns,
	};
	struct kwid_image *img = proc_image_find(tr->table, &spec);

	if (img)
		img = complete_image(tr, img, ev, &spec);
	else
		img = build_image(tr, ev, &spec);
	proc_table_release_str(tr->table, spec.filename);
	proc_table_release_str(tr->table, spec.interp);
	proc_table_release_str(tr->table, spec.path_hint);
	if (!img)
		log_error("out of memory: no image for process %d", (int)ev->tgid);
	return img;
}

struct kwid_image *tracker_image_from_proc(struct kwid_tracker *tr, pid_t tgid, uint32_t mnt_ns)
{
	struct kwid_proc_event ev = {.type = KWID_EVENT_SCAN, .tgid = tgid, .mnt_ns = mnt_ns};
	uint64_t start;

	if (proc_scan_quick(tgid, &start, &ev.file, &ev.has_file) < 0)
		ev.has_file = false;
	return tracker_image_for_event(tr, &ev);
}

struct find_ctx {
	const struct kwid_file_key *key;
	pid_t exclude, found;
};

static void find_one(const struct kwid_proc *p, void *ud)
{
	struct find_ctx *c = ud;

	if (!c->found && p->id.tgid != c->exclude && file_key_equal(&p->image->file, c->key))
		c->found = p->id.tgid;
}

pid_t tracker_find_pid_with_file(void *userdata, const struct kwid_file_key *key, pid_t exclude)
{
	struct kwid_tracker *tr = userdata;
	struct find_ctx c = {key, exclude, 0};

	proc_table_foreach(tr->table, find_one, &c);
	return c.found;
}
