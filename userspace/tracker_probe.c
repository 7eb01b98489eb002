/* tracker_probe.c - what the kernel offers for process tracking, found by
 * trying each mechanism for real (load, attach, read, tear down): the
 * answer of `kwid-agent --probe` and the basis of the auto mode. */
#include "kwid/log.h"
#include "kwid/tracker.h"

#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/utsname.h>

#include "proc.h"

static int count_record(void *ud, const struct kwid_proc_event *ev)
{
	(*(size_t *)ud)++;
	return 0;
}

void tracker_probe_run(struct tracker_probe *p, const struct proc_cgroup_layout *layout)
{
	uint8_t v1[KWID_MAX_CGROUP_V1];
	struct tracker_bpf *b = NULL;
	struct tracker_iter *it = NULL;
	struct utsname u;
	char buf[16];
	int fd = -1;

	memset(p, 0, sizeof(*p));
	if (uname(&u) == 0)
		snprintf(p->kernel, sizeof(p->kernel), "%s %s %s", u.sysname, u.release, u.machine);
	p->btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	p->ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
	if (tracker_v1_subsys_map(layout, v1) < 0)
		memset(v1, KWID_BPF_NO_SUBSYS, sizeof(v1));

	p->tp_btf = tracker_bpf_open(TRACKER_MODE_TP_BTF, 64 * 1024, v1, &b, p->why_tp_btf, sizeof(p->why_tp_btf));
	tracker_bpf_free(b);
	b = NULL;
	p->raw_tp = tracker_bpf_open(TRACKER_MODE_RAW_TP, 64 * 1024, v1, &b, p->why_raw_tp, sizeof(p->why_raw_tp));
	tracker_bpf_free(b);

	p->iter = tracker_iter_open(v1, &it, p->why_iter, sizeof(p->why_iter));
	if (p->iter == 0) {
		char *data = NULL;
		size_t len = 0;
		size_t records = 0;
		p->iter = tracker_iter_read(it, &data, &len);
		/* At least this process must be in the snapshot. */
		if (p->iter == 0 && (proc_event_split(data, len, count_record, &records) < 0 || records == 0)) {
			p->iter = -ENODATA;
			snprintf(p->why_iter, sizeof(p->why_iter), "the iterator returned no usable record");
		}
		free(data);
		p->iter_path = tracker_iter_has_path(it);
	}
	tracker_iter_free(it);

	p->proc_connector = tracker_cn_open(&fd);
	if (fd >= 0)
		close(fd);
	p->proc = access("/proc/self/stat", R_OK) == 0;
	p->bpf_stats = -1;
	fd = open("/proc/sys/kernel/bpf_stats_enabled", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			p->bpf_stats = atoi(buf);
		}
		close(fd);
	}
}

enum tracker_mode tracker_probe_best(const struct tracker_probe *p)
{
	static const enum tracker_mode order[] = {TRACKER_MODE_TP_BTF, TRACKER_MODE_RAW_TP,
						  TRACKER_MODE_PROC_CONNECTOR};

	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		if (tracker_probe_mode_result(p, order[i]) == 0)
			return order[i];
	return TRACKER_MODE_PROC_POLL;
}

static const char *yes_no(int r) { return r == 0 ? "yes" : "no"; }

static void row(FILE *f, const char *what, const char *result, const char *detail)
{
	fprintf(f, "  %-34s %-4s %s\n", what, result, detail ? detail : "");
}

void tracker_probe_print(const struct tracker_probe *p, const struct proc_cgroup_layout *layout,
			 enum tracker_mode configured, enum tracker_mode chosen, FILE *f)
{
	char err[64];
	bool degraded = chosen != TRACKER_MODE_TP_BTF && chosen != TRACKER_MODE_RAW_TP;

	fprintf(f, "kernel: %s\n\nprocess tracking features:\n", p->kernel);
	row(f, "BTF (/sys/kernel/btf/vmlinux)", p->btf ? "yes" : "no", NULL);
	row(f, "BPF ring buffer", p->ringbuf ? "yes" : "no", NULL);
	row(f, "tp_btf tracepoints", yes_no(p->tp_btf), p->tp_btf ? p->why_tp_btf : "exec, fork, exit, cgroup");
	row(f, "raw tracepoints", yes_no(p->raw_tp), p->raw_tp ? p->why_raw_tp : "exec, fork, exit, cgroup");
	row(f, "task iterator", yes_no(p->iter), p->iter ? p->why_iter : "snapshots with exact start times");
	if (p->iter == 0)
		row(f, "  bpf_d_path in the iterator", p->iter_path ? "yes" : "no",
		    p->iter_path ? "paths from the kernel" : p->why_iter);
	snprintf(err, sizeof(err), "%s", p->proc_connector ? strerror(-p->proc_connector) : "");
	row(f, "proc connector (netlink)", yes_no(p->proc_connector), err);
	row(f, "/proc", p->proc ? "yes" : "no", NULL);
	snprintf(err, sizeof(err), "%s", p->bpf_stats == 1 ? "per-program run time is counted" :
				     "sysctl kernel.bpf_stats_enabled=1 to count per-program run time");
	row(f, "kernel.bpf_stats_enabled", p->bpf_stats == 1 ? "yes" : "no", err);

	fprintf(f, "\ncgroups:\n");
	row(f, "v2 hierarchy", proc_cgroup_layout_v2_mount(layout) ? "yes" : "no", proc_cgroup_layout_v2_mount(layout));
	for (unsigned h = 1; h < KWID_MAX_CGROUP_V1; h++) {
		char what[48];
		if (!proc_cgroup_layout_name(layout, h))
			continue;
		snprintf(what, sizeof(what), "v1 hierarchy %u", h);
		row(f, what, "yes", proc_cgroup_layout_name(layout, h));
	}

	fprintf(f, "\nmode: configured %s, in use: %s%s\n", tracker_mode_to_string(configured),
		tracker_mode_to_string(chosen), degraded ? " (DEGRADED: no BPF)" : "");
	if (degraded)
		fprintf(f, "missing: loadable tracepoint programs (tp_btf: %s; raw_tp: %s)\n",
			p->why_tp_btf[0] ? p->why_tp_btf : "-", p->why_raw_tp[0] ? p->why_raw_tp : "-");
	else if (p->iter)
		fprintf(f, "missing: task iterator; start-up and repairs read /proc (start times in clock ticks)\n");
}

int tracker_probe_mode_result(const struct tracker_probe *p, enum tracker_mode mode)
{
	switch (mode) {
	case TRACKER_MODE_TP_BTF:
		return p->tp_btf;
	case TRACKER_MODE_RAW_TP:
		return p->raw_tp;
	case TRACKER_MODE_PROC_CONNECTOR:
		return p->proc_connector;
	case TRACKER_MODE_PROC_POLL:
		return p->proc ? 0 : -ENOENT;
	default:
		return -EINVAL;
	}
}

static void add_mode(json_object *modes, const struct tracker_probe *p, enum tracker_mode m, const char *why)
{
	json_object *o = json_object_new_object();
	int r = tracker_probe_mode_result(p, m);

	json_object_object_add(o, "available", json_object_new_boolean(r == 0));
	json_object_object_add(o, "why", json_object_new_string(r == 0 ? "" : why && why[0] ? why : strerror(-r)));
	json_object_object_add(modes, tracker_mode_to_string(m), o);
}

void tracker_probe_to_json(const struct tracker_probe *p, const struct proc_cgroup_layout *layout, json_object *out)
{
	json_object *modes = json_object_new_object(), *cg = json_object_new_object(), *v1 = json_object_new_array();
	const char *v2 = proc_cgroup_layout_v2_mount(layout);

	json_object_object_add(out, "kernel", json_object_new_string(p->kernel));
	json_object_object_add(out, "btf", json_object_new_boolean(p->btf));
	json_object_object_add(out, "ringbuf", json_object_new_boolean(p->ringbuf));
	json_object_object_add(out, "tp_btf", json_object_new_boolean(p->tp_btf == 0));
	json_object_object_add(out, "raw_tp", json_object_new_boolean(p->raw_tp == 0));
	json_object_object_add(out, "task_iterator", json_object_new_boolean(p->iter == 0));
	json_object_object_add(out, "task_iterator_d_path", json_object_new_boolean(p->iter == 0 && p->iter_path));
	json_object_object_add(out, "task_iterator_why", json_object_new_string(p->why_iter));
	json_object_object_add(out, "proc_connector", json_object_new_boolean(p->proc_connector == 0));
	json_object_object_add(out, "proc", json_object_new_boolean(p->proc));
	json_object_object_add(out, "bpf_stats_enabled", json_object_new_boolean(p->bpf_stats == 1));
	add_mode(modes, p, TRACKER_MODE_TP_BTF, p->why_tp_btf);
	add_mode(modes, p, TRACKER_MODE_RAW_TP, p->why_raw_tp);
	add_mode(modes, p, TRACKER_MODE_PROC_CONNECTOR, NULL);
	add_mode(modes, p, TRACKER_MODE_PROC_POLL, NULL);
	json_object_object_add(out, "modes", modes);
	json_object_object_add(cg, "v2_mount", v2 ? json_object_new_string(v2) : NULL);
	for (unsigned h = 1; h < KWID_MAX_CGROUP_V1; h++)
		if (proc_cgroup_layout_name(layout, h))
			json_object_array_add(v1, json_object_new_string(proc_cgroup_layout_name(layout, h)));
	json_object_object_add(cg, "v1_hierarchies", v1);
	json_object_object_add(out, "cgroups", cg);
}
