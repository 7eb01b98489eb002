/* proc_json.c - the process table as JSON for kwidctl: one line per
 * process for `ps`, all recorded evidence for `inspect`. */
#include "kwid/measure.h"
#include "kwid/tracker.h"

#include <sys/sysmacros.h>
#include <time.h>

const char *proc_origin_to_string(enum kwid_proc_origin o)
{
	switch (o) {
	case KWID_ORIGIN_EXEC:
		return "exec";
	case KWID_ORIGIN_FORK:
		return "fork";
	case KWID_ORIGIN_SCAN:
		return "scan";
	}
	return "unknown";
}

static void add_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

/* Boot-clock ns as UTC wall-clock time (for people, not for matching). */
static void add_boot_time(json_object *o, const char *k, uint64_t boot_ns)
{
	uint64_t now_b = now_boot_ns(), now_r = now_real_ns();
	time_t t;
	struct tm tm;
	char buf[32];

	if (!boot_ns || boot_ns > now_b) {
		json_object_object_add(o, k, NULL);
		return;
	}
	t = (time_t)((now_r - (now_b - boot_ns)) / 1000000000ull);
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	add_str(o, k, buf);
}

static const char *short_state(const struct kwid_measurement *m)
{
	return m ? measure_state_to_string(m->state) : "none";
}

json_object *proc_to_ps_json(const struct kwid_proc *p)
{
	json_object *o = json_object_new_object();
	const struct kwid_measurement *m = p->image->measurement;

	add_u64(o, "tgid", (uint64_t)p->id.tgid);
	add_u64(o, "ppid", (uint64_t)p->ppid);
	add_u64(o, "parent_start_ns", p->parent_start_ns);
	add_u64(o, "start_ns", p->id.start_ns);
	add_u64(o, "exec_seq", p->id.exec_seq);
	add_str(o, "comm", p->comm);
	add_u64(o, "uid", p->creds.uid);
	add_u64(o, "euid", p->creds.euid);
	add_str(o, "path", p->image->path);
	add_str(o, "sha256", m && m->state == KWID_MEASURE_DONE ? m->sha256_hex : NULL);
	add_str(o, "measurement", short_state(m));
	add_str(o, "origin", proc_origin_to_string(p->origin));
	return o;
}

static json_object *measurement_json(const struct kwid_measurement *m)
{
	json_object *o = json_object_new_object();

	add_str(o, "state", measure_state_to_string(m->state));
	add_str(o, "sha256", m->state == KWID_MEASURE_DONE ? m->sha256_hex : NULL);
	add_str(o, "error", m->state == KWID_MEASURE_FAILED ? strerror(-m->error) : NULL);
	if (m->state == KWID_MEASURE_DONE) {
		add_u64(o, "hash_us", m->hash_duration_ns / 1000);
		add_boot_time(o, "measured_at", m->measured_ns);
	}
	return o;
}

static json_object *file_key_json(const struct kwid_file_key *k)
{
	json_object *o = json_object_new_object();
	char dev[32];

	snprintf(dev, sizeof(dev), "%u:%u", major((dev_t)k->dev), minor((dev_t)k->dev));
	add_str(o, "dev", dev);
	add_u64(o, "ino", k->ino);
	add_u64(o, "size", k->size);
	json_object_object_add(o, "mtime_ns", json_object_new_int64(k->mtime_ns));
	json_object_object_add(o, "ctime_ns", json_object_new_int64(k->ctime_ns));
	return o;
}

static json_object *cgroups_json(const struct kwid_proc *p)
{
	json_object *o = json_object_new_object(), *v1 = json_object_new_object(), *paths = json_object_new_array();
	_cleanup_free_ char *text = NULL;
	char path[64];

	add_u64(o, "v2_id", p->cgroup_id);
	for (unsigned h = 1; h < KWID_MAX_CGROUP_V1; h++) {
		char k[8];
		if (!p->cgroup_v1_ids[h])
			continue;
		snprintf(k, sizeof(k), "%u", h);
		add_u64(v1, k, p->cgroup_v1_ids[h]);
	}
	json_object_object_add(o, "v1_ids", v1);
	/* For people: the paths as the kernel reports them now. */
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)p->id.tgid);
	if (read_file(path, 64 * 1024, &text, NULL) == 0) {
		char *save = NULL;
		for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			json_object_array_add(paths, json_object_new_string(l));
	}
	json_object_object_add(o, "paths", paths);
	return o;
}

static json_object *creds_json(const struct kwid_creds *c)
{
	json_object *o = json_object_new_object();

	add_u64(o, "uid", c->uid);
	add_u64(o, "euid", c->euid);
	add_u64(o, "suid", c->suid);
	add_u64(o, "fsuid", c->fsuid);
	add_u64(o, "gid", c->gid);
	add_u64(o, "egid", c->egid);
	add_u64(o, "sgid", c->sgid);
	add_u64(o, "fsgid", c->fsgid);
	return o;
}

static json_object *ns_json(const struct kwid_proc *p)
{
	json_object *o = json_object_new_object();

	add_u64(o, "mnt", p->mnt_ns);
	add_u64(o, "pid", p->pid_ns);
	add_u64(o, "user", p->user_ns);
	add_u64(o, "cgroup", p->cgroup_ns);
	add_u64(o, "net", p->net_ns);
	return o;
}

static const char *on_disk_string(const struct kwid_image *img)
{
	int r = measurer_check_path(img);

	if (r == 0)
		return "same";
	if (r == -ESTALE)
		return "replaced";
	if (r == -ENOENT)
		return "missing";
	return "unknown";
}

json_object *proc_to_json(struct kwid_agent *a, const struct kwid_proc *p)
{
	json_object *o = json_object_new_object();
	const struct kwid_image *img = p->image;
	int r;

	add_u64(o, "tgid", (uint64_t)p->id.tgid);
	add_u64(o, "ppid", (uint64_t)p->ppid);
	add_u64(o, "parent_start_ns", p->parent_start_ns);
	add_u64(o, "start_ns", p->id.start_ns);
	add_boot_time(o, "start_time", p->id.start_ns);
	add_u64(o, "exec_seq", p->id.exec_seq);
	json_object_object_add(o, "exec_seq_synthetic",
			       json_object_new_boolean(!!(p->id.exec_seq & KWID_EXEC_SEQ_SYNTHETIC)));
	json_object_object_add(o, "start_coarse", json_object_new_boolean(proc_entry_start_coarse(p)));
	add_str(o, "comm", p->comm);
	add_str(o, "origin", proc_origin_to_string(p->origin));
	add_u64(o, "exec_time_ns", p->exec_time_ns);
	json_object_object_add(o, "creds", creds_json(&p->creds));
	json_object_object_add(o, "namespaces", ns_json(p));
	json_object_object_add(o, "cgroups", cgroups_json(p));
	add_str(o, "path", img->path);
	add_str(o, "filename", img->filename);
	json_object_object_add(o, "file", file_key_json(&img->file));
	add_str(o, "sha256", img->measurement->state == KWID_MEASURE_DONE ? img->measurement->sha256_hex : NULL);
	json_object_object_add(o, "measurement", measurement_json(img->measurement));
	if (img->script_path) {
		json_object *s = img->script_measurement ? measurement_json(img->script_measurement)
							 : json_object_new_object();
		add_str(s, "path", img->script_path);
		if (img->script_measurement)
			json_object_object_add(s, "file", file_key_json(&img->script_measurement->key));
		json_object_object_add(o, "script", s);
	} else {
		json_object_object_add(o, "script", NULL);
	}
	r = measurer_check_unchanged(p);
	json_object_object_add(o, "modified_since_exec",
			       r == 0 ? json_object_new_boolean(0) : r == -ESTALE ? json_object_new_boolean(1) : NULL);
	add_str(o, "file_on_disk", on_disk_string(img));
	return o;
}
