/* test_attestors.c - each attestor on evidence built here: a process
 * table entry with its image and measurement, live ids, a parsed cgroup
 * membership, runtime state files in the runtimes' formats under
 * temporary roots, unit files in temporary unit directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <grp.h>

#include "fixtures_runtime.h"
#include "kwid/agent.h"
#include "kwid/attest.h"
#include "kwid/cgroup_path.h"
#include "kwid/config.h"
#include "kwid/measure.h"
#include "kwid/runtime_state.h"

extern const struct kwid_attestor kwid_attestor_unix, kwid_attestor_container, kwid_attestor_k8s,
	kwid_attestor_systemd, kwid_attestor_cgroup, kwid_attestor_lineage;

#define SHA_A "aaaa000000000000000000000000000000000000000000000000000000000001"
#define SHA_B "bbbb000000000000000000000000000000000000000000000000000000000002"

struct t {
	char root[64];
	struct kwid_agent agent;
	struct kwid_runtime_cache *rc;
	struct kwid_measurement m, sm;
	struct kwid_image img;
	struct kwid_proc proc;
	gid_t groups[4];
	struct kwid_cgroup_membership cg;
	char note[512];
	struct kwid_attest_ctx ctx;
	struct kwid_selector_set out;
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	char over[1024], dir[256];
	struct kwid_runtime_roots roots;
	char docker[128], containerd[128], crio[128], podman[128];
	json_object *o;
	_cleanup_free_ char *err = NULL;

	strcpy(t->root, "/tmp/kwid-att.XXXXXX");
	if (!t || !mkdtemp(t->root))
		return -1;
	snprintf(over, sizeof(over),
		 "{\"attestors\": {\"docker_env_allow\": [\"NGINX_VERSION\", \"MISSING\"], \"k8s_node_name\": \"node-1\","
		 " \"systemd_unit_dirs\": [\"%s/etc\", \"%s/lib\"]}}",
		 t->root, t->root);
	o = json_tokener_parse(over);
	if (config_load(NULL, o, &t->agent.cfg, &err) < 0) {
		fprintf(stderr, "config: %s\n", err);
		return -1;
	}
	json_object_put(o);
	snprintf(docker, sizeof(docker), "%s/docker", t->root);
	snprintf(containerd, sizeof(containerd), "%s/containerd", t->root);
	snprintf(crio, sizeof(crio), "%s/crio", t->root);
	snprintf(podman, sizeof(podman), "%s/podman", t->root);
	roots = (struct kwid_runtime_roots){docker, containerd, crio, podman};
	if (runtime_cache_new(&roots, 16, &t->rc) < 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/etc", t->root);
	mkdir_p(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/lib", t->root);
	mkdir_p(dir, 0755);

	t->m = (struct kwid_measurement){.state = KWID_MEASURE_DONE};
	strcpy(t->m.sha256_hex, SHA_A);
	t->img = (struct kwid_image){.path = "/usr/bin/web server", .measurement = &t->m};
	t->proc = (struct kwid_proc){.id = {.tgid = 4242, .start_ns = 1000, .exec_seq = 1}, .image = &t->img};
	t->proc.creds.euid = 1000; /* at exec; the live ids below win */
	t->groups[0] = 0;
	t->groups[1] = 4000000; /* no name */
	t->ctx = (struct kwid_attest_ctx){
		.agent = &t->agent,
		.proc = &t->proc,
		.creds = {.uid = 0, .euid = 0, .gid = 0, .egid = 0},
		.groups = t->groups,
		.ngroups = 2,
		.exe_unchanged = true,
		.runtimes = t->rc,
		.note = t->note,
		.note_size = sizeof(t->note),
	};
	selset_init(&t->out);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	char cmd[128];

	selset_clear(&t->out);
	runtime_cache_free(t->rc);
	config_free(t->agent.cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->root);
	(void)!system(cmd);
	free(t);
	return 0;
}

static void set_cgroup(struct t *t, const char *text)
{
	const char *why = NULL;
	int r = cgroup_membership_parse(text, NULL, &t->cg, &why);

	t->ctx.cgroup_text = text;
	t->ctx.cgroup = r == 0 ? &t->cg : NULL;
	t->ctx.cgroup_error = r;
	t->ctx.cgroup_why = why;
}

/* Run one attestor from init to fini; its selectors land in t->out. Like
 * the pipeline, a failure keeps none of them. */
static int run(struct t *t, const struct kwid_attestor *a)
{
	void *st = NULL;
	int r;

	selset_clear(&t->out);
	t->note[0] = '\0';
	if (a->init)
		assert_int_equal(a->init(&t->agent, &st), 0);
	r = a->attest(st, &t->ctx, &t->out);
	if (a->fini)
		a->fini(st);
	if (r < 0)
		selset_clear(&t->out);
	selset_sort(&t->out);
	return r;
}

static void expect(struct t *t, const char *sel)
{
	if (!selset_contains(&t->out, sel)) {
		for (size_t i = 0; i < t->out.n; i++)
			fprintf(stderr, "  have %s\n", t->out.v[i]);
		fail_msg("missing selector %s", sel);
	}
}

static void expect_not(struct t *t, const char *sel)
{
	if (selset_contains(&t->out, sel))
		fail_msg("unexpected selector %s", sel);
}

static void expect_none_of_type(struct t *t, const char *prefix)
{
	for (size_t i = 0; i < t->out.n; i++)
		if (startswith(t->out.v[i], prefix))
			fail_msg("unexpected selector %s", t->out.v[i]);
}

/* ---- unix ---- */

static void test_unix(void **state)
{
	struct t *t = *state;
	struct group *gr;

	assert_int_equal(run(t, &kwid_attestor_unix), 0);
	expect(t, "unix:uid:0");
	expect(t, "unix:user:root");
	expect(t, "unix:gid:0");
	expect(t, "unix:group:root");
	expect(t, "unix:supplementary_gid:0");
	expect(t, "unix:supplementary_group:root");
	expect(t, "unix:supplementary_gid:4000000");
	expect(t, "unix:path:/usr/bin/web%20server");
	expect(t, "unix:sha256:" SHA_A);
	expect_not(t, "unix:uid:1000"); /* the id at exec is not the live one */
	assert_null(getgrgid(4000000));
	for (size_t i = 0; i < t->out.n; i++)
		assert_false(startswith(t->out.v[i], "unix:supplementary_group:") &&
			     !streq(t->out.v[i], "unix:supplementary_group:root"));
	gr = getgrgid(0);
	assert_non_null(gr);

	/* the binary changed since exec: no digest, and the reason */
	t->ctx.exe_unchanged = false;
	assert_int_equal(run(t, &kwid_attestor_unix), 0);
	expect_none_of_type(t, "unix:sha256:");
	assert_non_null(strstr(t->note, "changed since exec"));
	/* a failed measurement: no digest */
	t->ctx.exe_unchanged = true;
	t->m.state = KWID_MEASURE_FAILED;
	t->m.error = -EFBIG;
	assert_int_equal(run(t, &kwid_attestor_unix), 0);
	expect_none_of_type(t, "unix:sha256:");
	assert_non_null(strstr(t->note, "failed"));

	/* a #! script: the interpreter's and the script's identities */
	t->m.state = KWID_MEASURE_DONE;
	t->sm = (struct kwid_measurement){.state = KWID_MEASURE_DONE};
	strcpy(t->sm.sha256_hex, SHA_B);
	t->img.script_path = "/opt/run.sh";
	t->img.script_measurement = &t->sm;
	assert_int_equal(run(t, &kwid_attestor_unix), 0);
	expect(t, "unix:sha256:" SHA_A);
	expect(t, "unix:script_path:/opt/run.sh");
	expect(t, "unix:script_sha256:" SHA_B);
}

/* ---- container ---- */

static void write_docker(struct t *t, const char *id)
{
	_cleanup_free_ char *json = fx_docker_config(id, "nginx:1.25", NULL);
	char rel[256];

	snprintf(rel, sizeof(rel), "docker/containers/%s/config.v2.json", id);
	assert_int_equal(fx_write(t->root, rel, json), 0);
}

static void test_container_docker(void **state)
{
	struct t *t = *state;

	write_docker(t, FX_ID1);
	set_cgroup(t, "0::/system.slice/docker-" FX_ID1 ".scope\n");
	assert_int_equal(run(t, &kwid_attestor_container), 0);
	expect(t, "container:id:" FX_ID1);
	expect(t, "container:runtime:docker");
	expect(t, "container:name:web");
	expect(t, "container:image_name:nginx:1.25");
	expect(t, "container:image_digest:sha256:" FX_IMG);
	expect(t, "docker:image_id:nginx:1.25");
	expect(t, "docker:image_config_digest:sha256:" FX_IMG);
	expect(t, "docker:label:app:web");
	expect(t, "docker:label:empty:");
	expect(t, "docker:label:maintainer:NGINX%20Docker%20Maintainers%20<docker-maint@nginx.com>");
	expect(t, "docker:env:NGINX_VERSION=1.25.4");
	expect_not(t, "docker:env:SECRET_TOKEN=hunter2"); /* only allow-listed variables */
	expect_not(t, "docker:env:PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin");

	/* cgroupfs driver, same container */
	set_cgroup(t, "0::/docker/" FX_ID1 "\n");
	assert_int_equal(run(t, &kwid_attestor_container), 0);
	expect(t, "docker:label:app:web");

	/* a container the runtime has no state for: id and runtime only */
	set_cgroup(t, "0::/system.slice/docker-" FX_ID2 ".scope\n");
	assert_int_equal(run(t, &kwid_attestor_container), 0);
	expect(t, "container:id:" FX_ID2);
	expect(t, "container:runtime:docker");
	expect_none_of_type(t, "docker:");
	assert_non_null(strstr(t->note, "image selectors left out"));

	/* not in a container, or a runtime monitor: nothing */
	set_cgroup(t, "0::/system.slice/sshd.service\n");
	assert_int_equal(run(t, &kwid_attestor_container), 0);
	assert_int_equal(t->out.n, 0);
	set_cgroup(t, "0::/machine.slice/libpod-conmon-" FX_ID1 ".scope\n");
	assert_int_equal(run(t, &kwid_attestor_container), 0);
	assert_int_equal(t->out.n, 0);
}

static void test_container_refusals(void **state)
{
	struct t *t = *state;
	char path[512];

	write_docker(t, FX_ID1);
	write_docker(t, FX_ID2);
	/* two ids, a container below a user's manager, a hostile text: the
	 * attestor fails and adds nothing */
	set_cgroup(t, "0::/system.slice/docker-" FX_ID1 ".scope/docker-" FX_ID2 ".scope\n");
	assert_int_equal(run(t, &kwid_attestor_container), -EINVAL);
	assert_int_equal(t->out.n, 0);
	assert_non_null(strstr(t->note, "two different container ids"));
	set_cgroup(t, "0::/user.slice/user-1000.slice/user@1000.service/app.slice/docker-" FX_ID1 ".scope\n");
	assert_int_equal(run(t, &kwid_attestor_container), -EINVAL);
	assert_int_equal(t->out.n, 0);
	set_cgroup(t, "0::/a/../docker/" FX_ID1 "\n");
	assert_null(t->ctx.cgroup);
	assert_int_equal(run(t, &kwid_attestor_container), -EINVAL);
	assert_non_null(strstr(t->note, "traverses"));
	/* state that cannot be trusted: refused, nothing added */
	snprintf(path, sizeof(path), "%s/docker/containers/" FX_ID1 "/config.v2.json", t->root);
	assert_int_equal(chmod(path, 0666), 0);
	set_cgroup(t, "0::/system.slice/docker-" FX_ID1 ".scope\n");
	assert_int_equal(run(t, &kwid_attestor_container), -EPERM);
	assert_int_equal(t->out.n, 0);
}

/* ---- Kubernetes ---- */

static void test_k8s_containerd(void **state)
{
	struct t *t = *state;
	_cleanup_free_ char *bundle = fx_containerd_bundle("container", FX_UID);

	assert_int_equal(fx_write(t->root, "containerd/io.containerd.runtime.v2.task/k8s.io/" FX_ID1 "/config.json", bundle), 0);
	set_cgroup(t, "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" FX_UID_
		      ".slice/cri-containerd-" FX_ID1 ".scope\n");
	assert_int_equal(run(t, &kwid_attestor_k8s), 0);
	expect(t, "k8s:pod-uid:" FX_UID);
	expect(t, "k8s:ns:shop");
	expect(t, "k8s:pod-name:web-7d4b9c-xk2lp");
	expect(t, "k8s:container-name:app");
	expect(t, "k8s:container-image:docker.io/library/nginx:1.25");
	expect(t, "k8s:node-name:node-1");
	assert_int_equal(run(t, &kwid_attestor_container), 0);
	expect(t, "container:id:" FX_ID1);
	expect(t, "container:runtime:containerd");
	expect(t, "container:image_name:docker.io/library/nginx:1.25");

	/* the bundle speaks of another pod than the cgroup: refused */
	free(bundle);
	bundle = fx_containerd_bundle("container", "99999999-1a2b-4c3d-8e9f-0a1b2c3d4e5f");
	assert_int_equal(fx_write(t->root, "containerd/io.containerd.runtime.v2.task/k8s.io/" FX_ID1 "/config.json", bundle), 0);
	assert_int_equal(run(t, &kwid_attestor_k8s), -EBADMSG);
	assert_int_equal(t->out.n, 0);

	/* a pod without runtime state: the kernel's pod uid only */
	set_cgroup(t, "0::/kubepods/besteffort/pod" FX_UID "/" FX_ID2 "\n");
	assert_int_equal(run(t, &kwid_attestor_k8s), 0);
	expect(t, "k8s:pod-uid:" FX_UID);
	expect_none_of_type(t, "k8s:ns:");
	/* not a pod */
	set_cgroup(t, "0::/system.slice/docker-" FX_ID1 ".scope\n");
	assert_int_equal(run(t, &kwid_attestor_k8s), 0);
	assert_int_equal(t->out.n, 0);
}

static void test_k8s_crio_cgroupfs(void **state)
{
	struct t *t = *state;
	_cleanup_free_ char *bundle = fx_crio_bundle(FX_ID1, FX_UID);

	assert_int_equal(fx_write(t->root, "crio/" FX_ID1 "/userdata/config.json", bundle), 0);
	set_cgroup(t, "0::/kubepods/burstable/pod" FX_UID "/crio-" FX_ID1 "\n");
	assert_int_equal(run(t, &kwid_attestor_k8s), 0);
	expect(t, "k8s:pod-uid:" FX_UID);
	expect(t, "k8s:ns:shop");
	expect(t, "k8s:container-name:app");
	assert_int_equal(run(t, &kwid_attestor_container), 0);
	expect(t, "container:runtime:crio");
	expect(t, "container:image_digest:sha256:" FX_IMG);
	/* conmon in the pod: not the workload */
	set_cgroup(t, "0::/kubepods/burstable/pod" FX_UID "/crio-conmon-" FX_ID1 "\n");
	assert_int_equal(run(t, &kwid_attestor_k8s), 0);
	assert_int_equal(t->out.n, 0);
}

static void test_podman(void **state)
{
	struct t *t = *state;
	_cleanup_free_ char *store = fx_podman_store(FX_ID1);

	assert_int_equal(fx_write(t->root, "podman/containers.json", store), 0);
	set_cgroup(t, "0::/machine.slice/libpod-" FX_ID1 ".scope\n");
	assert_int_equal(run(t, &kwid_attestor_container), 0);
	expect(t, "container:runtime:podman");
	expect(t, "container:name:web");
	expect(t, "container:image_name:docker.io/library/nginx:1.25");
	expect(t, "container:image_digest:sha256:" FX_IMG);
}

/* ---- systemd and cgroup ---- */

static void test_systemd(void **state)
{
	struct t *t = *state;
	char sel[512];

	assert_int_equal(fx_write(t->root, "lib/foo.service", "[Service]\nExecStart=/bin/true\n"), 0);
	assert_int_equal(fx_write(t->root, "lib/getty@.service", "[Service]\nExecStart=/sbin/agetty\n"), 0);
	assert_int_equal(fx_write(t->root, "lib/masked.service", "[Service]\n"), 0);
	snprintf(sel, sizeof(sel), "%s/etc/masked.service", t->root);
	assert_int_equal(symlink("/dev/null", sel), 0);

	set_cgroup(t, "0::/system.slice/foo.service\n");
	assert_int_equal(run(t, &kwid_attestor_systemd), 0);
	expect(t, "systemd:id:foo.service");
	expect(t, "systemd:slice:system.slice");
	snprintf(sel, sizeof(sel), "systemd:fragment_path:%s/lib/foo.service", t->root);
	expect(t, sel);

	/* an instance finds its template */
	set_cgroup(t, "0::/system.slice/system-getty.slice/getty@tty1.service\n");
	assert_int_equal(run(t, &kwid_attestor_systemd), 0);
	expect(t, "systemd:id:getty@tty1.service");
	snprintf(sel, sizeof(sel), "systemd:fragment_path:%s/lib/getty@.service", t->root);
	expect(t, sel);

	/* masked: no fragment */
	set_cgroup(t, "0::/system.slice/masked.service\n");
	assert_int_equal(run(t, &kwid_attestor_systemd), 0);
	expect(t, "systemd:id:masked.service");
	expect_none_of_type(t, "systemd:fragment_path:");

	/* a user's own manager */
	set_cgroup(t, "0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope\n");
	assert_int_equal(run(t, &kwid_attestor_systemd), 0);
	expect(t, "systemd:id:user@1000.service");
	expect(t, "systemd:slice:user-1000.slice");
	expect(t, "systemd:user_unit:x.scope");

	/* a container scope is a unit too; a refused container does not
	 * stop the unit from being reported */
	set_cgroup(t, "0::/system.slice/docker-" FX_ID1 ".scope/docker-" FX_ID2 ".scope\n");
	assert_int_equal(run(t, &kwid_attestor_systemd), 0);
	expect(t, "systemd:id:docker-" FX_ID1 ".scope");
	/* a refused membership is a failure */
	set_cgroup(t, "0::/system.slice//x.service\n");
	assert_int_equal(run(t, &kwid_attestor_systemd), -EINVAL);
	assert_int_equal(t->out.n, 0);
	/* outside systemd's tree */
	set_cgroup(t, "0::/process_api/c015b4efe12142431798e2bd5c0a81f0\n");
	assert_int_equal(run(t, &kwid_attestor_systemd), 0);
	assert_int_equal(t->out.n, 0);
}

static void test_cgroup(void **state)
{
	struct t *t = *state;

	set_cgroup(t, "4:memory:/\n0::/system.slice/my app.service\n");
	assert_int_equal(run(t, &kwid_attestor_cgroup), 0);
	expect(t, "cgroup:path:/system.slice/my%20app.service");
	assert_int_equal(t->out.n, 1);
}

/* ---- lineage ---- */

static void test_lineage(void **state)
{
	struct t *t = *state;
	struct kwid_measurement pm = {.state = KWID_MEASURE_DONE}, gm = {.state = KWID_MEASURE_PENDING},
				ggm = {.state = KWID_MEASURE_DONE};
	struct kwid_image pi = {.path = "/usr/bin/bash", .measurement = &pm},
			  gi = {.path = "/usr/sbin/sshd", .measurement = &gm},
			  ggi = {.path = "/sbin/init", .measurement = &ggm};
	struct kwid_proc parent = {.image = &pi}, grand = {.image = &gi}, great = {.image = &ggi};
	const struct kwid_proc *anc[] = {&parent, &grand, &great};

	strcpy(pm.sha256_hex, SHA_A);
	strcpy(ggm.sha256_hex, SHA_B);
	t->ctx.ancestors = anc;
	t->ctx.nancestors = 3;
	assert_int_equal(run(t, &kwid_attestor_lineage), 0);
	expect(t, "lineage:parent_path:/usr/bin/bash");
	expect(t, "lineage:parent_sha256:" SHA_A);
	expect(t, "lineage:ancestor_path:/usr/bin/bash");
	expect(t, "lineage:ancestor_path:/usr/sbin/sshd");
	expect(t, "lineage:ancestor_path:/sbin/init");
	expect(t, "lineage:ancestor_sha256:" SHA_A);
	expect(t, "lineage:ancestor_sha256:" SHA_B);
	assert_int_equal(t->out.n, 7); /* sshd's measurement is pending: no digest for it */
	expect_not(t, "lineage:parent_path:/usr/sbin/sshd");

	t->ctx.nancestors = 0;
	assert_int_equal(run(t, &kwid_attestor_lineage), 0);
	assert_int_equal(t->out.n, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_unix), T(test_container_docker), T(test_container_refusals), T(test_k8s_containerd),
		T(test_k8s_crio_cgroupfs), T(test_podman), T(test_systemd), T(test_cgroup), T(test_lineage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
