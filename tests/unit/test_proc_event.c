/* test_proc_event.c - decoding of what the kernel hands the tracker: BPF
 * records (bpf/proc.h) with their bounds checks, iterator streams,
 * /proc/<pid>/stat and status parsing, proc connector messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <sys/sysmacros.h>

#include "kwid/tracker.h"
#include "proc.h"

/* An exec record with the given strings, in a malloc'd buffer. */
static size_t make_exec(uint8_t **out, uint16_t type, const char *filename, const char *interp, const char *path)
{
	size_t fl = filename ? strlen(filename) + 1 : 0, il = interp ? strlen(interp) + 1 : 0,
	       pl = path ? strlen(path) + 1 : 0, len = sizeof(struct kwid_ev_exec) + fl + il + pl;
	struct kwid_ev_exec *r = calloc(1, len);

	r->hdr.type = type;
	r->hdr.size = (uint32_t)len;
	r->hdr.ts = 12345;
	r->task.tgid = 42;
	r->task.ppid = 7;
	r->task.start_ns = 1000000123;
	r->task.exec_seq = 3;
	r->task.uid = 1000;
	r->task.euid = 1001;
	r->task.gid = 100;
	r->task.egid = 101;
	r->task.mnt_ns = 4026531840u;
	r->task.cgroup_id = 77;
	r->cgroup_v1[4] = 99;
	memcpy(r->task.comm, "0123456789abcdefXX", 16); /* no NUL: must be terminated by the decoder */
	r->file.dev = (8u << 20) | 3u; /* kernel encoding of 8:3 */
	r->file.ino = 555;
	r->file.size = 4096;
	r->file.mtime_ns = 11;
	r->file.ctime_ns = 22;
	r->filename_len = (uint16_t)fl;
	r->interp_len = (uint16_t)il;
	r->path_len = (uint16_t)pl;
	if (filename)
		memcpy(r->strings, filename, fl);
	if (interp)
		memcpy(r->strings + fl, interp, il);
	if (path)
		memcpy(r->strings + fl + il, path, pl);
	*out = (uint8_t *)r;
	return len;
}

static void test_decode_exec(void **state)
{
	struct kwid_proc_event ev;
	uint8_t *rec;
	size_t len = make_exec(&rec, KWID_EV_EXEC, "./run.sh", "/bin/sh", NULL);

	assert_int_equal(proc_event_decode(rec, len, &ev), 0);
	assert_int_equal(ev.type, KWID_EVENT_EXEC);
	assert_int_equal(ev.tgid, 42);
	assert_int_equal(ev.ppid, 7);
	assert_true(ev.has_exec_seq);
	assert_int_equal(ev.exec_seq, 3);
	assert_int_equal(ev.creds.euid, 1001);
	assert_int_equal(ev.creds.egid, 101);
	assert_int_equal(ev.cgroup_v1[4], 99);
	assert_string_equal(ev.comm, "0123456789abcde");
	assert_int_equal(major((dev_t)ev.file.dev), 8);
	assert_int_equal(minor((dev_t)ev.file.dev), 3);
	assert_int_equal(ev.file.ino, 555);
	assert_string_equal(ev.filename, "./run.sh");
	assert_string_equal(ev.interp, "/bin/sh");
	assert_null(ev.path);
	/* ring buffer records are padded: extra bytes after hdr.size are fine */
	rec = realloc(rec, len + 5);
	assert_int_equal(proc_event_decode(rec, len + 5, &ev), 0);
	free(rec);
}

static void test_decode_rejects_malformed(void **state)
{
	struct kwid_proc_event ev;
	uint8_t *rec;
	size_t len = make_exec(&rec, KWID_EV_EXEC, "/bin/true", NULL, NULL);
	struct kwid_ev_exec *r = (struct kwid_ev_exec *)rec;

	/* truncated */
	assert_int_equal(proc_event_decode(rec, len - 1, &ev), -EBADMSG);
	assert_int_equal(proc_event_decode(rec, 4, &ev), -EBADMSG);
	assert_int_equal(proc_event_decode(NULL, 0, &ev), -EBADMSG);
	/* string lengths that do not add up */
	r->filename_len++;
	assert_int_equal(proc_event_decode(rec, len, &ev), -EBADMSG);
	r->filename_len--;
	/* a string without its NUL, and one with an early NUL */
	r->strings[r->filename_len - 1] = 'x';
	assert_int_equal(proc_event_decode(rec, len, &ev), -EBADMSG);
	r->strings[r->filename_len - 1] = '\0';
	r->strings[2] = '\0';
	assert_int_equal(proc_event_decode(rec, len, &ev), -EBADMSG);
	r->strings[2] = 'i';
	assert_int_equal(proc_event_decode(rec, len, &ev), 0);
	/* unknown type, size smaller than a header */
	r->hdr.type = 99;
	assert_int_equal(proc_event_decode(rec, len, &ev), -EBADMSG);
	r->hdr.type = KWID_EV_EXEC;
	r->hdr.size = 3;
	assert_int_equal(proc_event_decode(rec, len, &ev), -EBADMSG);
	free(rec);
}

static void test_decode_fixed_records(void **state)
{
	struct kwid_ev_fork f = {.hdr = {.type = KWID_EV_FORK, .size = sizeof(f), .ts = 9}};
	struct kwid_ev_exit x = {.hdr = {.type = KWID_EV_EXIT, .size = sizeof(x)}};
	struct kwid_ev_cgroup c = {.hdr = {.type = KWID_EV_CGROUP, .size = sizeof(c)}};
	struct kwid_proc_event ev;

	f.task.tgid = 10;
	f.creator_tgid = 9;
	f.creator_start_ns = 5;
	assert_int_equal(proc_event_decode(&f, sizeof(f), &ev), 0);
	assert_int_equal(ev.type, KWID_EVENT_FORK);
	assert_int_equal(ev.creator_tgid, 9);
	assert_false(ev.has_file);
	x.tgid = 10;
	x.exit_code = 256;
	x.start_ns = 77;
	assert_int_equal(proc_event_decode(&x, sizeof(x), &ev), 0);
	assert_int_equal(ev.type, KWID_EVENT_EXIT);
	assert_int_equal(ev.exit_code, 256);
	assert_int_equal(ev.start_ns, 77);
	c.tgid = 10;
	c.dst_hierarchy = 9;
	c.dst_cgroup_id = 1234;
	assert_int_equal(proc_event_decode(&c, sizeof(c), &ev), 0);
	assert_int_equal(ev.dst_hierarchy, 9);
	assert_int_equal(ev.dst_cgroup_id, 1234);
	/* fixed-size records must have exactly their size */
	f.hdr.size = sizeof(f) - 8;
	assert_int_equal(proc_event_decode(&f, sizeof(f), &ev), -EBADMSG);
}

static int count_scan(void *ud, const struct kwid_proc_event *ev)
{
	assert_int_equal(ev->type, KWID_EVENT_SCAN);
	assert_non_null(ev->path);
	(*(int *)ud)++;
	return 0;
}

static void test_split_stream(void **state)
{
	uint8_t *a, *b, *stream;
	size_t la = make_exec(&a, KWID_EV_SCAN, NULL, NULL, "/usr/bin/a"),
	       lb = make_exec(&b, KWID_EV_SCAN, NULL, NULL, "/opt/odd length/b (deleted)");
	int n = 0;

	/* iterator records are back to back, not aligned */
	stream = malloc(la + lb);
	memcpy(stream, a, la);
	memcpy(stream + la, b, lb);
	assert_int_equal(proc_event_split(stream, la + lb, count_scan, &n), 2);
	assert_int_equal(n, 2);
	/* a torn stream is refused */
	assert_int_equal(proc_event_split(stream, la + lb - 1, count_scan, &n), -EBADMSG);
	free(a);
	free(b);
	free(stream);
}

static void test_strip_deleted(void **state)
{
	char p1[] = "/tmp/x (deleted)", p2[] = "/tmp/x", p3[] = " (deleted)";

	assert_true(path_strip_deleted(p1));
	assert_string_equal(p1, "/tmp/x");
	assert_false(path_strip_deleted(p2));
	assert_false(path_strip_deleted(p3)); /* nothing left: not a path */
}

static void test_parse_stat(void **state)
{
	/* comm chosen by the process: spaces and parentheses */
	const char *text = "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 "
			   "1000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
	struct proc_stat_info si;

	assert_int_equal(proc_parse_stat(text, strlen(text), &si), 0);
	assert_string_equal(si.comm, "a) b (c");
	assert_int_equal(si.state, 'S');
	assert_int_equal(si.ppid, 1);
	assert_int_equal(si.flags, 4194560);
	assert_int_equal(si.starttime_ticks, 98765);
	assert_int_equal(proc_parse_stat("1234 (x", 7, &si), -EBADMSG);
	assert_int_equal(proc_parse_stat("1234 (x) S 1 2", 14, &si), -EBADMSG);
	assert_int_equal(proc_parse_stat(")(", 2, &si), -EBADMSG);
}

static void test_parse_status(void **state)
{
	const char *text = "Name:\tx\nUmask:\t0022\nUid:\t1000\t1001\t1002\t1003\nGid:\t10\t11\t12\t13\n";
	struct kwid_creds c;

	assert_int_equal(proc_parse_status_ids(text, &c), 0);
	assert_int_equal(c.uid, 1000);
	assert_int_equal(c.fsuid, 1003);
	assert_int_equal(c.egid, 11);
	assert_int_equal(proc_parse_status_ids("Uid:\t1\t2\n", &c), -EBADMSG);
	/* "Uid:" must start a line */
	assert_int_equal(proc_parse_status_ids("XUid:\t1\t2\t3\t4\nGid:\t1\t2\t3\t4\n", &c), -EBADMSG);
}

static int collect_cn(void *ud, const struct cn_event *ev)
{
	memcpy(ud, ev, sizeof(*ev));
	return 0;
}

static void test_cn_parse(void **state)
{
	uint8_t buf[256] __attribute__((aligned(8))) = {0};
	struct nlmsghdr *nl = (struct nlmsghdr *)buf;
	struct cn_msg *cn = (struct cn_msg *)NLMSG_DATA(nl);
	struct proc_event pe = {0};
	struct cn_event got = {0};

	pe.what = PROC_EVENT_FORK;
	pe.event_data.fork.parent_tgid = 1;
	pe.event_data.fork.child_pid = 50;
	pe.event_data.fork.child_tgid = 50;
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->len = sizeof(pe);
	memcpy(cn->data, &pe, sizeof(pe));
	nl->nlmsg_len = NLMSG_LENGTH(sizeof(*cn) + sizeof(pe));
	nl->nlmsg_type = NLMSG_DONE;
	assert_int_equal(cn_parse(buf, nl->nlmsg_len, collect_cn, &got), 1);
	assert_int_equal(got.kind, CN_FORK);
	assert_int_equal(got.tgid, 50);
	assert_int_equal(got.parent_tgid, 1);
	/* cn.len beyond the message */
	cn->len = 200;
	assert_int_equal(cn_parse(buf, nl->nlmsg_len, collect_cn, &got), -EBADMSG);
	cn->len = sizeof(pe);
	/* nlmsg_len beyond the datagram */
	assert_int_equal(cn_parse(buf, nl->nlmsg_len - 1, collect_cn, &got), -EBADMSG);
	/* another connector's message is ignored, not an error */
	cn->id.idx = CN_IDX_PROC + 1;
	assert_int_equal(cn_parse(buf, nl->nlmsg_len, collect_cn, &got), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_exec),
		cmocka_unit_test(test_decode_rejects_malformed),
		cmocka_unit_test(test_decode_fixed_records),
		cmocka_unit_test(test_split_stream),
		cmocka_unit_test(test_strip_deleted),
		cmocka_unit_test(test_parse_stat),
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_cn_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
