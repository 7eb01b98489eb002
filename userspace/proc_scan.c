/* proc_scan.c - reading one process from /proc: the fallback source of the
 * tracker (start-up without the task iterator, repairs, the degraded
 * modes) and the parsers of /proc/<pid>/stat and status. Everything read
 * here can be shaped by the process itself (comm, and the cgroup and path
 * strings through names it chose), so every parse is bounded. */
#include "kwid/log.h"
#include "kwid/tracker.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#define PF_KTHREAD 0x00200000ul

struct cgroup_mount {
	char *controllers; /* as in /proc/self/cgroup: "cpu", "cpu,cpuacct", "name=systemd" */
	char *mount;	   /* mount point, NULL when not mounted */
	char *root;	   /* the mount's root inside the hierarchy */
};

struct proc_cgroup_layout {
	char *v2_mount;
	char *v2_root;
	struct cgroup_mount v1[KWID_MAX_CGROUP_V1];
};

/* Read a small /proc file into buf (NUL-terminated). Returns its length. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read_full(fd, buf, size - 1);
	if (n < 0)
		return n;
	buf[n] = '\0';
	return n;
}

int proc_parse_stat(const char *text, size_t len, struct proc_stat_info *out)
{
	const char *open_paren = memchr(text, '(', len), *close_paren = NULL, *p;
	unsigned long long v[20];
	size_t clen;
	char state;
	int field = 0;

	memset(out, 0, sizeof(*out));
	/* comm is whatever the process set: the last ')' ends it. */
	for (size_t i = len; i > 0; i--) {
		if (text[i - 1] == ')') {
			close_paren = text + i - 1;
			break;
		}
	}
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -EBADMSG;
	clen = (size_t)(close_paren - open_paren - 1);
	memcpy(out->comm, open_paren + 1, MIN(clen, sizeof(out->comm) - 1));
	p = close_paren + 1;
	if ((size_t)(p - text) + 3 > len || p[0] != ' ')
		return -EBADMSG;
	state = p[1];
	p += 2;
	/* Fields 4.. (ppid ... starttime = field 22): 19 numbers follow. */
	while (field < 19) {
		char *end;
		if ((size_t)(p - text) >= len || *p != ' ')
			return -EBADMSG;
		p++;
		errno = 0;
		if (*p == '-') /* tty_nr, priority, nice may be negative */
			v[field] = (unsigned long long)strtoll(p, &end, 10);
		else
			v[field] = strtoull(p, &end, 10);
		if (end == p || errno == ERANGE || (size_t)(end - text) > len)
			return -EBADMSG;
		p = end;
		field++;
	}
	out->state = state;
	out->ppid = (pid_t)v[0];
	out->flags = (unsigned long)v[5];
	out->starttime_ticks = v[18];
	return 0;
}

static int parse_id_line(const char *text, const char *key, uint32_t ids[4])
{
	const char *p = strstr(text, key);
	unsigned long long v;
	char *end;

	if (!p || (p != text && p[-1] != '\n'))
		return -EBADMSG;
	p += strlen(key);
	for (int i = 0; i < 4; i++) {
		while (*p == '\t' || *p == ' ')
			p++;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (end == p || errno || v > UINT32_MAX)
			return -EBADMSG;
		ids[i] = (uint32_t)v;
		p = end;
	}
	return 0;
}

int proc_parse_status_ids(const char *text, struct kwid_creds *out)
{
	uint32_t u[4], g[4];
	int r;

	if ((r = parse_id_line(text, "Uid:", u)) < 0 || (r = parse_id_line(text, "Gid:", g)) < 0)
		return r;
	*out = (struct kwid_creds){u[0], u[1], u[2], u[3], g[0], g[1], g[2], g[3]};
	return 0;
}

void file_key_from_stat(const struct stat *st, struct kwid_file_key *k)
{
	k->dev = (uint64_t)st->st_dev;
	k->ino = (uint64_t)st->st_ino;
	k->size = (uint64_t)st->st_size;
	k->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	k->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
}

static int read_stat(pid_t pid, struct proc_stat_info *si)
{
	char path[64], buf[1024];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	return proc_parse_stat(buf, (size_t)n, si);
}

static uint32_t ns_inode(pid_t pid, const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, name);
	return stat(path, &st) == 0 ? (uint32_t)st.st_ino : 0;
}

static uint64_t cgroup_dir_id(const char *mount, const char *root, const char *path)
{
	char full[PATH_MAX];
	struct stat st;
	size_t rl = strlen(root);

	if (!mount)
		return 0;
	/* The mount shows the hierarchy from `root` down. */
	if (strcmp(root, "/") != 0) {
		if (strncmp(path, root, rl) != 0 || (path[rl] != '/' && path[rl] != '\0'))
			return 0;
		path += rl;
	}
	if (snprintf(full, sizeof(full), "%s%s", mount, path) >= (int)sizeof(full))
		return 0;
	return stat(full, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static void read_cgroups(pid_t pid, const struct proc_cgroup_layout *l, struct kwid_proc_event *ev)
{
	char path[64], buf[8192], *save = NULL, *line;

	if (!l)
		return;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		uint64_t h;

		if (!c2)
			continue;
		*c1 = '\0';
		if (parse_u64(line, 0, KWID_MAX_CGROUP_V1 - 1, &h) < 0)
			continue;
		if (h == 0)
			ev->cgroup_id = l->v2_mount ? cgroup_dir_id(l->v2_mount, l->v2_root, c2 + 1) : 0;
		else
			ev->cgroup_v1[h] = cgroup_dir_id(l->v1[h].mount, l->v1[h].root ? l->v1[h].root : "/", c2 + 1);
	}
}

int proc_scan_quick(pid_t pid, uint64_t *start_ns, struct kwid_file_key *file, bool *has_file)
{
	struct proc_stat_info si;
	char path[64];
	struct stat st;
	int r = read_stat(pid, &si);

	if (r < 0)
		return r;
	if (si.state == 'Z' || si.state == 'X' || (si.flags & PF_KTHREAD))
		return -ENOENT;
	*start_ns = si.starttime_ticks * proc_tick_ns();
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	*has_file = stat(path, &st) == 0;
	if (*has_file)
		file_key_from_stat(&st, file);
	return 0;
}

int proc_scan_pid(pid_t pid, const struct proc_cgroup_layout *layout, struct kwid_proc_event *ev,
		  struct proc_scan_buf *buf)
{
	struct proc_stat_info si, psi;
	char path[64], text[4096];
	struct stat st;
	ssize_t n;
	int r;

	memset(ev, 0, sizeof(*ev));
	r = read_stat(pid, &si);
	if (r < 0)
		return r;
	if (si.state == 'Z' || si.state == 'X' || (si.flags & PF_KTHREAD))
		return -ENOENT;
	ev->type = KWID_EVENT_SCAN;
	ev->ts = now_boot_ns();
	ev->tgid = pid;
	ev->ppid = si.ppid;
	ev->start_ns = si.starttime_ticks * proc_tick_ns();
	ev->start_coarse = true;
	if (si.ppid > 0 && read_stat(si.ppid, &psi) == 0)
		ev->parent_start_ns = psi.starttime_ticks * proc_tick_ns();
	memcpy(ev->comm, si.comm, sizeof(ev->comm));

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	n = read_small(path, text, sizeof(text));
	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	r = proc_parse_status_ids(text, &ev->creds);
	if (r < 0)
		return r;

	ev->mnt_ns = ns_inode(pid, "mnt");
	ev->pid_ns = ns_inode(pid, "pid");
	ev->user_ns = ns_inode(pid, "user");
	ev->cgroup_ns = ns_inode(pid, "cgroup");
	ev->net_ns = ns_inode(pid, "net");
	read_cgroups(pid, layout, ev);

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (stat(path, &st) == 0) {
		ev->has_file = true;
		file_key_from_stat(&st, &ev->file);
		n = readlink(path, buf->path, sizeof(buf->path) - 1);
		if (n > 0) {
			buf->path[n] = '\0';
			ev->path_deleted = path_strip_deleted(buf->path);
			ev->path = buf->path;
		}
	}
	/* Gone while we read it? Then none of the above may be trusted. */
	if (read_stat(pid, &psi) < 0 || psi.starttime_ticks != si.starttime_ticks)
		return -ESRCH;
	return 0;
}

/* ---- cgroup layout ---- */

static char *unescape_mount_field(const char *s)
{
	/* mountinfo escapes space, tab, newline and backslash as \ooo. */
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

/* Does the comma-separated `opts` hold every item of `wanted`? */
static bool has_all_options(const char *opts, const char *wanted)
{
	char buf[512], *save = NULL, *w;

	if (strscpy(buf, wanted, sizeof(buf)) < 0)
		return false;
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		size_t wl = strlen(w);
		const char *p = opts;
		bool found = false;
		while (p && *p) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			if (len == wl && memcmp(p, w, wl) == 0) {
				found = true;
				break;
			}
			p = comma ? comma + 1 : NULL;
		}
		if (!found)
			return false;
	}
	return true;
}

static void layout_add_mount(struct proc_cgroup_layout *l, const char *fstype, const char *root,
			     const char *mnt, const char *super)
{
	if (streq(fstype, "cgroup2")) {
		if (!l->v2_mount) {
			l->v2_mount = unescape_mount_field(mnt);
			l->v2_root = unescape_mount_field(root);
		}
		return;
	}
	for (unsigned h = 1; h < KWID_MAX_CGROUP_V1; h++) {
		struct cgroup_mount *m = &l->v1[h];
		if (!m->controllers || m->mount || !has_all_options(super, m->controllers))
			continue;
		m->mount = unescape_mount_field(mnt);
		m->root = unescape_mount_field(root);
		return;
	}
}

int proc_cgroup_layout_load(struct proc_cgroup_layout **out)
{
	struct proc_cgroup_layout *l = calloc(1, sizeof(*l));
	_cleanup_fclose_ FILE *f = NULL;
	char *line = NULL, buf[4096];
	size_t cap = 0;

	if (!l)
		return -ENOMEM;
	/* Our own /proc/self/cgroup names every hierarchy with its id. */
	if (read_small("/proc/self/cgroup", buf, sizeof(buf)) >= 0) {
		char *save = NULL;
		for (char *ln = strtok_r(buf, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
			char *c1 = strchr(ln, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			uint64_t h;
			if (!c2)
				continue;
			*c1 = *c2 = '\0';
			if (parse_u64(ln, 1, KWID_MAX_CGROUP_V1 - 1, &h) == 0 && c1[1])
				l->v1[h].controllers = strdup(c1 + 1);
		}
	}
	f = fopen("/proc/self/mountinfo", "re");
	if (f) {
		while (getline(&line, &cap, f) > 0) {
			/* id parent maj:min root mountpoint opts [optional...] - fstype source super */
			char *fields[6] = {0}, *save = NULL, *dash = strstr(line, " - "), *tail[3] = {0};
			int i = 0;
			if (!dash)
				continue;
			*dash = '\0';
			for (char *t = strtok_r(line, " ", &save); t && i < 6; t = strtok_r(NULL, " ", &save))
				fields[i++] = t;
			save = NULL;
			i = 0;
			for (char *t = strtok_r(dash + 3, " \n", &save); t && i < 3; t = strtok_r(NULL, " \n", &save))
				tail[i++] = t;
			if (!fields[4] || !tail[2] || (!streq(tail[0], "cgroup") && !streq(tail[0], "cgroup2")))
				continue;
			layout_add_mount(l, tail[0], fields[3], fields[4], tail[2]);
		}
		free(line);
	}
	*out = l;
	return 0;
}

void proc_cgroup_layout_free(struct proc_cgroup_layout *l)
{
	if (!l)
		return;
	free(l->v2_mount);
	free(l->v2_root);
	for (unsigned h = 0; h < KWID_MAX_CGROUP_V1; h++) {
		free(l->v1[h].controllers);
		free(l->v1[h].mount);
		free(l->v1[h].root);
	}
	free(l);
}

const char *proc_cgroup_layout_name(const struct proc_cgroup_layout *l, unsigned hier)
{
	return l && hier < KWID_MAX_CGROUP_V1 ? l->v1[hier].controllers : NULL;
}

const char *proc_cgroup_layout_v2_mount(const struct proc_cgroup_layout *l)
{
	return l ? l->v2_mount : NULL;
}

const char *proc_cgroup_layout_controller(const struct proc_cgroup_layout *l, unsigned hier)
{
	static __thread char first[64];
	const char *c = proc_cgroup_layout_name(l, hier);
	size_t n;

	if (!c || startswith(c, "name="))
		return NULL;
	n = strcspn(c, ",");
	if (n >= sizeof(first))
		return NULL;
	memcpy(first, c, n);
	first[n] = '\0';
	return first;
}
