/* attest.c - the attestation pipeline (see kwid/attest.h): look the exec
 * up in the process table, wait for pending measurements (its own and its
 * ancestors'), read the live evidence once through a /proc directory fd
 * pinned to the process, run every attestor, and confirm through the
 * pidfd that the same exec is still behind the pid before answering.
 *
 * Why a /proc/<pid> directory fd: reading /proc/<pid>/... by number races
 * with pid reuse. The directory fd refers to one struct pid; once that
 * process is gone every read through it fails instead of reaching a new
 * process with the same number. Its start time (field 22 of stat) is
 * compared with the table's, so the fd is known to be the exec's process;
 * an exec during the reads is caught by tracker_confirm_exec() at the end. */
#include "kwid/agent.h"
#include "kwid/attest.h"
#include "kwid/cgroup_path.h"
#include "kwid/log.h"
#include "kwid/measure.h"
#include "kwid/privs.h"
#include "kwid/runtime_state.h"

#include <fcntl.h>
#include <sys/syscall.h>

#define LINEAGE_DEPTH_MAX 32
#define STATUS_MAX (1u << 20) /* /proc/<pid>/status with 65536 groups fits */
#define GROUPS_MAX 65536
#define BATCH_MAX 64
#define NOTE_MAX 512

int attest_admin_register(struct kwid_agent *a); /* attest_admin.c */

#define FAILURE_LOG_INTERVAL_NS (10ull * 1000000000ull)

struct attestor_slot {
	const struct kwid_attestor *a;
	void *state;
	uint64_t runs, failures, total_ns;
	int last_error;
	char last_message[256];
	uint64_t last_log_ns; /* failures are logged when new, else every 10 s */
	uint64_t unlogged;
};

struct op_wait {
	struct kwid_measurement *m;
	struct kwid_measure_waiter *w; /* NULL once fired or cancelled */
};

struct kwid_attest_op {
	struct kwid_attestors *as;
	struct kwid_exec_id who;
	int pidfd;
	bool own_pidfd;
	attest_done_fn fn;
	void *userdata;
	struct op_wait waits[2 + LINEAGE_DEPTH_MAX];
	size_t nwaits, pending;
	bool queued;
	bool running;	/* inside op_run(): a cancel is deferred to its end */
	bool cancelled;
	uint64_t started_ns;
	struct kwid_attest_op *prev, *next; /* every outstanding op */
	struct kwid_attest_op *ready_next;  /* ready queue */
};

struct kwid_attestors {
	struct kwid_agent *agent;
	struct attestor_slot *slots;
	size_t nslots;
	struct kwid_runtime_cache *runtimes;
	struct kwid_cgroup_layout layout;
	bool have_layout;
	unsigned lineage_depth;
	struct kwid_timer *kick;
	struct kwid_attest_op *ops;
	struct kwid_attest_op *ready_head, *ready_tail;
	uint64_t started, completed, gone, stale, failed, total_ns, max_ns;
};

/* ---- results ---- */

void attestation_free(struct kwid_attestation *att)
{
	if (!att)
		return;
	selset_clear(&att->all);
	for (size_t i = 0; i < att->ngroups; i++) {
		selset_clear(&att->groups[i].selectors);
		free(att->groups[i].message);
	}
	free(att->groups);
	free(att);
}

/* ---- evidence ---- */

struct evidence {
	struct kwid_creds creds;
	gid_t *groups;
	size_t ngroups;
	char *cgroup_text;
};

static void evidence_clear(struct evidence *ev)
{
	free(ev->groups);
	free(ev->cgroup_text);
	memset(ev, 0, sizeof(*ev));
}

static int parse_ids(const char *line, uint32_t ids[4])
{
	char *end;

	for (int i = 0; i < 4; i++) {
		unsigned long v;
		errno = 0;
		v = strtoul(line, &end, 10);
		if (errno || end == line || v > UINT32_MAX)
			return -EINVAL;
		ids[i] = (uint32_t)v;
		line = end;
	}
	return 0;
}

static int parse_groups(const char *line, struct evidence *ev)
{
	const char *p = line;
	size_t cap = 0;

	for (;;) {
		unsigned long v;
		char *end;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == '\0')
			return 0;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || end == p || v > UINT32_MAX || ev->ngroups == GROUPS_MAX)
			return -EINVAL;
		if (ev->ngroups == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			gid_t *n = reallocarray_safe(ev->groups, ncap, sizeof(*n));
			if (!n)
				return -ENOMEM;
			ev->groups = n;
			cap = ncap;
		}
		ev->groups[ev->ngroups++] = (gid_t)v;
		p = end;
	}
}

/* Uid:, Gid: (real, effective, saved, filesystem) and Groups:. */
static int parse_status(const char *text, struct evidence *ev)
{
	const char *uid = strstr(text, "\nUid:"), *gid = strstr(text, "\nGid:"), *groups = strstr(text, "\nGroups:");
	uint32_t u[4], g[4];
	int r;

	if (!uid || !gid || !groups)
		return -EBADMSG;
	if (parse_ids(uid + 5, u) < 0 || parse_ids(gid + 5, g) < 0)
		return -EBADMSG;
	ev->creds = (struct kwid_creds){u[0], u[1], u[2], u[3], g[0], g[1], g[2], g[3]};
	r = parse_groups(groups + 8, ev);
	return r == -EINVAL ? -EBADMSG : r;
}

/* Field 22 of /proc/<pid>/stat, after the last ')' (comm may hold any byte). */
static int parse_start_ticks(const char *stat, uint64_t *out)
{
	const char *p = strrchr(stat, ')');

	if (!p)
		return -EBADMSG;
	p++;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EBADMSG;
	}
	errno = 0;
	*out = strtoull(p + 1, NULL, 10);
	return errno ? -EBADMSG : 0;
}

static int read_evidence(const struct kwid_proc *p, struct evidence *ev)
{
	_cleanup_close_ int dirfd = -1;
	_cleanup_free_ char *stat = NULL, *status = NULL;
	char path[32];
	uint64_t ticks, hz = (uint64_t)sysconf(_SC_CLK_TCK);
	int r;

	snprintf(path, sizeof(path), "/proc/%d", (int)p->id.tgid);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	r = read_file_at(dirfd, "stat", 4096, &stat, NULL);
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	r = parse_start_ticks(stat, &ticks);
	if (r < 0)
		return r;
	/* The kernel prints start_boottime in USER_HZ ticks, truncated. */
	if (hz == 0 || ticks != p->id.start_ns / (1000000000ull / hz))
		return -ESRCH; /* the pid belongs to another process now */
	r = read_file_at(dirfd, "status", STATUS_MAX, &status, NULL);
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	r = parse_status(status, ev);
	if (r < 0)
		return r;
	r = read_file_at(dirfd, "cgroup", KWID_CGROUP_TEXT_MAX, &ev->cgroup_text, NULL);
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	return 0;
}

/* Parent first, each checked against its child's recorded parent start
 * time; stops at the first ancestor the table does not know. */
static size_t collect_ancestors(struct kwid_attestors *as, const struct kwid_proc *p,
				const struct kwid_proc **out, size_t max)
{
	size_t n = 0;

	while (n < max && p->ppid > 0) {
		const struct kwid_proc *parent = proc_table_lookup(as->agent->procs, p->ppid);
		if (!parent || parent->id.start_ns != p->parent_start_ns)
			break;
		out[n++] = parent;
		p = parent;
	}
	return n;
}

/* ---- running the attestors ---- */

static void run_slot(struct kwid_attestors *as, struct attestor_slot *s, struct kwid_attest_ctx *ctx,
		     struct kwid_attest_group *g)
{
	uint64_t t0 = now_mono_ns();
	int r;

	g->attestor = s->a->name;
	selset_init(&g->selectors);
	ctx->note[0] = '\0';
	*ctx->incomplete = false;
	r = s->a->attest(s->state, ctx, &g->selectors);
	s->runs++;
	s->total_ns += now_mono_ns() - t0;
	if (r < 0) {
		const char *msg = ctx->note[0] ? ctx->note : strerror(-r);
		uint64_t now = now_mono_ns();

		/* A failing attestor adds nothing, and says so: in the group,
		 * the status counters and the log (rate-limited, since a
		 * workload can ask again and again). */
		selset_clear(&g->selectors);
		g->error = r;
		g->message = strdup(msg);
		s->failures++;
		if (r != s->last_error || strncmp(msg, s->last_message, sizeof(s->last_message) - 1) != 0 ||
		    now - s->last_log_ns >= FAILURE_LOG_INTERVAL_NS) {
			log_warn("attestor %s failed for pid %d: %s (%s)%s", s->a->name, (int)ctx->proc->id.tgid, msg,
				 strerror(-r), s->unlogged ? " (and earlier failures not logged)" : "");
			s->last_log_ns = now;
			s->unlogged = 0;
		} else {
			s->unlogged++;
		}
		s->last_error = r;
		strscpy(s->last_message, msg, sizeof(s->last_message));
		return;
	}
	selset_sort(&g->selectors);
	g->incomplete = *ctx->incomplete;
	if (ctx->note[0])
		g->message = strdup(ctx->note);
}

static int run_attestors(struct kwid_attestors *as, const struct kwid_proc *p, struct kwid_attestation **out)
{
	_cleanup_(evidence_clear) struct evidence ev = {0};
	const struct kwid_proc *anc[LINEAGE_DEPTH_MAX];
	struct kwid_cgroup_membership cg;
	struct kwid_attestation *att;
	char note[NOTE_MAX];
	bool incomplete = false;
	struct kwid_attest_ctx ctx = {
		.agent = as->agent,
		.proc = p,
		.runtimes = as->runtimes,
		.note = note,
		.note_size = sizeof(note),
		.incomplete = &incomplete,
	};
	int r;

	r = read_evidence(p, &ev);
	if (r < 0)
		return r;
	ctx.creds = ev.creds;
	ctx.groups = ev.groups;
	ctx.ngroups = ev.ngroups;
	ctx.cgroup_text = ev.cgroup_text;
	r = measurer_check_unchanged(p);
	if (r < 0 && r != -ESTALE)
		log_debug("attest: cannot tell whether pid %d's executable changed: %s", (int)p->id.tgid, strerror(-r));
	ctx.exe_unchanged = r == 0;
	r = cgroup_membership_parse(ev.cgroup_text, as->have_layout ? &as->layout : NULL, &cg, &ctx.cgroup_why);
	if (r == -EINVAL && as->have_layout) {
		/* A hierarchy mounted or unmounted since start-up? Relearn once. */
		struct kwid_cgroup_layout fresh;
		if (cgroup_layout_read(&fresh) == 0 && memcmp(&fresh, &as->layout, sizeof(fresh)) != 0) {
			as->layout = fresh;
			r = cgroup_membership_parse(ev.cgroup_text, &as->layout, &cg, &ctx.cgroup_why);
		}
	}
	if (r < 0)
		ctx.cgroup_error = r;
	else
		ctx.cgroup = &cg;
	ctx.nancestors = collect_ancestors(as, p, anc, as->lineage_depth);
	ctx.ancestors = anc;

	att = calloc(1, sizeof(*att));
	if (!att)
		return -ENOMEM;
	att->who = p->id;
	selset_init(&att->all);
	att->groups = calloc_array(as->nslots, sizeof(*att->groups));
	if (!att->groups) {
		free(att);
		return -ENOMEM;
	}
	for (size_t i = 0; i < as->nslots; i++) {
		run_slot(as, &as->slots[i], &ctx, &att->groups[i]);
		att->ngroups++;
		r = selset_merge(&att->all, &att->groups[i].selectors);
		if (r < 0) {
			attestation_free(att);
			return r;
		}
	}
	selset_sort(&att->all);
	*out = att;
	return 0;
}

/* ---- operations ---- */

static void op_unlink(struct kwid_attest_op *op)
{
	struct kwid_attestors *as = op->as;

	if (op->prev)
		op->prev->next = op->next;
	else
		as->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->prev = op->next = NULL;
}

static void op_free(struct kwid_attest_op *op)
{
	for (size_t i = 0; i < op->nwaits; i++)
		if (op->waits[i].w)
			measurer_cancel(op->waits[i].w);
	if (op->own_pidfd && op->pidfd >= 0)
		close(op->pidfd);
	free(op);
}

static void op_finish(struct kwid_attest_op *op, int err, struct kwid_attestation *att)
{
	struct kwid_attestors *as = op->as;
	uint64_t dt = now_mono_ns() - op->started_ns;
	attest_done_fn fn = op->fn;
	void *userdata = op->userdata;

	op_unlink(op);
	op_free(op);
	as->completed++;
	as->total_ns += dt;
	as->max_ns = MAX(as->max_ns, dt);
	if (err == -ESRCH)
		as->gone++;
	else if (err == -ESTALE)
		as->stale++;
	else if (err < 0)
		as->failed++;
	fn(userdata, err, att);
}

/* Why the exec is not in the table: gone, or replaced by another exec. */
static int missing_exec(struct kwid_attestors *as, const struct kwid_exec_id *who)
{
	const struct kwid_proc *q = proc_table_lookup(as->agent->procs, who->tgid);

	return q && q->id.start_ns == who->start_ns ? -ESTALE : -ESRCH;
}

static void op_run(struct kwid_attest_op *op)
{
	struct kwid_attestors *as = op->as;
	struct kwid_attestation *att = NULL;
	const struct kwid_proc *p = proc_table_lookup_exec(as->agent->procs, &op->who);
	int r;

	if (!p) {
		op_finish(op, missing_exec(as, &op->who), NULL);
		return;
	}
	r = run_attestors(as, p, &att);
	if (r == 0) {
		/* The result stands only if the same exec still runs. Confirming
		 * syncs the tracker, whose change notifications may reach the
		 * caller and make it cancel this very operation. */
		op->running = true;
		r = tracker_confirm_exec(as->agent->tracker, op->pidfd, &op->who);
		op->running = false;
		if (r < 0 || op->cancelled) {
			attestation_free(att);
			att = NULL;
		}
		if (op->cancelled) {
			op_unlink(op);
			op_free(op);
			return;
		}
	}
	op_finish(op, r, att);
}

static void on_kick(struct kwid_timer *t, void *userdata)
{
	struct kwid_attestors *as = userdata;

	/* Bounded batch: a callback that starts new attestations cannot keep
	 * this loop iteration to itself. */
	for (int i = 0; i < BATCH_MAX && as->ready_head; i++) {
		struct kwid_attest_op *op = as->ready_head;
		as->ready_head = op->ready_next;
		if (!as->ready_head)
			as->ready_tail = NULL;
		op->queued = false;
		op_run(op);
	}
	if (as->ready_head)
		loop_timer_arm(as->kick, 0);
}

static int op_enqueue(struct kwid_attest_op *op)
{
	struct kwid_attestors *as = op->as;

	op->queued = true;
	op->ready_next = NULL;
	if (as->ready_tail)
		as->ready_tail->ready_next = op;
	else
		as->ready_head = op;
	as->ready_tail = op;
	return loop_timer_armed(as->kick) ? 0 : loop_timer_arm(as->kick, 0);
}

static void op_dequeue(struct kwid_attest_op *op)
{
	struct kwid_attestors *as = op->as;
	struct kwid_attest_op **pp = &as->ready_head, *prev = NULL;

	if (!op->queued)
		return;
	while (*pp && *pp != op) {
		prev = *pp;
		pp = &(*pp)->ready_next;
	}
	if (*pp)
		*pp = op->ready_next;
	if (as->ready_tail == op)
		as->ready_tail = prev;
	op->queued = false;
}

static void on_measured(void *userdata, const struct kwid_measurement *m)
{
	struct kwid_attest_op *op = userdata;

	for (size_t i = 0; i < op->nwaits; i++) {
		if (op->waits[i].m == m && op->waits[i].w) {
			op->waits[i].w = NULL;
			op->pending--;
			break;
		}
	}
	if (op->pending == 0 && op_enqueue(op) < 0)
		op_finish(op, -ENOMEM, NULL);
}

/* Wait for m unless it is finished or already waited for. */
static int op_wait_for(struct kwid_attest_op *op, struct kwid_measurement *m)
{
	struct op_wait *w;
	int r;

	if (!m || m->state != KWID_MEASURE_PENDING)
		return 0;
	for (size_t i = 0; i < op->nwaits; i++)
		if (op->waits[i].m == m)
			return 0;
	if (op->nwaits == ARRAY_SIZE(op->waits))
		return 0;
	w = &op->waits[op->nwaits];
	r = measurer_wait(op->as->agent->measurer, m, on_measured, op, &w->w);
	if (r < 0)
		return r;
	w->m = m;
	op->nwaits++;
	op->pending++;
	return 0;
}

int attest_start(struct kwid_attestors *as, const struct kwid_exec_id *who, int pidfd, attest_done_fn fn,
		 void *userdata, struct kwid_attest_op **out)
{
	const struct kwid_proc *p = proc_table_lookup_exec(as->agent->procs, who), *anc[LINEAGE_DEPTH_MAX];
	struct kwid_attest_op *op;
	size_t n;
	int r;

	if (out)
		*out = NULL;
	if (!p)
		return -ESRCH;
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->as = as;
	op->who = *who;
	op->fn = fn;
	op->userdata = userdata;
	op->pidfd = pidfd;
	op->started_ns = now_mono_ns();
	if (pidfd < 0) {
		/* Opened after the table lookup; read_evidence() checks the
		 * process behind the number is the exec's by its start time. */
		op->pidfd = (int)syscall(SYS_pidfd_open, who->tgid, 0);
		if (op->pidfd < 0) {
			r = errno == ESRCH ? -ESRCH : -errno;
			free(op);
			return r;
		}
		op->own_pidfd = true;
	}
	op->next = as->ops;
	if (as->ops)
		as->ops->prev = op;
	as->ops = op;
	as->started++;

	/* The measurements the attestors will read: this exec's (and its
	 * script's) and its ancestors'. */
	r = op_wait_for(op, p->image->measurement);
	if (r == 0)
		r = op_wait_for(op, p->image->script_measurement);
	n = collect_ancestors(as, p, anc, as->lineage_depth);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = op_wait_for(op, anc[i]->image->measurement);
	if (r == 0 && op->pending == 0)
		r = op_enqueue(op);
	if (r < 0) {
		op_dequeue(op);
		op_unlink(op);
		op_free(op);
		return r;
	}
	if (out)
		*out = op;
	return 0;
}

void attest_cancel(struct kwid_attest_op *op)
{
	if (!op)
		return;
	if (op->running) {
		op->cancelled = true; /* op_run() frees it without calling back */
		return;
	}
	op_dequeue(op);
	op_unlink(op);
	op_free(op);
}

/* ---- status ---- */

static void status_section(void *userdata, json_object *out)
{
	struct kwid_attestors *as = userdata;
	json_object *list = json_object_new_object();

	json_object_object_add(out, "attestations", json_object_new_int64((int64_t)as->completed));
	json_object_object_add(out, "in_progress", json_object_new_int64((int64_t)(as->started - as->completed)));
	json_object_object_add(out, "process_gone", json_object_new_int64((int64_t)as->gone));
	json_object_object_add(out, "exec_changed", json_object_new_int64((int64_t)as->stale));
	json_object_object_add(out, "failed", json_object_new_int64((int64_t)as->failed));
	json_object_object_add(out, "avg_us",
			       json_object_new_int64(as->completed ? (int64_t)(as->total_ns / as->completed / 1000) : 0));
	json_object_object_add(out, "max_us", json_object_new_int64((int64_t)(as->max_ns / 1000)));
	runtime_cache_status(as->runtimes, out);
	for (size_t i = 0; i < as->nslots; i++) {
		struct attestor_slot *s = &as->slots[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "runs", json_object_new_int64((int64_t)s->runs));
		json_object_object_add(o, "failures", json_object_new_int64((int64_t)s->failures));
		json_object_object_add(o, "avg_us", json_object_new_int64(s->runs ? (int64_t)(s->total_ns / s->runs / 1000) : 0));
		if (s->last_error)
			json_object_object_add(o, "last_error", json_object_new_string(s->last_message));
		if (s->a->status)
			s->a->status(s->state, o);
		json_object_object_add(list, s->a->name, o);
	}
	json_object_object_add(out, "by_attestor", list);
}

/* ---- lifecycle ---- */

static int read_config(struct kwid_attestors *as, struct kwid_runtime_roots *roots, uint64_t *cache_entries)
{
	const struct kwid_config *cfg = as->agent->cfg;
	uint64_t depth;
	int r;

	if ((r = config_get_string(cfg, "attestors.docker_root", &roots->docker_root)) < 0 ||
	    (r = config_get_string(cfg, "attestors.containerd_state", &roots->containerd_state)) < 0 ||
	    (r = config_get_string(cfg, "attestors.crio_state", &roots->crio_state)) < 0 ||
	    (r = config_get_string(cfg, "attestors.podman_state", &roots->podman_state)) < 0 ||
	    (r = config_get_u64(cfg, "attestors.state_cache_entries", 1, 1 << 20, cache_entries)) < 0 ||
	    (r = config_get_u64(cfg, "attestors.lineage_depth", 0, LINEAGE_DEPTH_MAX, &depth)) < 0)
		return r;
	as->lineage_depth = (unsigned)depth;
	return 0;
}

int attestors_new(struct kwid_agent *a, struct kwid_attestors **out)
{
	struct kwid_attestors *as = calloc(1, sizeof(*as));
	struct kwid_runtime_roots roots = {0};
	uint64_t cache_entries;
	size_t n = 0;
	int r;

	if (!as)
		return -ENOMEM;
	as->agent = a;
	r = read_config(as, &roots, &cache_entries);
	if (r < 0)
		goto fail;
	r = runtime_cache_new(&roots, cache_entries, &as->runtimes);
	if (r < 0)
		goto fail;
	r = cgroup_layout_read(&as->layout);
	if (r < 0)
		log_warn_errno(r, "attestors: cannot learn this host's cgroup hierarchies from /proc/self/cgroup; "
				  "injected lines in /proc/<pid>/cgroup are caught only by duplicates");
	as->have_layout = r == 0;
	/* measurer_check_unchanged() stats /proc/<pid>/exe, a ptrace-mode
	 * access the kernel refuses for processes holding capabilities the
	 * agent dropped. */
	privs_need(CAP_SYS_PTRACE, "attestors: check that /proc/<pid>/exe is still the executed file");
	while (kwid_attestor_registry[n])
		n++;
	as->slots = calloc_array(n, sizeof(*as->slots));
	if (!as->slots) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct attestor_slot *s = &as->slots[as->nslots];
		s->a = kwid_attestor_registry[i];
		r = s->a->init ? s->a->init(a, &s->state) : 0;
		if (r < 0) {
			log_error_errno(r, "attestors: cannot start attestor %s", s->a->name);
			goto fail;
		}
		as->nslots++;
	}
	r = loop_timer_new(a->loop, on_kick, as, &as->kick);
	if (r < 0)
		goto fail;
	r = agent_status_register(a, "attestors", status_section, as);
	if (r < 0)
		goto fail;
	if (a->admin) {
		r = attest_admin_register(a);
		if (r < 0)
			goto fail;
	}
	log_info("attestors: %zu attestors ready", as->nslots);
	*out = as;
	return 0;
fail:
	attestors_free(as);
	return r;
}

void attestors_free(struct kwid_attestors *as)
{
	if (!as)
		return;
	/* Outstanding operations end silently: the agent is stopping. */
	while (as->ops)
		attest_cancel(as->ops);
	for (size_t i = 0; i < as->nslots; i++)
		if (as->slots[i].a->fini)
			as->slots[i].a->fini(as->slots[i].state);
	free(as->slots);
	loop_timer_free(as->kick);
	runtime_cache_free(as->runtimes);
	free(as);
}
