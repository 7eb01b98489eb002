/* tracking.c - process tracking inside the agent: configuration
 * ("tracking.*"), start-up of the measurer and the tracker, the admin
 * commands `ps` and `inspect`, the status section "tracking", change
 * notifications, and `kwid-agent --probe`. */
#include "kwid/admin.h"
#include "kwid/agent.h"
#include "kwid/cgroupns.h"
#include "kwid/log.h"
#include "kwid/privs.h"
#include "kwid/tracker.h"

#include <inttypes.h>
#include <limits.h>

#include "proc.h"

static int read_config(const struct kwid_config *cfg, struct tracker_config *tc, struct kwid_measurer_config *mc)
{
	const char *mode;
	uint64_t kib, v;
	int r;

	r = config_get_string(cfg, "tracking.mode", &mode);
	if (r < 0)
		return r;
	if (!mode || tracker_mode_from_string(mode, &tc->mode) < 0) {
		log_error("tracking.mode '%s' is not one of auto, tp_btf, raw_tp, proc_connector, proc_poll",
			  mode ? mode : "(null)");
		return -EINVAL;
	}
	r = config_get_u64(cfg, "tracking.ringbuf_kib", 64, 1024 * 1024, &kib);
	if (r < 0)
		return r;
	if (kib & (kib - 1)) {
		log_error("tracking.ringbuf_kib = %" PRIu64 " must be a power of two", kib);
		return -EINVAL;
	}
	tc->ringbuf_bytes = (size_t)kib * 1024;
	if ((r = config_get_u64(cfg, "tracking.poll_interval_ms", 10, 600000, &tc->poll_interval_ms)) < 0)
		return r;
	if ((r = config_get_u64(cfg, "tracking.hash_cache_entries", 16, 1 << 22, &v)) < 0)
		return r;
	mc->cache_entries = (size_t)v;
	if ((r = config_get_u64(cfg, "tracking.hash_workers", 1, 64, &v)) < 0)
		return r;
	mc->workers = (unsigned)v;
	if ((r = config_get_u64(cfg, "tracking.hash_max_bytes", 1, UINT64_MAX, &mc->max_bytes)) < 0)
		return r;
	return 0;
}

static void on_table_change(void *userdata, enum kwid_change kind, const void *arg)
{
	agent_notify(userdata, kind, arg);
}

static void on_measured(void *userdata)
{
	agent_notify(userdata, KWID_CHANGE_MEASURED, NULL);
}

/* Which cgroup namespace the agent reads cgroups in (set at start). */
static struct kwid_cgroupns cgroupns;

static void status_tracking(void *userdata, json_object *out)
{
	struct kwid_agent *a = userdata;
	json_object *m = json_object_new_object();

	tracker_status(a->tracker, out);
	json_object_object_add(out, "cgroup_namespace", json_object_new_string(cgroupns_state_to_string(cgroupns.state)));
	measurer_status(a->measurer, m);
	json_object_object_add(out, "measurer", m);
}

/* ---- admin commands ---- */

struct ps_ctx {
	json_object *list;
};

static void ps_one(const struct kwid_proc *p, void *ud)
{
	json_object_array_add(((struct ps_ctx *)ud)->list, proc_to_ps_json(p));
}

static int cmd_ps(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_agent *a = userdata;
	struct ps_ctx c = {json_object_new_array()};
	json_object *res = json_object_new_object();

	tracker_sync(a->tracker);
	proc_table_foreach(a->procs, ps_one, &c);
	json_object_object_add(res, "mode", json_object_new_string(tracker_mode_to_string(tracker_mode(a->tracker))));
	json_object_object_add(res, "processes", c.list);
	admin_reply_ok(req, res);
	return 0;
}

static int cmd_inspect(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_agent *a = userdata;
	const struct kwid_proc *p;
	int64_t pid;

	if (admin_arg_int(req, args, "pid", true, 1, INT_MAX, &pid) < 0)
		return 0;
	tracker_sync(a->tracker);
	p = proc_table_lookup(a->procs, (pid_t)pid);
	if (!p) {
		admin_reply_error(req, "not_found", "no process with pid %lld in the table", (long long)pid);
		return 0;
	}
	admin_reply_ok(req, proc_to_json(a, p));
	return 0;
}

static const struct admin_command tracking_commands[] = {
	{"ps", cmd_ps, NULL},
	{"inspect", cmd_inspect, NULL},
};

/* ---- life cycle ---- */

int tracking_start(struct kwid_agent *a)
{
	struct admin_command cmds[ARRAY_SIZE(tracking_commands)];
	struct tracker_config tc = {0};
	struct kwid_measurer_config mc = {0};
	int r;

	r = read_config(a->cfg, &tc, &mc);
	if (r < 0)
		return r;
	/* Before the layout is read and before any thread exists. */
	cgroupns_ensure_initial(&cgroupns);
	r = measurer_new(a->loop, &mc, &a->measurer);
	if (r < 0)
		return r;
	measurer_on_done(a->measurer, on_measured, a);
	r = tracker_new(a->loop, a->measurer, &tc, on_table_change, a, &a->tracker);
	if (r < 0)
		return log_error_errno(r, "cannot start process tracking");
	a->procs = tracker_table(a->tracker);
	/* Steady state: read /proc/<pid>/exe, cwd, root and ns/ of every
	 * process (ptrace read access), and hash execute-only binaries. */
	privs_need(CAP_SYS_PTRACE, "read /proc/<pid>/exe and ns/ of every process");
	privs_need(CAP_DAC_READ_SEARCH, "hash executables the agent cannot otherwise read");
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		cmds[i] = tracking_commands[i];
		cmds[i].userdata = a;
	}
	if ((r = admin_register(a->admin, cmds, ARRAY_SIZE(cmds))) < 0 ||
	    (r = agent_status_register(a, "tracking", status_tracking, a)) < 0)
		return r;
	return 0;
}

void tracking_stop(struct kwid_agent *a)
{
	/* The table holds measurement references: it goes first. */
	tracker_free(a->tracker);
	a->tracker = NULL;
	a->procs = NULL;
	measurer_free(a->measurer);
	a->measurer = NULL;
}

int tracking_probe(const struct kwid_config *cfg, bool json, FILE *f)
{
	struct tracker_config tc = {0};
	struct kwid_measurer_config mc = {0};
	struct proc_cgroup_layout *layout = NULL;
	struct tracker_probe p;
	enum tracker_mode chosen;
	int forced, r;

	r = read_config(cfg, &tc, &mc);
	if (r < 0)
		return r;
	r = proc_cgroup_layout_load(&layout);
	if (r < 0)
		return r;
	if (geteuid() != 0 && !json)
		fprintf(f, "note: not running as root; BPF programs cannot be loaded by this user\n\n");
	tracker_probe_run(&p, layout);
	chosen = tc.mode == TRACKER_MODE_AUTO ? tracker_probe_best(&p) : tc.mode;
	forced = tc.mode == TRACKER_MODE_AUTO ? 0 : tracker_probe_mode_result(&p, tc.mode);
	if (json) {
		json_object *o = json_object_new_object();
		tracker_probe_to_json(&p, layout, o);
		json_object_object_add(o, "configured_mode", json_object_new_string(tracker_mode_to_string(tc.mode)));
		json_object_object_add(o, "mode", forced < 0 ? NULL : json_object_new_string(tracker_mode_to_string(chosen)));
		fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		tracker_probe_print(&p, layout, tc.mode, chosen, f);
		if (forced < 0)
			fprintf(f, "warning: the configured mode %s is not available: the agent would refuse to start\n",
				tracker_mode_to_string(tc.mode));
	}
	proc_cgroup_layout_free(layout);
	return 0;
}
