/* tracker_apply.c - kernel events and snapshots into the process table.
 *
 * Rules that keep the table exact:
 * - a process is (tgid, start time, exec seq): an entry whose start time
 *   differs from an event's is a previous process with a reused pid and
 *   leaves the table;
 * - an exec or fork event carrying an older exec seq than the entry is
 *   stale (the entry came from a newer snapshot) and ignored;
 * - after a repair at T0, fork/exec/cgroup events stamped before T0 are
 *   superseded by the snapshot and ignored; exits always apply;
 * - a snapshot removes every entry it did not see that was last updated
 *   before T0. */
#include "kwid/log.h"
#include "tracker_int.h"

static void notify(struct kwid_tracker *tr, enum kwid_change kind, const struct kwid_exec_id *id)
{
	if (tr->notify)
		tr->notify(tr->notify_ud, kind, id);
}

uint64_t tracker_synthetic_seq(struct kwid_tracker *tr)
{
	return KWID_EXEC_SEQ_SYNTHETIC | ++tr->synth_seq;
}

void tracker_remove(struct kwid_tracker *tr, struct kwid_proc *p)
{
	struct kwid_exec_id id = p->id;

	proc_table_remove(tr->table, id.tgid);
	notify(tr, KWID_CHANGE_PROC_EXIT, &id);
}

static bool same_process(const struct kwid_proc *p, const struct kwid_proc_event *ev)
{
	return proc_start_matches(p->id.start_ns, proc_entry_start_coarse(p), ev->start_ns, ev->start_coarse);
}

static bool kernel_seq(uint64_t seq) { return !(seq & KWID_EXEC_SEQ_SYNTHETIC); }

static bool superseded(struct kwid_tracker *tr, const struct kwid_proc_event *ev)
{
	if (ev->ts && ev->ts < tr->resync_floor) {
		tr->stats.stale_ignored++;
		return true;
	}
	return false;
}

/* The entry for ev->tgid if it is the same process. An entry of a
 * previous process under the same pid (an exit was lost) is removed;
 * returns false when the event itself is about a process older than the
 * entry (start times only grow across pid reuse): the caller ignores it. */
static bool current_entry(struct kwid_tracker *tr, const struct kwid_proc_event *ev, struct kwid_proc **out)
{
	struct kwid_proc *p = proc_table_get(tr->table, ev->tgid);

	*out = NULL;
	if (!p)
		return true;
	if (same_process(p, ev)) {
		*out = p;
		return true;
	}
	if (p->id.start_ns > ev->start_ns) {
		tr->stats.stale_ignored++;
		return false;
	}
	log_debug("pid %d reused: dropping the previous process (start %" PRIu64 ")", (int)ev->tgid,
		  p->id.start_ns);
	tracker_remove(tr, p);
	return true;
}

/* Cgroup ids: the event's where it knows them, else what `prev` had
 * (named v1 hierarchies are only seen by the iterator and moves). */
static void merge_cgroups(struct kwid_proc *p, const struct kwid_proc_event *ev, const struct kwid_proc *prev)
{
	if (ev->cgroup_id)
		p->cgroup_id = ev->cgroup_id;
	else if (prev)
		p->cgroup_id = prev->cgroup_id;
	for (unsigned h = 0; h < KWID_MAX_CGROUP_V1; h++)
		p->cgroup_v1_ids[h] = ev->cgroup_v1[h] ? ev->cgroup_v1[h] : prev ? prev->cgroup_v1_ids[h] : 0;
}

static void refresh_fields(struct kwid_proc *p, const struct kwid_proc_event *ev, const struct kwid_proc *prev)
{
	p->ppid = ev->ppid;
	p->parent_start_ns = ev->parent_start_ns;
	memcpy(p->comm, ev->comm, sizeof(p->comm));
	p->comm[sizeof(p->comm) - 1] = '\0';
	p->creds = ev->creds;
	p->mnt_ns = ev->mnt_ns;
	p->pid_ns = ev->pid_ns;
	p->user_ns = ev->user_ns;
	p->cgroup_ns = ev->cgroup_ns;
	p->net_ns = ev->net_ns;
	merge_cgroups(p, ev, prev);
}

static struct kwid_proc *insert(struct kwid_tracker *tr, const struct kwid_proc_event *ev, uint64_t seq,
				enum kwid_proc_origin origin, struct kwid_image *img, const struct kwid_proc *prev)
{
	struct kwid_proc p = {0};
	struct kwid_proc *e;

	p.id = (struct kwid_exec_id){ev->tgid, ev->start_ns, seq};
	refresh_fields(&p, ev, prev);
	p.origin = origin;
	p.exec_time_ns = origin == KWID_ORIGIN_EXEC ? ev->ts : 0;
	p.image = img;
	e = proc_table_put(tr->table, &p, ev->ts ? ev->ts : now_boot_ns());
	if (!e) {
		log_error("out of memory: process %d not tracked", (int)ev->tgid);
		return NULL;
	}
	proc_entry_set_start_coarse(e, ev->start_coarse);
	return e;
}

static void apply_exec(struct kwid_tracker *tr, const struct kwid_proc_event *ev)
{
	struct kwid_proc *cur, prev;
	struct kwid_image *img;
	uint64_t seq;

	tr->stats.exec++;
	if (superseded(tr, ev))
		return;
	if (!current_entry(tr, ev, &cur))
		return;
	if (cur && ev->has_exec_seq && kernel_seq(cur->id.exec_seq) && cur->id.exec_seq > ev->exec_seq) {
		tr->stats.stale_ignored++;
		return;
	}
	seq = ev->has_exec_seq ? ev->exec_seq : tracker_synthetic_seq(tr);
	if (cur && cur->id.exec_seq == seq && ev->has_file && file_key_equal(&cur->image->file, &ev->file)) {
		/* Already known from a snapshot taken after this exec. */
		refresh_fields(cur, ev, cur);
		return;
	}
	img = tracker_image_for_event(tr, ev);
	if (!img)
		return;
	if (cur)
		prev = *cur;
	cur = insert(tr, ev, seq, KWID_ORIGIN_EXEC, img, cur ? &prev : NULL);
	if (cur)
		notify(tr, KWID_CHANGE_PROC_EXEC, &cur->id);
}

static void apply_fork(struct kwid_tracker *tr, const struct kwid_proc_event *ev)
{
	struct kwid_proc *cur, *creator;
	struct kwid_image *img;
	uint64_t seq;

	tr->stats.fork++;
	if (superseded(tr, ev))
		return;
	if (!current_entry(tr, ev, &cur))
		return;
	if (cur) {
		/* Seen already (a snapshot, or a duplicate): nothing newer here. */
		tr->stats.stale_ignored++;
		return;
	}
	creator = proc_table_get(tr->table, ev->creator_tgid);
	if (creator && ev->creator_start_ns &&
	    !proc_start_matches(creator->id.start_ns, proc_entry_start_coarse(creator), ev->creator_start_ns, false))
		creator = NULL;
	if (creator && ev->has_exec_seq && creator->id.exec_seq != ev->exec_seq)
		creator = NULL;
	if (creator) {
		img = proc_image_ref(creator->image);
	} else {
		tr->stats.fork_unknown_creator++;
		img = tracker_image_from_proc(tr, ev->tgid, ev->mnt_ns);
	}
	if (!img)
		return;
	seq = ev->has_exec_seq ? ev->exec_seq : creator ? creator->id.exec_seq : tracker_synthetic_seq(tr);
	cur = insert(tr, ev, seq, KWID_ORIGIN_FORK, img, creator);
	if (!cur)
		return;
	if (creator)
		cur->exec_time_ns = creator->exec_time_ns;
	notify(tr, KWID_CHANGE_PROC_EXEC, &cur->id);
}

static void apply_exit(struct kwid_tracker *tr, const struct kwid_proc_event *ev)
{
	struct kwid_proc *cur = proc_table_get(tr->table, ev->tgid);

	tr->stats.exit++;
	/* An exit of a previous holder of the pid must not remove the new one. */
	if (cur && same_process(cur, ev))
		tracker_remove(tr, cur);
}

static void apply_cgroup(struct kwid_tracker *tr, const struct kwid_proc_event *ev)
{
	struct kwid_proc *cur;

	tr->stats.cgroup++;
	if (superseded(tr, ev))
		return;
	cur = proc_table_get(tr->table, ev->tgid);
	if (!cur || !same_process(cur, ev))
		return;
	merge_cgroups(cur, ev, cur);
	if (ev->dst_hierarchy == 0 && ev->dst_cgroup_id)
		cur->cgroup_id = ev->dst_cgroup_id;
	else if (ev->dst_hierarchy < KWID_MAX_CGROUP_V1 && ev->dst_cgroup_id)
		cur->cgroup_v1_ids[ev->dst_hierarchy] = ev->dst_cgroup_id;
	proc_table_touch(cur, ev->ts, proc_entry_mark(cur));
	notify(tr, KWID_CHANGE_PROC_CGROUP, &cur->id);
}

void tracker_apply(struct kwid_tracker *tr, const struct kwid_proc_event *ev)
{
	switch (ev->type) {
	case KWID_EVENT_EXEC:
		apply_exec(tr, ev);
		break;
	case KWID_EVENT_FORK:
		apply_fork(tr, ev);
		break;
	case KWID_EVENT_EXIT:
		apply_exit(tr, ev);
		break;
	case KWID_EVENT_CGROUP:
		apply_cgroup(tr, ev);
		break;
	case KWID_EVENT_SCAN:
		tracker_snapshot_add(tr, ev);
		break;
	}
}

/* ---- snapshots ---- */

void tracker_snapshot_begin(struct kwid_tracker *tr, uint64_t t0)
{
	tr->snapshot_t0 = t0;
	tr->snapshot_mark = proc_table_next_mark(tr->table);
}

void tracker_snapshot_add(struct kwid_tracker *tr, const struct kwid_proc_event *ev)
{
	struct kwid_proc *cur, prev;
	struct kwid_image *img;
	bool same;
	uint64_t seq;

	tr->stats.scan++;
	if (!current_entry(tr, ev, &cur))
		return;
	if (cur) {
		if (ev->has_exec_seq)
			same = cur->id.exec_seq == ev->exec_seq;
		else /* /proc cannot see the exec seq: the same file means the same exec */
			same = ev->has_file && file_key_equal(&cur->image->file, &ev->file);
		if (same) {
			refresh_fields(cur, ev, cur);
			proc_table_touch(cur, tr->snapshot_t0, tr->snapshot_mark);
			return;
		}
	}
	seq = ev->has_exec_seq ? ev->exec_seq : tracker_synthetic_seq(tr);
	img = tracker_image_for_event(tr, ev);
	if (!img)
		return;
	if (cur) {
		prev = *cur;
		tr->stats.resync_replaced++;
	}
	cur = insert(tr, ev, seq, KWID_ORIGIN_SCAN, img, cur ? &prev : NULL);
	if (!cur)
		return;
	proc_table_touch(cur, tr->snapshot_t0, tr->snapshot_mark);
	notify(tr, KWID_CHANGE_PROC_EXEC, &cur->id);
}

/* Only what tells a process apart, from /proc: when it matches the entry,
 * mark it seen without reading everything again. Returns true if marked. */
bool tracker_snapshot_quick(struct kwid_tracker *tr, pid_t pid, uint64_t start_ns, const struct kwid_file_key *file,
			    bool has_file)
{
	struct kwid_proc *cur = proc_table_get(tr->table, pid);

	if (!cur || !proc_start_matches(cur->id.start_ns, proc_entry_start_coarse(cur), start_ns, true) ||
	    !has_file || !file_key_equal(&cur->image->file, file))
		return false;
	proc_table_touch(cur, tr->snapshot_t0, tr->snapshot_mark);
	return true;
}

void tracker_snapshot_end(struct kwid_tracker *tr)
{
	_cleanup_free_ pid_t *stale = NULL;
	size_t n = 0;

	if (proc_table_collect_stale(tr->table, tr->snapshot_mark, tr->snapshot_t0, &stale, &n) < 0) {
		log_error("out of memory while repairing the process table");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct kwid_proc *p = proc_table_get(tr->table, stale[i]);
		if (p)
			tracker_remove(tr, p);
	}
	tr->stats.resync_removed += n;
	if (tr->snapshot_t0 > tr->resync_floor)
		tr->resync_floor = tr->snapshot_t0;
}
