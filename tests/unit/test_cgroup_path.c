/* test_cgroup_path.c - the cgroup path grammar as a table: every runtime
 * layout (systemd and cgroupfs drivers), systemd units and slices, and
 * malformed and hostile paths; then whole /proc/<pid>/cgroup texts on
 * hybrid, v1 and v2 layouts, including injected lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kwid/cgroup_path.h"
#include "kwid/util.h"

#define ID1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define UPPER "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "4d5e6f70-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
#define UID_ "4d5e6f70_1a2b_4c3d_8e9f_0a1b2c3d4e5f"
#define STATIC_UID "6b8e2ef2d9e8c7a5f2a1b3c4d5e6f708"

enum { OK, CONTAINER_REFUSED, INVALID };

struct path_case {
	const char *path;
	int outcome;
	enum kwid_runtime runtime;
	const char *id;
	const char *pod;
	enum kwid_k8s_qos qos;
	bool conmon;
	const char *unit;
	const char *slice;
	const char *user_unit;
};

static const struct path_case cases[] = {
	/* Docker */
	{"/system.slice/docker-" ID1 ".scope", OK, KWID_RUNTIME_DOCKER, ID1, "", 0, false, "docker-" ID1 ".scope", "system.slice", ""},
	{"/docker/" ID1, OK, KWID_RUNTIME_DOCKER, ID1, "", 0, false, "", "", ""},
	{"/system.slice/docker-" ID1 ".scope/init.scope", OK, KWID_RUNTIME_DOCKER, ID1, "", 0, false, "docker-" ID1 ".scope", "system.slice", ""},
	{"/docker/" ID1 "/docker/" ID1, OK, KWID_RUNTIME_DOCKER, ID1, "", 0, false, "", "", ""},
	/* Kubernetes, systemd driver: containerd, CRI-O, cri-dockerd */
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/cri-containerd-" ID1 ".scope",
	 OK, KWID_RUNTIME_CONTAINERD, ID1, UID, KWID_QOS_BURSTABLE, false, "cri-containerd-" ID1 ".scope", "kubepods-burstable-pod" UID_ ".slice", ""},
	{"/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID1 ".scope",
	 OK, KWID_RUNTIME_CRIO, ID1, UID, KWID_QOS_GUARANTEED, false, "crio-" ID1 ".scope", "kubepods-pod" UID_ ".slice", ""},
	{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/docker-" ID1 ".scope",
	 OK, KWID_RUNTIME_DOCKER, ID1, UID, KWID_QOS_BESTEFFORT, false, "docker-" ID1 ".scope", "kubepods-besteffort-pod" UID_ ".slice", ""},
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/crio-conmon-" ID1 ".scope",
	 OK, KWID_RUNTIME_CRIO, ID1, UID, KWID_QOS_BURSTABLE, true, "crio-conmon-" ID1 ".scope", "kubepods-burstable-pod" UID_ ".slice", ""},
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" STATIC_UID ".slice/cri-containerd-" ID1 ".scope",
	 OK, KWID_RUNTIME_CONTAINERD, ID1, STATIC_UID, KWID_QOS_BURSTABLE, false, "cri-containerd-" ID1 ".scope", "kubepods-burstable-pod" STATIC_UID ".slice", ""},
	{"/kubepods.slice/kubepods-burstable.slice", OK, 0, "", "", KWID_QOS_BURSTABLE, false, "", "kubepods-burstable.slice", ""},
	/* Kubernetes, cgroupfs driver */
	{"/kubepods/burstable/pod" UID "/" ID1, OK, KWID_RUNTIME_UNKNOWN, ID1, UID, KWID_QOS_BURSTABLE, false, "", "", ""},
	{"/kubepods/pod" UID "/" ID1, OK, KWID_RUNTIME_UNKNOWN, ID1, UID, KWID_QOS_GUARANTEED, false, "", "", ""},
	{"/kubepods/besteffort/pod" UID "/crio-" ID1, OK, KWID_RUNTIME_CRIO, ID1, UID, KWID_QOS_BESTEFFORT, false, "", "", ""},
	{"/kubepods/burstable/pod" UID "/crio-conmon-" ID1, OK, KWID_RUNTIME_CRIO, ID1, UID, KWID_QOS_BURSTABLE, true, "", "", ""},
	{"/kubepods/burstable/pod" STATIC_UID "/" ID1, OK, KWID_RUNTIME_UNKNOWN, ID1, STATIC_UID, KWID_QOS_BURSTABLE, false, "", "", ""},
	{"/kubepods/burstable/pod" UID, OK, 0, "", UID, KWID_QOS_BURSTABLE, false, "", "", ""},
	{"/kubepods/burstable", OK, 0, "", "", 0, false, "", "", ""},
	/* Podman, CRI-O and nerdctl outside Kubernetes */
	{"/machine.slice/libpod-" ID1 ".scope", OK, KWID_RUNTIME_PODMAN, ID1, "", 0, false, "libpod-" ID1 ".scope", "machine.slice", ""},
	{"/machine.slice/libpod-conmon-" ID1 ".scope", OK, KWID_RUNTIME_PODMAN, ID1, "", 0, true, "libpod-conmon-" ID1 ".scope", "machine.slice", ""},
	{"/machine.slice/machine-libpod_pod_" ID2 ".slice/libpod-" ID1 ".scope", OK, KWID_RUNTIME_PODMAN, ID1, "", 0, false, "libpod-" ID1 ".scope", "machine-libpod_pod_" ID2 ".slice", ""},
	{"/libpod_parent/libpod-" ID1, OK, KWID_RUNTIME_PODMAN, ID1, "", 0, false, "", "", ""},
	{"/system.slice/crio-" ID1 ".scope", OK, KWID_RUNTIME_CRIO, ID1, "", 0, false, "crio-" ID1 ".scope", "system.slice", ""},
	{"/system.slice/nerdctl-" ID1 ".scope", OK, KWID_RUNTIME_CONTAINERD, ID1, "", 0, false, "nerdctl-" ID1 ".scope", "system.slice", ""},
	/* systemd units and slices, no container */
	{"/system.slice/sshd.service", OK, 0, "", "", 0, false, "sshd.service", "system.slice", ""},
	{"/system.slice/system-getty.slice/getty@tty1.service", OK, 0, "", "", 0, false, "getty@tty1.service", "system-getty.slice", ""},
	{"/user.slice/user-1000.slice/session-3.scope", OK, 0, "", "", 0, false, "session-3.scope", "user-1000.slice", ""},
	{"/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope", OK, 0, "", "", 0, false, "user@1000.service", "user-1000.slice", "x.scope"},
	{"/user.slice/user-1000.slice/user@1000.service/init.scope", OK, 0, "", "", 0, false, "user@1000.service", "user-1000.slice", "init.scope"},
	{"/system.slice/foo.service/" ID2, OK, 0, "", "", 0, false, "foo.service", "system.slice", ""},
	{"/init.scope", OK, 0, "", "", 0, false, "init.scope", "-.slice", ""},
	{"/", OK, 0, "", "", 0, false, "", "", ""},
	{"/process_api/c015b4efe12142431798e2bd5c0a81f0", OK, 0, "", "", 0, false, "", "", ""},
	{"/system.slice/my service.service", OK, 0, "", "", 0, false, "my service.service", "system.slice", ""},

	/* Container claims refused; the rest of the path still reads */
	{"/system.slice/docker-" ID1 ".scope/docker-" ID2 ".scope", CONTAINER_REFUSED, 0, "", "", 0, false, "docker-" ID1 ".scope", "system.slice", ""},
	{"/system.slice/docker-" ID1 ".scope/" ID2, CONTAINER_REFUSED, 0, "", "", 0, false, "docker-" ID1 ".scope", "system.slice", ""},
	{"/docker/" ID1 "/docker/" ID2, CONTAINER_REFUSED, 0, "", "", 0, false, "", "", ""},
	{"/docker/" ID1 "/libpod-conmon-" ID1, CONTAINER_REFUSED, 0, "", "", 0, false, "", "", ""},
	{"/system.slice/docker-xyz.scope", CONTAINER_REFUSED, 0, "", "", 0, false, "docker-xyz.scope", "system.slice", ""},
	{"/system.slice/docker-" UPPER ".scope", CONTAINER_REFUSED, 0, "", "", 0, false, "docker-" UPPER ".scope", "system.slice", ""},
	{"/system.slice/docker-" ID1 "ab.scope", CONTAINER_REFUSED, 0, "", "", 0, false, "docker-" ID1 "ab.scope", "system.slice", ""},
	{"/system.slice/cri-containerd-" ID1 "0.scope", CONTAINER_REFUSED, 0, "", "", 0, false, "cri-containerd-" ID1 "0.scope", "system.slice", ""},
	{"/docker/abc", CONTAINER_REFUSED, 0, "", "", 0, false, "", "", ""},
	{"/docker/" UPPER, CONTAINER_REFUSED, 0, "", "", 0, false, "", "", ""},
	{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID1 ".scope", CONTAINER_REFUSED, 0, "", "", 0, false, "user@1000.service", "user-1000.slice", "libpod-" ID1 ".scope"},
	{"/user.slice/user-1000.slice/user@1000.service/app.slice/docker-" ID1 ".scope", CONTAINER_REFUSED, 0, "", "", 0, false, "user@1000.service", "user-1000.slice", "docker-" ID1 ".scope"},
	{"/machine.slice/systemd-nspawn@x.service/payload/system.slice/docker-" ID1 ".scope", CONTAINER_REFUSED, 0, "", "", 0, false, "systemd-nspawn@x.service", "machine.slice", ""},
	{"/system.slice/foo.service/kubepods/burstable/pod" UID "/" ID1, CONTAINER_REFUSED, 0, "", "", 0, false, "foo.service", "system.slice", ""},
	{"/system.slice/docker-" ID1 ".scope/kubepods/pod" UID "/" ID2, CONTAINER_REFUSED, 0, "", "", 0, false, "docker-" ID1 ".scope", "system.slice", ""},
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podBAD.slice/cri-containerd-" ID1 ".scope", CONTAINER_REFUSED, 0, "", "", 0, false, "cri-containerd-" ID1 ".scope", "kubepods-burstable-podBAD.slice", ""},
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID ".slice/cri-containerd-" ID1 ".scope", CONTAINER_REFUSED, 0, "", "", 0, false, "cri-containerd-" ID1 ".scope", "kubepods-burstable-pod" UID ".slice", ""},
	{"/kubepods/burstable/pod" UID_ "/" ID1, CONTAINER_REFUSED, 0, "", "", 0, false, "", "", ""},
	{"/kubepods/burstable/pod" UID "/notanid", CONTAINER_REFUSED, 0, "", "", 0, false, "", "", ""},
	{"/kubepods/burstable/pod" UID "/libpod-" ID1, CONTAINER_REFUSED, 0, "", "", 0, false, "", "", ""},
	{"/kubepods/burstable/pod" UID "/" ID1 "/" ID2, CONTAINER_REFUSED, 0, "", "", 0, false, "", "", ""},
	{"/libpod_parent/docker-" ID1, CONTAINER_REFUSED, 0, "", "", 0, false, "", "", ""},

	/* Malformed or hostile: refused as a whole */
	{"", INVALID},
	{"system.slice/sshd.service", INVALID},
	{"/system.slice//sshd.service", INVALID},
	{"/system.slice/docker-" ID1 ".scope/", INVALID},
	{"/system.slice/../docker/" ID1, INVALID},
	{"/./docker/" ID1, INVALID},
	{"/docker/" ID1 "/..", INVALID},
	{"/system.slice/a\tb.service", INVALID},
	{"/system.slice/a\x7f.service", INVALID},
	{"/kubepods-burstable.slice/x.service", INVALID},
	{"/system.slice/user-1000.slice/x.service", INVALID},
	{"/kubepods.slice/kubepods-pod" UID_ ".slice/kubepods-pod" UID_ ".slice/crio-" ID1 ".scope", INVALID},
};

static void check_case(const struct path_case *c)
{
	struct kwid_cgroup_path_info info;
	const char *why = NULL;
	int r = cgroup_path_parse(c->path, &info, &why);

	if (c->outcome == INVALID) {
		if (r != -EINVAL)
			fail_msg("'%s' accepted, expected refusal", c->path);
		assert_non_null(why);
		return;
	}
	if (r != 0)
		fail_msg("'%s' refused: %s", c->path, why);
	if (c->outcome == CONTAINER_REFUSED) {
		if (info.container_error != -EINVAL)
			fail_msg("'%s': container claim accepted (id '%s')", c->path, info.container_id);
		assert_non_null(info.container_why);
	} else if (info.container_error) {
		fail_msg("'%s': container refused: %s", c->path, info.container_why);
	}
	if (info.runtime != c->runtime || !streq(info.container_id, c->id) || !streq(info.pod_uid, c->pod) ||
	    info.qos != c->qos || info.conmon != c->conmon)
		fail_msg("'%s': got runtime %d id '%s' pod '%s' qos %d conmon %d", c->path, info.runtime,
			 info.container_id, info.pod_uid, info.qos, info.conmon);
	if (!streq(info.unit, c->unit) || !streq(info.slice, c->slice) || !streq(info.user_unit, c->user_unit))
		fail_msg("'%s': got unit '%s' slice '%s' user_unit '%s'", c->path, info.unit, info.slice,
			 info.user_unit);
}

static void test_path_table(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_case(&cases[i]);
}

static void test_path_bounds(void **state)
{
	struct kwid_cgroup_path_info info;
	char buf[KWID_CGROUP_PATH_MAX + 16];
	const char *why;

	/* a 255-byte component is fine, 256 is not */
	buf[0] = '/';
	memset(buf + 1, 'a', 255);
	buf[256] = '\0';
	assert_int_equal(cgroup_path_parse(buf, &info, &why), 0);
	memset(buf + 1, 'a', 256);
	buf[257] = '\0';
	assert_int_equal(cgroup_path_parse(buf, &info, &why), -EINVAL);

	/* 4096 bytes in total is fine, 4097 is not */
	for (size_t i = 0; i < KWID_CGROUP_PATH_MAX; i += 16)
		memcpy(buf + i, "/aaaaaaaaaaaaaaa", 16);
	buf[KWID_CGROUP_PATH_MAX] = '\0';
	assert_int_equal(cgroup_path_parse(buf, &info, &why), 0);
	buf[KWID_CGROUP_PATH_MAX] = 'b';
	buf[KWID_CGROUP_PATH_MAX + 1] = '\0';
	assert_int_equal(cgroup_path_parse(buf, &info, &why), -EINVAL);

	/* deeper than 256 levels */
	for (size_t i = 0; i < 257; i++)
		memcpy(buf + 2 * i, "/a", 2);
	buf[2 * 257] = '\0';
	assert_int_equal(cgroup_path_parse(buf, &info, &why), -EINVAL);
	assert_int_equal(cgroup_path_parse(NULL, &info, &why), -EINVAL);
}

/* This machine's kind: v1 controllers plus the unified hierarchy. */
#define HYBRID_LAYOUT                                                                     \
	"9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n4:memory:/\n" \
	"3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n"

static void hybrid_text(char *out, size_t len, const char *systemd, const char *memory, const char *cpu,
			const char *unified)
{
	snprintf(out, len,
		 "9:name=systemd:%s\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n4:memory:%s\n"
		 "3:cpuset:/\n2:cpuacct:/\n1:cpu:%s\n0::%s\n",
		 systemd, memory, cpu, unified);
}

static void test_layout(void **state)
{
	struct kwid_cgroup_layout l;
	const char *why;

	assert_int_equal(cgroup_layout_parse(HYBRID_LAYOUT, &l, &why), 0);
	assert_int_equal(l.n, 10);
	assert_string_equal(l.h[0].controllers, "name=systemd");
	assert_string_equal(l.h[9].controllers, "");
	assert_int_equal(cgroup_layout_parse("0::/\n0::/\n", &l, &why), -EINVAL);
	assert_int_equal(cgroup_layout_parse("", &l, &why), -EINVAL);
	/* the agent's own view of this host parses */
	assert_int_equal(cgroup_layout_read(&l), 0);
	assert_true(l.n >= 1);
}

static void test_membership(void **state)
{
	struct kwid_cgroup_layout hybrid, v2;
	struct kwid_cgroup_membership m;
	char text[8192];
	const char *why = NULL;
	const char *docker = "/system.slice/docker-" ID1 ".scope";
	const char *k8s_sd = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
			     ".slice/cri-containerd-" ID1 ".scope";

	assert_int_equal(cgroup_layout_parse(HYBRID_LAYOUT, &hybrid, &why), 0);
	assert_int_equal(cgroup_layout_parse("0::/\n", &v2, &why), 0);

	/* hybrid, systemd driver: unified and name=systemd agree */
	hybrid_text(text, sizeof(text), docker, docker, docker, docker);
	assert_int_equal(cgroup_membership_parse(text, &hybrid, &m, &why), 0);
	assert_int_equal(m.info.runtime, KWID_RUNTIME_DOCKER);
	assert_string_equal(m.info.container_id, ID1);
	assert_string_equal(m.path, docker);
	assert_string_equal(m.source, "unified");
	assert_string_equal(m.info.unit, "docker-" ID1 ".scope");

	/* only the unified hierarchy knows the container (tests on this host) */
	hybrid_text(text, sizeof(text), "/", "/process_api/c015b4efe12142431798e2bd5c0a81f0", "/", docker);
	assert_int_equal(cgroup_membership_parse(text, &hybrid, &m, &why), 0);
	assert_string_equal(m.info.container_id, ID1);
	assert_string_equal(m.source, "unified");

	/* the unified line says nothing: the informative v1 line is trusted */
	hybrid_text(text, sizeof(text), "/docker/" ID1, "/docker/" ID1, "/docker/" ID1, "/");
	assert_int_equal(cgroup_membership_parse(text, &hybrid, &m, &why), 0);
	assert_string_equal(m.source, "name=systemd");
	assert_string_equal(m.path, "/docker/" ID1);
	assert_int_equal(m.info.runtime, KWID_RUNTIME_DOCKER);

	/* among v1 controllers, the one placing the process in a container */
	hybrid_text(text, sizeof(text), "/", "/process_api/c015b4efe12142431798e2bd5c0a81f0", "/docker/" ID1, "/");
	assert_int_equal(cgroup_membership_parse(text, &hybrid, &m, &why), 0);
	assert_string_equal(m.source, "cpu");
	assert_string_equal(m.path, "/docker/" ID1);

	/* cgroupfs v1 id (runtime unknown) refined by the systemd-driver line */
	hybrid_text(text, sizeof(text), "/", "/kubepods/burstable/pod" UID "/" ID1, "/kubepods/burstable/pod" UID "/" ID1, k8s_sd);
	assert_int_equal(cgroup_membership_parse(text, &hybrid, &m, &why), 0);
	assert_int_equal(m.info.container_error, 0);
	assert_int_equal(m.info.runtime, KWID_RUNTIME_CONTAINERD);
	assert_string_equal(m.info.pod_uid, UID);
	assert_int_equal(m.info.qos, KWID_QOS_BURSTABLE);

	/* hierarchies disagreeing about the container: refused */
	hybrid_text(text, sizeof(text), docker, "/docker/" ID2, "/", docker);
	assert_int_equal(cgroup_membership_parse(text, &hybrid, &m, &why), 0);
	assert_int_equal(m.info.container_error, -EINVAL);
	assert_string_equal(m.info.container_id, "");
	assert_string_equal(m.info.unit, "docker-" ID1 ".scope");
	hybrid_text(text, sizeof(text), "/", "/kubepods/burstable/pod" UID "/crio-" ID1, "/", docker);
	assert_int_equal(cgroup_membership_parse(text, &hybrid, &m, &why), 0);
	assert_int_equal(m.info.container_error, -EINVAL);

	/* a line of one hierarchy refused refuses the whole container */
	hybrid_text(text, sizeof(text), "/", "/docker/" ID1 "/docker/" ID2, "/", docker);
	assert_int_equal(cgroup_membership_parse(text, &hybrid, &m, &why), 0);
	assert_int_equal(m.info.container_error, -EINVAL);

	/* a malformed path in any hierarchy refuses the membership */
	hybrid_text(text, sizeof(text), "/", "/a/../b", "/", docker);
	assert_int_equal(cgroup_membership_parse(text, &hybrid, &m, &why), -EINVAL);

	/* injection: a delegated user names a cgroup "x\n9:name=systemd:/docker/<id>" */
	hybrid_text(text, sizeof(text), "/", "/", "/",
		    "/user.slice/user-1000.slice/user@1000.service/x\n9:name=systemd:/docker/" ID1);
	assert_int_equal(cgroup_membership_parse(text, &hybrid, &m, &why), -EINVAL);
	/* ...and on a pure v2 host, where only a new hierarchy id is left */
	snprintf(text, sizeof(text), "0::/user.slice/user-1000.slice/user@1000.service/x\n1:cpu:/docker/%s\n", ID1);
	assert_int_equal(cgroup_membership_parse(text, &v2, &m, &why), -EINVAL);
	/* without a layout, duplicates are still caught */
	snprintf(text, sizeof(text), "0::/user.slice/user-1000.slice/user@1000.service/x\n0::/docker/%s\n", ID1);
	assert_int_equal(cgroup_membership_parse(text, NULL, &m, &why), -EINVAL);

	/* the host's hierarchies exactly: missing, extra, renamed */
	assert_int_equal(cgroup_membership_parse("0::/\n", &hybrid, &m, &why), -EINVAL);
	assert_int_equal(cgroup_membership_parse("0::/\n1:cpu:/\n", &v2, &m, &why), -EINVAL);
	hybrid_text(text, sizeof(text), "/", "/", "/", "/");
	text[2] = 'x'; /* "9:xame=systemd" */
	assert_int_equal(cgroup_membership_parse(text, &hybrid, &m, &why), -EINVAL);

	/* pure v2 */
	assert_int_equal(cgroup_membership_parse("0::/system.slice/crio-" ID1 ".scope\n", &v2, &m, &why), 0);
	assert_int_equal(m.info.runtime, KWID_RUNTIME_CRIO);
	/* pure v1 (no unified line) */
	assert_int_equal(cgroup_membership_parse("2:name=systemd:/docker/" ID1 "\n1:cpu:/docker/" ID1 "\n", NULL, &m, &why), 0);
	assert_int_equal(m.info.runtime, KWID_RUNTIME_DOCKER);
	assert_string_equal(m.source, "name=systemd");

	/* malformed texts */
	assert_int_equal(cgroup_membership_parse("", NULL, &m, &why), -EINVAL);
	assert_int_equal(cgroup_membership_parse("0::/", NULL, &m, &why), -EINVAL);
	assert_int_equal(cgroup_membership_parse("junk\n", NULL, &m, &why), -EINVAL);
	assert_int_equal(cgroup_membership_parse("x::/\n", NULL, &m, &why), -EINVAL);
	assert_int_equal(cgroup_membership_parse("0:CPU:/\n", NULL, &m, &why), -EINVAL);
	assert_int_equal(cgroup_membership_parse("0::relative\n", NULL, &m, &why), -EINVAL);
	/* an agent inside a cgroup namespace sees "/.." for outside paths */
	assert_int_equal(cgroup_membership_parse("0::/../../system.slice/x.service\n", NULL, &m, &why), -EINVAL);
	assert_int_equal(cgroup_membership_parse(NULL, NULL, &m, &why), -EINVAL);
}

/* Whole /proc/<pid>/cgroup texts as each layout records them, for each
 * runtime and driver, read by the agent in the initial cgroup namespace.
 * Pure v1 hosts (systemd "legacy") still list the empty unified line
 * "0::/" since 4.5; pure v2 hosts list only it. */
#define V1_LAYOUT                                                                          \
	"12:name=systemd:/\n11:pids:/\n10:memory:/\n9:cpu,cpuacct:/\n8:blkio:/\n7:devices:/\n" \
	"6:freezer:/\n5:net_cls,net_prio:/\n4:perf_event:/\n3:hugetlb:/\n2:cpuset:/\n1:rdma:/\n0::/\n"
#define V2_LAYOUT "0::/\n"

#define DOCKER_SD "/system.slice/docker-" ID1 ".scope"
#define K8S_SD "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/cri-containerd-" ID1 ".scope"
#define K8S_CFS "/kubepods/burstable/pod" UID "/" ID1
#define CRIO_SD "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/crio-" ID1 ".scope"

static void v1_text(char *out, size_t len, const char *systemd, const char *ctrl, const char *unified)
{
	snprintf(out, len,
		 "12:name=systemd:%s\n11:pids:%s\n10:memory:%s\n9:cpu,cpuacct:%s\n8:blkio:%s\n7:devices:%s\n"
		 "6:freezer:%s\n5:net_cls,net_prio:%s\n4:perf_event:%s\n3:hugetlb:/\n2:cpuset:%s\n1:rdma:/\n0::%s\n",
		 systemd, ctrl, ctrl, ctrl, ctrl, ctrl, ctrl, ctrl, ctrl, ctrl, unified);
}

struct layout_case {
	const char *name;
	const char *layout;	  /* /proc/self/cgroup of the agent */
	char text[4096];	  /* /proc/<pid>/cgroup of the workload */
	enum kwid_runtime runtime;
	const char *pod;
	const char *unit;
	const char *path;	  /* the trusted line's path */
};

static void test_layouts_by_runtime(void **state)
{
	static struct layout_case lc[16];
	size_t n = 0;

#define CASE(nm, lay, rt, pod_, unit_, path_) \
	lc[n++] = (struct layout_case){.name = nm, .layout = lay, .runtime = rt, .pod = pod_, .unit = unit_, .path = path_}
	/* pure v2: one line */
	CASE("v2 docker systemd", V2_LAYOUT, KWID_RUNTIME_DOCKER, "", "docker-" ID1 ".scope", DOCKER_SD);
	snprintf(lc[n - 1].text, sizeof(lc[0].text), "0::%s\n", DOCKER_SD);
	CASE("v2 containerd k8s", V2_LAYOUT, KWID_RUNTIME_CONTAINERD, UID, "cri-containerd-" ID1 ".scope", K8S_SD);
	snprintf(lc[n - 1].text, sizeof(lc[0].text), "0::%s\n", K8S_SD);
	CASE("v2 crio k8s", V2_LAYOUT, KWID_RUNTIME_CRIO, UID, "crio-" ID1 ".scope", CRIO_SD);
	snprintf(lc[n - 1].text, sizeof(lc[0].text), "0::%s\n", CRIO_SD);
	/* pure v1, systemd driver: name=systemd and every controller agree */
	CASE("v1 docker systemd", V1_LAYOUT, KWID_RUNTIME_DOCKER, "", "docker-" ID1 ".scope", DOCKER_SD);
	v1_text(lc[n - 1].text, sizeof(lc[0].text), DOCKER_SD, DOCKER_SD, "/");
	CASE("v1 containerd k8s systemd", V1_LAYOUT, KWID_RUNTIME_CONTAINERD, UID, "cri-containerd-" ID1 ".scope", K8S_SD);
	v1_text(lc[n - 1].text, sizeof(lc[0].text), K8S_SD, K8S_SD, "/");
	/* pure v1, cgroupfs driver: controllers say /docker/<id>, systemd
	 * leaves the container in the unit that started it */
	CASE("v1 docker cgroupfs", V1_LAYOUT, KWID_RUNTIME_DOCKER, "", "docker.service", "/system.slice/docker.service");
	v1_text(lc[n - 1].text, sizeof(lc[0].text), "/system.slice/docker.service", "/docker/" ID1, "/");
	CASE("v1 k8s cgroupfs", V1_LAYOUT, KWID_RUNTIME_UNKNOWN, UID, "kubelet.service", "/system.slice/kubelet.service");
	v1_text(lc[n - 1].text, sizeof(lc[0].text), "/system.slice/kubelet.service", K8S_CFS, "/");
	/* hybrid: v1 controllers plus the unified hierarchy */
	CASE("hybrid docker systemd", HYBRID_LAYOUT, KWID_RUNTIME_DOCKER, "", "docker-" ID1 ".scope", DOCKER_SD);
	hybrid_text(lc[n - 1].text, sizeof(lc[0].text), DOCKER_SD, DOCKER_SD, DOCKER_SD, DOCKER_SD);
	CASE("hybrid k8s systemd", HYBRID_LAYOUT, KWID_RUNTIME_CONTAINERD, UID, "cri-containerd-" ID1 ".scope", K8S_SD);
	hybrid_text(lc[n - 1].text, sizeof(lc[0].text), K8S_SD, K8S_SD, K8S_SD, K8S_SD);
	CASE("hybrid docker cgroupfs", HYBRID_LAYOUT, KWID_RUNTIME_DOCKER, "", "docker.service", "/system.slice/docker.service");
	hybrid_text(lc[n - 1].text, sizeof(lc[0].text), "/system.slice/docker.service", "/docker/" ID1,
		    "/docker/" ID1, "/system.slice/docker.service");
#undef CASE

	for (size_t i = 0; i < n; i++) {
		struct kwid_cgroup_layout layout;
		struct kwid_cgroup_membership m;
		const char *why = NULL;

		print_message("layout case: %s\n", lc[i].name);
		assert_int_equal(cgroup_layout_parse(lc[i].layout, &layout, &why), 0);
		assert_int_equal(cgroup_membership_parse(lc[i].text, &layout, &m, &why), 0);
		assert_int_equal(m.info.container_error, 0);
		assert_string_equal(m.info.container_id, ID1);
		assert_int_equal(m.info.runtime, lc[i].runtime);
		assert_string_equal(m.info.pod_uid, lc[i].pod);
		assert_string_equal(m.info.unit, lc[i].unit);
		assert_string_equal(m.path, lc[i].path);
		/* the same text against another layout is refused: hierarchies
		 * are checked, not guessed */
		for (size_t j = 0; j < n; j++) {
			struct kwid_cgroup_layout other;
			if (streq(lc[j].layout, lc[i].layout))
				continue;
			assert_int_equal(cgroup_layout_parse(lc[j].layout, &other, &why), 0);
			assert_int_equal(cgroup_membership_parse(lc[i].text, &other, &m, &why), -EINVAL);
		}
	}
}

/* Read by an agent stuck in a cgroup namespace of its own (it could not
 * join the initial one), every path outside it starts with "/..": refused
 * on every layout, never parsed as if it were the host's name. */
static void test_layouts_from_a_cgroup_namespace(void **state)
{
	struct kwid_cgroup_layout v2, hybrid;
	struct kwid_cgroup_membership m;
	const char *why = NULL;
	char text[2048];

	assert_int_equal(cgroup_layout_parse(V2_LAYOUT, &v2, &why), 0);
	assert_int_equal(cgroup_layout_parse(HYBRID_LAYOUT, &hybrid, &why), 0);
	assert_int_equal(cgroup_membership_parse("0::/../.." DOCKER_SD "\n", &v2, &m, &why), -EINVAL);
	hybrid_text(text, sizeof(text), "/.." DOCKER_SD, "/", "/", "/../.." DOCKER_SD);
	assert_int_equal(cgroup_membership_parse(text, &hybrid, &m, &why), -EINVAL);
	/* a workload in its own cgroup namespace, read from the initial one:
	 * the full path, as any other (the namespace hides nothing from us) */
	assert_int_equal(cgroup_membership_parse("0::" DOCKER_SD "\n", &v2, &m, &why), 0);
	assert_string_equal(m.info.container_id, ID1);
}

static void test_oversized_text(void **state)
{
	struct kwid_cgroup_membership m;
	size_t len = KWID_CGROUP_TEXT_MAX + 10;
	char *text = malloc(len + 1);
	const char *why;

	assert_non_null(text);
	memset(text, '\n', len);
	text[len] = '\0';
	assert_int_equal(cgroup_membership_parse(text, NULL, &m, &why), -EINVAL);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_table),
		cmocka_unit_test(test_path_bounds),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_membership),
		cmocka_unit_test(test_layouts_by_runtime),
		cmocka_unit_test(test_layouts_from_a_cgroup_namespace),
		cmocka_unit_test(test_oversized_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
