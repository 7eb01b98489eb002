/* proc_event.c - decoding of the records the BPF programs emit (layout in
 * bpf/proc.h) into struct kwid_proc_event. Records come from the kernel,
 * but they are parsed as untrusted bytes all the same: every size is
 * checked and a malformed record is refused, never half-applied. */
#include "kwid/tracker.h"

#include "proc.h"

#define DELETED_SUFFIX " (deleted)"

bool path_strip_deleted(char *path)
{
	size_t len = strlen(path), sl = strlen(DELETED_SUFFIX);

	if (len > sl && memcmp(path + len - sl, DELETED_SUFFIX, sl) == 0) {
		path[len - sl] = '\0';
		return true;
	}
	return false;
}

static void decode_task(const struct kwid_ev_task *t, struct kwid_proc_event *ev)
{
	ev->tgid = (pid_t)t->tgid;
	ev->ppid = (pid_t)t->ppid;
	ev->start_ns = t->start_ns;
	ev->parent_start_ns = t->parent_start_ns;
	ev->exec_seq = t->exec_seq;
	ev->has_exec_seq = true;
	ev->creds = (struct kwid_creds){
		.uid = t->uid, .euid = t->euid, .suid = t->suid, .fsuid = t->fsuid,
		.gid = t->gid, .egid = t->egid, .sgid = t->sgid, .fsgid = t->fsgid,
	};
	ev->mnt_ns = t->mnt_ns;
	ev->pid_ns = t->pid_ns;
	ev->user_ns = t->user_ns;
	ev->cgroup_ns = t->cgroup_ns;
	ev->net_ns = t->net_ns;
	ev->cgroup_id = t->cgroup_id;
	memcpy(ev->comm, t->comm, sizeof(ev->comm));
	ev->comm[sizeof(ev->comm) - 1] = '\0';
}

static void decode_file(const struct kwid_ev_file *f, struct kwid_proc_event *ev)
{
	ev->has_file = f->ino != 0; /* the iterator found no executable */
	ev->file = (struct kwid_file_key){
		.dev = (uint64_t)kernel_dev_to_user(f->dev),
		.ino = f->ino,
		.size = f->size,
		.mtime_ns = f->mtime_ns,
		.ctime_ns = f->ctime_ns,
	};
}

/* A string of `len` bytes (NUL included) at *pos; advances *pos. A zero
 * length is an absent string. */
static int take_string(const char *base, size_t avail, size_t *pos, uint16_t len, const char **out)
{
	*out = NULL;
	if (len == 0)
		return 0;
	if (len > avail - *pos)
		return -EBADMSG;
	if (base[*pos + len - 1] != '\0' || strnlen(base + *pos, len) != (size_t)len - 1)
		return -EBADMSG;
	*out = base + *pos;
	*pos += len;
	return 0;
}

/* Records in an iterator stream are not aligned: fixed parts are copied
 * out before their fields are read. */
static int decode_exec(const void *data, size_t len, struct kwid_proc_event *ev)
{
	struct kwid_ev_exec r;
	const char *strings = (const char *)data + sizeof(r);
	size_t pos = 0, avail;
	int rc;

	if (len < sizeof(r))
		return -EBADMSG;
	memcpy(&r, data, sizeof(r));
	avail = len - sizeof(r);
	if ((size_t)r.filename_len + r.interp_len + r.path_len != avail)
		return -EBADMSG;
	decode_task(&r.task, ev);
	for (size_t i = 0; i < KWID_MAX_CGROUP_V1 && i < KWID_BPF_V1_MAX; i++)
		ev->cgroup_v1[i] = r.cgroup_v1[i];
	decode_file(&r.file, ev);
	if ((rc = take_string(strings, avail, &pos, r.filename_len, &ev->filename)) < 0 ||
	    (rc = take_string(strings, avail, &pos, r.interp_len, &ev->interp)) < 0 ||
	    (rc = take_string(strings, avail, &pos, r.path_len, &ev->path)) < 0)
		return rc;
	return 0;
}

int proc_event_decode(const void *data, size_t len, struct kwid_proc_event *ev)
{
	struct kwid_ev_hdr h;

	memset(ev, 0, sizeof(*ev));
	if (!data || len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, data, sizeof(h));
	/* The ring buffer rounds records up to 8 bytes; the header's size
	 * is the exact one and must fit. */
	if (h.size < sizeof(h) || h.size > len)
		return -EBADMSG;
	len = h.size;
	ev->ts = h.ts;
	switch (h.type) {
	case KWID_EV_EXEC:
	case KWID_EV_SCAN:
		ev->type = h.type == KWID_EV_EXEC ? KWID_EVENT_EXEC : KWID_EVENT_SCAN;
		return decode_exec(data, len, ev);
	case KWID_EV_FORK: {
		struct kwid_ev_fork r;
		if (len != sizeof(r))
			return -EBADMSG;
		memcpy(&r, data, sizeof(r));
		ev->type = KWID_EVENT_FORK;
		decode_task(&r.task, ev);
		ev->creator_tgid = (pid_t)r.creator_tgid;
		ev->creator_start_ns = r.creator_start_ns;
		return 0;
	}
	case KWID_EV_EXIT: {
		struct kwid_ev_exit r;
		if (len != sizeof(r))
			return -EBADMSG;
		memcpy(&r, data, sizeof(r));
		ev->type = KWID_EVENT_EXIT;
		ev->tgid = (pid_t)r.tgid;
		ev->exit_code = r.exit_code;
		ev->start_ns = r.start_ns;
		ev->exec_seq = r.exec_seq;
		ev->has_exec_seq = true;
		return 0;
	}
	case KWID_EV_CGROUP: {
		struct kwid_ev_cgroup r;
		if (len != sizeof(r))
			return -EBADMSG;
		memcpy(&r, data, sizeof(r));
		ev->type = KWID_EVENT_CGROUP;
		ev->tgid = (pid_t)r.tgid;
		ev->start_ns = r.start_ns;
		ev->exec_seq = r.exec_seq;
		ev->has_exec_seq = true;
		ev->dst_hierarchy = r.dst_hierarchy;
		ev->dst_cgroup_id = r.dst_cgroup_id;
		ev->cgroup_id = r.cgroup_id;
		for (size_t i = 0; i < KWID_MAX_CGROUP_V1 && i < KWID_BPF_V1_MAX; i++)
			ev->cgroup_v1[i] = r.cgroup_v1[i];
		return 0;
	}
	default:
		return -EBADMSG;
	}
}

int proc_event_split(const void *data, size_t len, int (*fn)(void *ud, const struct kwid_proc_event *ev),
		     void *ud)
{
	const char *p = data;
	size_t off = 0;
	int n = 0, r;

	while (off < len) {
		struct kwid_ev_hdr h;
		struct kwid_proc_event ev;

		if (len - off < sizeof(h))
			return -EBADMSG;
		memcpy(&h, p + off, sizeof(h));
		if (h.size < sizeof(h) || h.size > len - off)
			return -EBADMSG;
		r = proc_event_decode(p + off, h.size, &ev);
		if (r < 0)
			return r;
		r = fn(ud, &ev);
		if (r < 0)
			return r;
		off += h.size;
		n++;
	}
	return n;
}
