/* tracker_bpf.c - loading the process-tracking BPF programs: the live
 * ones (tp_btf, or raw_tp as the fallback) with their ring buffer, and the
 * task iterator used for snapshots. Skeletons come from bpf/proc_*.bpf.c. */
#include "kwid/log.h"
#include "kwid/tracker.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <stdarg.h>

#include "proc.h"
#include "proc_tp.skel.h"
#include "proc_iter.skel.h"
#include "proc_raw.skel.h"

struct tracker_bpf {
	enum tracker_mode mode;
	struct kwid_proc_tp *tp;	   /* TP_BTF */
	struct kwid_proc_raw *raw; /* RAW_TP */
	struct kwid_ringbuf *rb;
	int ring_fd;
	volatile __u64 *drops;
	struct bpf_program *progs[4]; /* exec, fork, exit, cgroup_attach */
};

struct tracker_iter {
	struct kwid_proc_iter *skel;
	struct bpf_link *link; /* of the program that loaded */
	bool with_path;	       /* kwid_scan (bpf_d_path) rather than kwid_scan_nopath */
};

/* libbpf explains failures at length: keep the last line, and the
 * verifier's own last complaint (the line that names the refused
 * instruction's operand), so the caller can say why a mode is unavailable;
 * log everything at debug level. */
static char libbpf_last[512];
static char verifier_last[256];

/* The verifier's complaint in `msg`: the last line of its log before the
 * END marker that is not a statistics line ("processed N insns ...").
 * E.g. "R1 type=untrusted_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_". */
static void keep_verifier_reason(const char *msg)
{
	const char *end = strstr(msg, "-- END PROG LOAD LOG --"), *p, *line;

	if (!end || !strstr(msg, "-- BEGIN PROG LOAD LOG --"))
		return;
	for (p = end; p > msg; p = line) {
		while (p > msg && p[-1] == '\n')
			p--;
		line = p;
		while (line > msg && line[-1] != '\n')
			line--;
		if (p == line || startswith(line, "processed ") || startswith(line, "verification time") ||
		    startswith(line, "stack depth"))
			continue;
		snprintf(verifier_last, sizeof(verifier_last), "%.*s", (int)(p - line), line);
		return;
	}
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = NULL;
	size_t n;

	if (vasprintf(&msg, fmt, ap) < 0)
		return 0;
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	if (level <= LIBBPF_WARN && n) {
		snprintf(libbpf_last, sizeof(libbpf_last), "%s", msg);
		keep_verifier_reason(msg);
	}
	log_debug("libbpf: %s", msg);
	return 0;
}

static void libbpf_setup(void)
{
	libbpf_set_print(libbpf_log);
	libbpf_last[0] = '\0';
	verifier_last[0] = '\0';
}

static void set_why(char *why, size_t whylen, const char *what, int r)
{
	if (why && whylen)
		snprintf(why, whylen, "%s: %s%s%s", what, strerror(r < 0 ? -r : r),
			 verifier_last[0] || libbpf_last[0] ? " - " : "", verifier_last[0] ? verifier_last : libbpf_last);
}

int tracker_v1_subsys_map(const struct proc_cgroup_layout *l, uint8_t out[KWID_MAX_CGROUP_V1])
{
	struct btf *btf;
	const struct btf_type *t;
	const struct btf_enum *en;
	int id, n;

	memset(out, KWID_BPF_NO_SUBSYS, KWID_MAX_CGROUP_V1);
	btf = btf__load_vmlinux_btf();
	if (!btf)
		return -errno ? -errno : -ENOENT;
	id = btf__find_by_name_kind(btf, "cgroup_subsys_id", BTF_KIND_ENUM);
	if (id < 0) {
		btf__free(btf);
		return -ENOENT;
	}
	t = btf__type_by_id(btf, (__u32)id);
	en = btf_enum(t);
	n = btf_vlen(t);
	for (unsigned h = 1; h < KWID_MAX_CGROUP_V1; h++) {
		const char *ctrl = proc_cgroup_layout_controller(l, h);
		char want[80];

		if (!ctrl)
			continue;
		/* /proc shows the legacy name "blkio" for the io controller. */
		snprintf(want, sizeof(want), "%s_cgrp_id", streq(ctrl, "blkio") ? "io" : ctrl);
		for (int i = 0; i < n; i++) {
			if (streq(btf__name_by_offset(btf, en[i].name_off), want) && en[i].val >= 0 &&
			    en[i].val < KWID_BPF_NO_SUBSYS) {
				out[h] = (uint8_t)en[i].val;
				break;
			}
		}
	}
	btf__free(btf);
	return 0;
}

/* The tp_btf and raw_tp skeletons have the same maps, programs and
 * globals; only their C types differ. */
#define DEFINE_OPEN_SKEL(fn, field, skel)                                                              \
	static int fn(struct tracker_bpf *b, size_t ringbuf_bytes, const uint8_t *v1, char *why,        \
		      size_t whylen)                                                                    \
	{                                                                                               \
		int r;                                                                                  \
                                                                                                        \
		b->field = skel##__open();                                                              \
		if (!b->field) {                                                                        \
			r = -errno;                                                                     \
			set_why(why, whylen, "open", r);                                                \
			return r;                                                                       \
		}                                                                                       \
		memcpy((void *)b->field->rodata->v1_subsys, v1, KWID_MAX_CGROUP_V1);                    \
		b->field->rodata->wakeup_bytes = ringbuf_bytes / 4;                                     \
		bpf_map__set_max_entries(b->field->maps.events, (__u32)ringbuf_bytes);                  \
		if ((r = skel##__load(b->field)) < 0) {                                                 \
			set_why(why, whylen, "load", r);                                                \
			return r;                                                                       \
		}                                                                                       \
		if ((r = skel##__attach(b->field)) < 0) {                                               \
			set_why(why, whylen, "attach", r);                                              \
			return r;                                                                       \
		}                                                                                       \
		b->ring_fd = bpf_map__fd(b->field->maps.events);                                        \
		b->drops = &b->field->bss->ringbuf_drops;                                               \
		b->progs[0] = b->field->progs.kwid_exec;                                                \
		b->progs[1] = b->field->progs.kwid_fork;                                                \
		b->progs[2] = b->field->progs.kwid_exit;                                                \
		b->progs[3] = b->field->progs.kwid_cgroup_attach;                                       \
		return 0;                                                                               \
	}

DEFINE_OPEN_SKEL(open_tp_btf, tp, kwid_proc_tp)
DEFINE_OPEN_SKEL(open_raw_tp, raw, kwid_proc_raw)

int tracker_bpf_open(enum tracker_mode mode, size_t ringbuf_bytes, const uint8_t v1_subsys[KWID_MAX_CGROUP_V1],
		     struct tracker_bpf **out, char *why, size_t whylen)
{
	struct tracker_bpf *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	libbpf_setup();
	b->mode = mode;
	b->ring_fd = -1;
	if (mode == TRACKER_MODE_TP_BTF)
		r = open_tp_btf(b, ringbuf_bytes, v1_subsys, why, whylen);
	else if (mode == TRACKER_MODE_RAW_TP)
		r = open_raw_tp(b, ringbuf_bytes, v1_subsys, why, whylen);
	else
		r = -EINVAL;
	if (r == 0) {
		r = ringbuf_open(b->ring_fd, &b->rb);
		if (r < 0)
			set_why(why, whylen, "ring buffer mmap", r);
	}
	if (r < 0) {
		tracker_bpf_free(b);
		return r;
	}
	*out = b;
	return 0;
}

void tracker_bpf_free(struct tracker_bpf *b)
{
	if (!b)
		return;
	ringbuf_free(b->rb);
	kwid_proc_tp__destroy(b->tp);
	kwid_proc_raw__destroy(b->raw);
	free(b);
}

struct kwid_ringbuf *tracker_bpf_ring(struct tracker_bpf *b) { return b->rb; }
int tracker_bpf_ring_fd(struct tracker_bpf *b) { return b->ring_fd; }

uint64_t tracker_bpf_drops(struct tracker_bpf *b)
{
	return __atomic_load_n(b->drops, __ATOMIC_RELAXED);
}

static void prog_stats(struct bpf_program *prog, const char *name, json_object *out)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);
	json_object *o;

	if (!prog || bpf_program__fd(prog) < 0 || bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) < 0)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "run_cnt", json_object_new_int64((int64_t)info.run_cnt));
	json_object_object_add(o, "run_time_ns", json_object_new_int64((int64_t)info.run_time_ns));
	json_object_object_add(o, "avg_ns", json_object_new_int64(
						  info.run_cnt ? (int64_t)(info.run_time_ns / info.run_cnt) : 0));
	json_object_object_add(out, name, o);
}

void tracker_bpf_prog_stats(struct tracker_bpf *b, json_object *out)
{
	static const char *const names[] = {"exec", "fork", "exit", "cgroup_attach"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		prog_stats(b->progs[i], names[i], out);
}

/* ---- task iterator ---- */

/* Open, load and attach one of the iterator's two programs. */
static int iter_load(struct tracker_iter *it, const uint8_t *v1, bool with_path, char *why, size_t whylen)
{
	struct bpf_program *prog;
	int r;

	kwid_proc_iter__destroy(it->skel);
	it->link = NULL;
	it->skel = kwid_proc_iter__open();
	if (!it->skel) {
		r = -errno;
		set_why(why, whylen, "open", r);
		return r;
	}
	prog = with_path ? it->skel->progs.kwid_scan : it->skel->progs.kwid_scan_nopath;
	bpf_program__set_autoload(it->skel->progs.kwid_scan, with_path);
	bpf_program__set_autoload(it->skel->progs.kwid_scan_nopath, !with_path);
	memcpy((void *)it->skel->rodata->v1_subsys, v1, KWID_MAX_CGROUP_V1);
	if ((r = kwid_proc_iter__load(it->skel)) < 0) {
		set_why(why, whylen, "load", r);
		return r;
	}
	it->link = bpf_program__attach_iter(prog, NULL);
	if (!it->link) {
		r = -errno;
		set_why(why, whylen, "attach", r);
		return r;
	}
	it->skel->links.kwid_scan = with_path ? it->link : NULL;
	it->skel->links.kwid_scan_nopath = with_path ? NULL : it->link;
	it->with_path = with_path;
	return 0;
}

/* The program with bpf_d_path where the verifier takes it; otherwise the
 * one without (the path then comes from /proc/<pid>/exe, inode-checked).
 * *why keeps the first refusal, so status can say why paths are not from
 * the kernel. */
int tracker_iter_open(const uint8_t v1_subsys[KWID_MAX_CGROUP_V1], struct tracker_iter **out, char *why,
		      size_t whylen)
{
	struct tracker_iter *it = calloc(1, sizeof(*it));
	char ignored[256];
	int r;

	if (!it)
		return -ENOMEM;
	libbpf_setup();
	r = iter_load(it, v1_subsys, true, why, whylen);
	if (r < 0) {
		log_debug("task iterator with bpf_d_path refused (%s): trying without", why ? why : "");
		libbpf_setup();
		r = iter_load(it, v1_subsys, false, ignored, sizeof(ignored));
		if (r < 0 && why && whylen)
			snprintf(why, whylen, "%s", ignored);
	}
	if (r < 0) {
		tracker_iter_free(it);
		return r;
	}
	*out = it;
	return 0;
}

bool tracker_iter_has_path(const struct tracker_iter *it) { return it->with_path; }

void tracker_iter_free(struct tracker_iter *it)
{
	if (!it)
		return;
	kwid_proc_iter__destroy(it->skel);
	free(it);
}

int tracker_iter_read(struct tracker_iter *it, char **buf, size_t *len)
{
	_cleanup_close_ int fd = bpf_iter_create(bpf_link__fd(it->link));
	_cleanup_free_ char *b = NULL;
	size_t n = 0, cap = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r;
		if (cap - n < 65536) {
			size_t ncap = cap ? cap * 2 : 256 * 1024;
			char *nb = realloc(b, ncap);
			if (!nb)
				return -ENOMEM;
			b = nb;
			cap = ncap;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*buf = TAKE_PTR(b);
	*len = n;
	return 0;
}
