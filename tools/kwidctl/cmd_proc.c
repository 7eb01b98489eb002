/* cmd_proc.c - `kwidctl ps` (the process table as a tree or a list) and
 * `kwidctl inspect PID` (all evidence recorded for one process). */
#include "kwidctl.h"

#include <limits.h>

/* ---- ps ---- */

struct ps_node {
	json_object *p;
	int64_t tgid, ppid;
	uint64_t start_ns, parent_start_ns;
	size_t first_child, next_sibling; /* indexes + 1; 0 = none */
	bool has_parent, printed;
};

/* /proc start times have clock-tick precision (USER_HZ = 100): compare at
 * that precision so a parent read from /proc still matches. */
static bool same_start(uint64_t a, uint64_t b)
{
	return a / 10000000ull == b / 10000000ull;
}

static int cmp_tgid(const void *a, const void *b)
{
	int64_t x = jint(*(json_object *const *)a, "tgid", 0), y = jint(*(json_object *const *)b, "tgid", 0);
	return x < y ? -1 : x > y;
}

static void short_hash(const char *sha, char out[16])
{
	if (!sha) {
		strcpy(out, "-");
		return;
	}
	snprintf(out, 16, "%.12s", sha);
}

static void ps_row(struct table *t, json_object *p, const char *prefix)
{
	char pid[16], ppid[16], uid[16], comm[512], hash[16];

	snprintf(pid, sizeof(pid), "%lld", (long long)jint(p, "tgid", 0));
	snprintf(ppid, sizeof(ppid), "%lld", (long long)jint(p, "ppid", 0));
	snprintf(uid, sizeof(uid), "%lld", (long long)jint(p, "euid", 0));
	snprintf(comm, sizeof(comm), "%s%s", prefix, jstr(p, "comm") ? jstr(p, "comm") : "?");
	if (streq(jstr(p, "measurement"), "done"))
		short_hash(jstr(p, "sha256"), hash);
	else
		snprintf(hash, sizeof(hash), "(%s)", jstr(p, "measurement") ? jstr(p, "measurement") : "?");
	table_add(t, (const char *const[]){pid, ppid, uid, comm, hash, jstr(p, "path")});
}

/* Depth-first, children in pid order; iterative so a deep chain of
 * processes cannot exhaust kwidctl's stack. Roots are processes whose
 * parent is not in the table; a second pass prints whatever a cycle of
 * stale parent links kept out of reach (cannot happen with the start-time
 * check, but a table is data and data is not trusted). */
static void ps_tree(struct table *t, struct ps_node *nodes, size_t n)
{
	_cleanup_free_ size_t *stack = calloc(n + 1, sizeof(size_t));
	_cleanup_free_ size_t *depth = calloc(n + 1, sizeof(size_t));
	char prefix[256];

	if (!stack || !depth)
		return;
	for (size_t pass = 0, root = 0; pass < 2; root = 0, pass++)
	for (; root < n; root++) {
		size_t sp = 0;
		if (nodes[root].printed || (pass == 0 && nodes[root].has_parent))
			continue;
		stack[sp] = root;
		depth[sp++] = 0;
		while (sp) {
			size_t i = stack[--sp], d = depth[sp], c;
			size_t ind = MIN(d * 2, sizeof(prefix) - 4);
			if (nodes[i].printed)
				continue;
			nodes[i].printed = true;
			memset(prefix, ' ', ind);
			strcpy(prefix + ind, d ? "\\_ " : "");
			ps_row(t, nodes[i].p, prefix);
			/* Children are linked highest pid first: pushed in
			 * that order, the lowest pid pops (prints) first. */
			for (c = nodes[i].first_child; c && sp < n; c = nodes[c - 1].next_sibling) {
				stack[sp] = c - 1;
				depth[sp++] = d + 1;
			}
		}
	}
}

static int cmd_ps(struct kwidctl *ctx, int argc, char **argv)
{
	_cleanup_(table_freep) struct table *t = NULL;
	_cleanup_free_ struct ps_node *nodes = NULL;
	json_object *res, *list;
	bool flat = false;
	size_t n;
	int r;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--list"))
			flat = true;
		else
			return kwidctl_usage("ps");
	}
	r = kwidctl_call(ctx, "ps", NULL, &res);
	if (r)
		return r;
	if (ctx->json) {
		kwidctl_print_json(res);
		json_object_put(res);
		return KWIDCTL_OK;
	}
	list = jget(res, "processes");
	n = list ? json_object_array_length(list) : 0;
	json_object_array_sort(list, cmp_tgid);
	t = table_new(6, (const char *const[]){"PID", "PPID", "EUID", "COMM", "SHA256", "PATH"});
	nodes = calloc(n + 1, sizeof(*nodes));
	if (!t || !nodes) {
		json_object_put(res);
		return KWIDCTL_FAILED;
	}
	for (size_t i = 0; i < n; i++) {
		nodes[i].p = json_object_array_get_idx(list, i);
		nodes[i].tgid = jint(nodes[i].p, "tgid", 0);
		nodes[i].ppid = jint(nodes[i].p, "ppid", 0);
		nodes[i].start_ns = (uint64_t)jint(nodes[i].p, "start_ns", 0);
		nodes[i].parent_start_ns = (uint64_t)jint(nodes[i].p, "parent_start_ns", 0);
	}
	if (flat) {
		for (size_t i = 0; i < n; i++)
			ps_row(t, nodes[i].p, "");
	} else {
		/* Link children to parents (binary search: the list is
		 * sorted by tgid); prepending leaves the highest pid first. */
		for (size_t i = 0; i < n; i++) {
			for (size_t lo = 0, hi = n; lo < hi;) {
				size_t mid = (lo + hi) / 2;
				if (nodes[mid].tgid < nodes[i].ppid) {
					lo = mid + 1;
				} else if (nodes[mid].tgid > nodes[i].ppid) {
					hi = mid;
				} else {
					/* the same pid, and the same process */
					if (mid != i && same_start(nodes[mid].start_ns, nodes[i].parent_start_ns)) {
						nodes[i].has_parent = true;
						nodes[i].next_sibling = nodes[mid].first_child;
						nodes[mid].first_child = i + 1;
					}
					break;
				}
			}
		}
		ps_tree(t, nodes, n);
	}
	table_print(t, stdout);
	printf("%zu processes (tracking mode %s)\n", n, jstr(res, "mode") ? jstr(res, "mode") : "?");
	json_object_put(res);
	return KWIDCTL_OK;
}

/* ---- inspect ---- */

static void kv(struct table *t, const char *k, const char *v)
{
	table_add(t, (const char *const[]){k, v});
}

static void kvi(struct table *t, const char *k, json_object *o, const char *key)
{
	char buf[32];
	json_object *v = jget(o, key);

	if (!v || json_object_is_type(v, json_type_null)) {
		kv(t, k, "-");
		return;
	}
	snprintf(buf, sizeof(buf), "%lld", (long long)json_object_get_int64(v));
	kv(t, k, buf);
}

static const char *yes_no_unknown(json_object *v)
{
	if (!v || json_object_is_type(v, json_type_null))
		return "unknown";
	return json_object_get_boolean(v) ? "yes" : "no";
}

static void measurement_rows(struct table *t, const char *label, json_object *m)
{
	char buf[256];

	if (streq(jstr(m, "state"), "done"))
		kv(t, label, jstr(m, "sha256"));
	else
		kv(t, label, "-");
	snprintf(buf, sizeof(buf), "%s%s%s", jstr(m, "state") ? jstr(m, "state") : "?",
		 jstr(m, "error") ? ": " : "", jstr(m, "error") ? jstr(m, "error") : "");
	kv(t, "  measurement", buf);
}

static void file_rows(struct table *t, const char *label, json_object *f)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "dev %s ino %lld size %lld", jstr(f, "dev") ? jstr(f, "dev") : "?",
		 (long long)jint(f, "ino", 0), (long long)jint(f, "size", 0));
	kv(t, label, buf);
	snprintf(buf, sizeof(buf), "mtime %lld ctime %lld (ns)", (long long)jint(f, "mtime_ns", 0),
		 (long long)jint(f, "ctime_ns", 0));
	kv(t, "", buf);
}

static void print_inspect(json_object *p)
{
	_cleanup_(table_freep) struct table *t = table_new(2, (const char *const[]){"FIELD", "VALUE"});
	json_object *c = jget(p, "creds"), *ns = jget(p, "namespaces"), *cg = jget(p, "cgroups"), *v1, *paths;
	json_object *script = jget(p, "script");
	char buf[512];

	if (!t)
		return;
	kvi(t, "tgid", p, "tgid");
	kvi(t, "ppid", p, "ppid");
	snprintf(buf, sizeof(buf), "%s (%lld ns since boot%s)", jstr(p, "start_time") ? jstr(p, "start_time") : "-",
		 (long long)jint(p, "start_ns", 0),
		 json_object_get_boolean(jget(p, "start_coarse")) ? ", clock-tick precision" : "");
	kv(t, "start time", buf);
	snprintf(buf, sizeof(buf), "%llu%s", (unsigned long long)json_object_get_uint64(jget(p, "exec_seq")),
		 json_object_get_boolean(jget(p, "exec_seq_synthetic")) ? " (user-space counter)" : "");
	kv(t, "exec seq", buf);
	kv(t, "comm", jstr(p, "comm"));
	kv(t, "origin", jstr(p, "origin"));
	kv(t, "path", jstr(p, "path"));
	kv(t, "filename", jstr(p, "filename"));
	snprintf(buf, sizeof(buf), "%lld/%lld/%lld/%lld", (long long)jint(c, "uid", -1), (long long)jint(c, "euid", -1),
		 (long long)jint(c, "suid", -1), (long long)jint(c, "fsuid", -1));
	kv(t, "uid (r/e/s/fs)", buf);
	snprintf(buf, sizeof(buf), "%lld/%lld/%lld/%lld", (long long)jint(c, "gid", -1), (long long)jint(c, "egid", -1),
		 (long long)jint(c, "sgid", -1), (long long)jint(c, "fsgid", -1));
	kv(t, "gid (r/e/s/fs)", buf);
	file_rows(t, "file", jget(p, "file"));
	measurement_rows(t, "sha256", jget(p, "measurement"));
	kv(t, "modified since exec", yes_no_unknown(jget(p, "modified_since_exec")));
	kv(t, "file on disk", jstr(p, "file_on_disk"));
	if (script && !json_object_is_type(script, json_type_null)) {
		kv(t, "script", jstr(script, "path"));
		measurement_rows(t, "script sha256", script);
	} else {
		kv(t, "script", "-");
	}
	snprintf(buf, sizeof(buf), "mnt %lld pid %lld user %lld cgroup %lld net %lld", (long long)jint(ns, "mnt", 0),
		 (long long)jint(ns, "pid", 0), (long long)jint(ns, "user", 0), (long long)jint(ns, "cgroup", 0),
		 (long long)jint(ns, "net", 0));
	kv(t, "namespaces", buf);
	kvi(t, "cgroup v2 id", cg, "v2_id");
	v1 = jget(cg, "v1_ids");
	if (v1) {
		size_t off = 0;
		buf[0] = '\0';
		json_object_object_foreach(v1, h, id)
		{
			int w = snprintf(buf + off, sizeof(buf) - off, "%s%s:%lld", off ? " " : "", h,
					 (long long)json_object_get_int64(id));
			if (w < 0 || (size_t)w >= sizeof(buf) - off)
				break;
			off += (size_t)w;
		}
		kv(t, "cgroup v1 ids", off ? buf : "-");
	}
	paths = jget(cg, "paths");
	for (size_t i = 0; paths && i < json_object_array_length(paths); i++)
		kv(t, i ? "" : "cgroup paths", json_object_get_string(json_object_array_get_idx(paths, i)));
	table_print(t, stdout);
}

static int cmd_inspect(struct kwidctl *ctx, int argc, char **argv)
{
	json_object *args, *res;
	pid_t pid;
	int r;

	if (argc != 2 || parse_pid(argv[1], &pid) < 0)
		return kwidctl_usage("inspect");
	args = json_object_new_object();
	json_object_object_add(args, "pid", json_object_new_int(pid));
	r = kwidctl_call(ctx, "inspect", args, &res);
	if (r)
		return r;
	if (ctx->json)
		kwidctl_print_json(res);
	else
		print_inspect(res);
	json_object_put(res);
	return KWIDCTL_OK;
}

const struct kwidctl_command kwidctl_proc_commands[] = {
	{"ps", cmd_ps, "[--list] [--json]", "the process table as a tree (or a flat --list)"},
	{"inspect", cmd_inspect, "[--json] PID", "all evidence recorded for one process, sha256 included"},
	{NULL, NULL, NULL, NULL},
};
