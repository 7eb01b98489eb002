/* test_runtime_state.c - the runtime state readers against files in the
 * runtimes' real formats, written to temporary state roots: parsing,
 * refusals (wrong container, wrong owner or mode, symlinks, FIFOs,
 * oversize, bad types), namespace search and caching by file version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/types.h>

#include "fixtures_runtime.h"
#include "kwid/runtime_state.h"

struct fx {
	char root[64];
	struct kwid_runtime_cache *cache;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char docker[128], containerd[128], crio[128], podman[128];
	struct kwid_runtime_roots roots = {docker, containerd, crio, podman};

	strcpy(f->root, "/tmp/kwid-rs.XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	snprintf(docker, sizeof(docker), "%s/docker", f->root);
	snprintf(containerd, sizeof(containerd), "%s/containerd", f->root);
	snprintf(crio, sizeof(crio), "%s/crio", f->root);
	snprintf(podman, sizeof(podman), "%s/podman", f->root);
	if (runtime_cache_new(&roots, 8, &f->cache) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	runtime_cache_free(f->cache);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->root);
	(void)!system(cmd);
	free(f);
	return 0;
}

static void test_docker_parse(void **state)
{
	_cleanup_free_ char *json = fx_docker_config(FX_ID1, "nginx:1.25", NULL);
	struct kwid_container_state s;
	const char *why = NULL;

	assert_int_equal(docker_config_parse(json, strlen(json), FX_ID1, &s, &why), 0);
	assert_int_equal(s.runtime, KWID_RUNTIME_DOCKER);
	assert_string_equal(s.name, "web");
	assert_string_equal(s.image_name, "nginx:1.25");
	assert_string_equal(s.image_config_digest, "sha256:" FX_IMG);
	assert_int_equal(s.nlabels, 3);
	assert_int_equal(s.nenv, 3);
	assert_null(s.k8s_pod_uid);
	container_state_clear(&s);

	/* the file must describe the container it is read for */
	assert_int_equal(docker_config_parse(json, strlen(json), FX_ID2, &s, &why), -EINVAL);
	assert_string_equal(why, "docker state describes another container");
	/* trailing garbage, truncation, wrong types, an embedded NUL */
	assert_int_equal(docker_config_parse(json, strlen(json) - 1, FX_ID1, &s, &why), -EINVAL);
	{
		const char *t = "{\"ID\":\"" FX_ID1 "\"} x";
		assert_int_equal(docker_config_parse(t, strlen(t), FX_ID1, &s, &why), -EINVAL);
	}
	assert_int_equal(docker_config_parse("{\"ID\":5}", 8, FX_ID1, &s, &why), -EINVAL);
	{
		const char *t = "{\"ID\":\"" FX_ID1 "\",\"Config\":{\"Labels\":[1]}}";
		assert_int_equal(docker_config_parse(t, strlen(t), FX_ID1, &s, &why), -EINVAL);
		t = "{\"ID\":\"" FX_ID1 "\",\"Config\":{\"Env\":\"A=B\"}}";
		assert_int_equal(docker_config_parse(t, strlen(t), FX_ID1, &s, &why), -EINVAL);
		t = "{\"ID\":\"" FX_ID1 "\",\"Image\":\"sha256:abc\"}";
		assert_int_equal(docker_config_parse(t, strlen(t), FX_ID1, &s, &why), -EINVAL);
		t = "{\"ID\":\"" FX_ID1 "\",\"Name\":\"/a\\u0000b\"}";
		assert_int_equal(docker_config_parse(t, strlen(t), FX_ID1, &s, &why), -EINVAL);
		t = "{\"ID\":\"" FX_ID1 "\"}";
		assert_int_equal(docker_config_parse(t, strlen(t), FX_ID1, &s, &why), 0);
		assert_null(s.image_name);
		container_state_clear(&s);
	}
}

static void test_docker_k8s_labels(void **state)
{
	_cleanup_free_ char *json = fx_docker_config(
		FX_ID1, "nginx:1.25",
		",\"io.kubernetes.pod.name\":\"web-0\",\"io.kubernetes.pod.namespace\":\"shop\","
		"\"io.kubernetes.pod.uid\":\"" FX_UID "\",\"io.kubernetes.container.name\":\"app\","
		"\"io.kubernetes.docker.type\":\"container\"");
	struct kwid_container_state s;
	const char *why;

	assert_int_equal(docker_config_parse(json, strlen(json), FX_ID1, &s, &why), 0);
	assert_string_equal(s.k8s_pod_name, "web-0");
	assert_string_equal(s.k8s_namespace, "shop");
	assert_string_equal(s.k8s_pod_uid, FX_UID);
	assert_string_equal(s.k8s_container_name, "app");
	assert_string_equal(s.k8s_container_type, "container");
	container_state_clear(&s);
}

static void test_oci_parse(void **state)
{
	_cleanup_free_ char *cd = fx_containerd_bundle("container", FX_UID);
	_cleanup_free_ char *sb = fx_containerd_bundle("sandbox", FX_UID);
	_cleanup_free_ char *crio = fx_crio_bundle(FX_ID1, FX_UID);
	struct kwid_container_state s;
	const char *why;

	assert_int_equal(oci_config_parse(cd, strlen(cd), KWID_RUNTIME_CONTAINERD, FX_ID1, &s, &why), 0);
	assert_string_equal(s.k8s_pod_name, "web-7d4b9c-xk2lp");
	assert_string_equal(s.k8s_namespace, "shop");
	assert_string_equal(s.k8s_pod_uid, FX_UID);
	assert_string_equal(s.k8s_container_name, "app");
	assert_string_equal(s.k8s_image, "docker.io/library/nginx:1.25");
	assert_string_equal(s.image_name, "docker.io/library/nginx:1.25");
	assert_null(s.image_config_digest); /* containerd keeps it in its database, not the bundle */
	container_state_clear(&s);

	/* a pod sandbox has pod facts but no container name */
	assert_int_equal(oci_config_parse(sb, strlen(sb), KWID_RUNTIME_CONTAINERD, FX_ID1, &s, &why), 0);
	assert_null(s.k8s_container_name);
	assert_string_equal(s.k8s_container_type, "sandbox");
	container_state_clear(&s);

	assert_int_equal(oci_config_parse(crio, strlen(crio), KWID_RUNTIME_CRIO, FX_ID1, &s, &why), 0);
	assert_string_equal(s.k8s_pod_name, "web-7d4b9c-xk2lp");
	assert_string_equal(s.k8s_container_name, "app");
	assert_string_equal(s.image_config_digest, "sha256:" FX_IMG);
	assert_string_equal(s.image_name, "docker.io/library/nginx:1.25");
	container_state_clear(&s);
	assert_int_equal(oci_config_parse(crio, strlen(crio), KWID_RUNTIME_CRIO, FX_ID2, &s, &why), -EINVAL);
	assert_string_equal(why, "CRI-O bundle describes another container");

	assert_int_equal(oci_config_parse("[]", 2, KWID_RUNTIME_CRIO, FX_ID1, &s, &why), -EINVAL);
	assert_int_equal(oci_config_parse("{\"annotations\":[]}", 18, KWID_RUNTIME_CONTAINERD, FX_ID1, &s, &why), -EINVAL);
	assert_int_equal(oci_config_parse("{}", 2, KWID_RUNTIME_DOCKER, FX_ID1, &s, &why), -EINVAL);
	{
		const char *t = "{\"annotations\":{\"io.kubernetes.cri.sandbox-name\":7}}";
		assert_int_equal(oci_config_parse(t, strlen(t), KWID_RUNTIME_CONTAINERD, FX_ID1, &s, &why), -EINVAL);
	}
}

static void test_cstorage_parse(void **state)
{
	_cleanup_free_ char *json = fx_podman_store(FX_ID1);
	struct kwid_container_state s;
	const char *why;

	assert_int_equal(cstorage_containers_parse(json, strlen(json), FX_ID1, &s, &why), 0);
	assert_int_equal(s.runtime, KWID_RUNTIME_PODMAN);
	assert_string_equal(s.name, "web");
	assert_string_equal(s.image_config_digest, "sha256:" FX_IMG);
	assert_string_equal(s.image_name, "docker.io/library/nginx:1.25");
	container_state_clear(&s);
	assert_int_equal(cstorage_containers_parse(json, strlen(json),
						   "1111111111111111111111111111111111111111111111111111111111111111", &s,
						   &why),
			 -ENOENT);
	assert_int_equal(cstorage_containers_parse("{}", 2, FX_ID1, &s, &why), -EINVAL);
}

static void test_deep_json(void **state)
{
	char deep[256];
	json_object *o;
	const char *why;

	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_int_equal(state_json_parse(deep, 200, &o, &why), -EINVAL);
}

static void test_cache_docker(void **state)
{
	struct fx *f = *state;
	_cleanup_free_ char *json = fx_docker_config(FX_ID1, "nginx:1.25", NULL);
	_cleanup_free_ char *json2 = fx_docker_config(FX_ID1, "nginx:1.26", NULL);
	const struct kwid_container_state *s;
	char why[512], path[512];
	json_object *st = json_object_new_object();

	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_DOCKER, FX_ID1, &s, why, sizeof(why)), -ENOENT);
	assert_int_equal(fx_write(f->root, "docker/containers/" FX_ID1 "/config.v2.json", json), 0);
	/* "no state" is remembered for a second, then looked for again */
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_DOCKER, FX_ID1, &s, why, sizeof(why)), -ENOENT);
	usleep(1100 * 1000);
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_DOCKER, FX_ID1, &s, why, sizeof(why)), 0);
	assert_string_equal(s->image_name, "nginx:1.25");
	/* warm: same file version, served from the cache */
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_DOCKER, FX_ID1, &s, why, sizeof(why)), 0);
	runtime_cache_status(f->cache, st);
	assert_int_equal(json_object_get_int(json_object_object_get(st, "state_cache_hits")), 1);
	json_object_put(st);
	/* a new version of the file is read again */
	assert_int_equal(fx_write(f->root, "docker/containers/" FX_ID1 "/config.v2.json", json2), 0);
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_DOCKER, FX_ID1, &s, why, sizeof(why)), 0);
	assert_string_equal(s->image_name, "nginx:1.26");

	/* writable by others, or owned by another user: refused */
	snprintf(path, sizeof(path), "%s/docker/containers/" FX_ID1 "/config.v2.json", f->root);
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_DOCKER, FX_ID1, &s, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "owned by root"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(chown(path, 1000, 1000), 0);
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_DOCKER, FX_ID1, &s, why, sizeof(why)), -EPERM);
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_DOCKER, FX_ID1, &s, why, sizeof(why)), 0);

	/* a symlink or a FIFO in place of the file: refused, no blocking */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_DOCKER, FX_ID1, &s, why, sizeof(why)), -EPERM);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_DOCKER, FX_ID1, &s, why, sizeof(why)), -EPERM);
	assert_int_equal(unlink(path), 0);

	/* oversize */
	assert_int_equal(truncate(path, 0) == 0 || errno == ENOENT, 1);
	{
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		assert_int_equal(ftruncate(fileno(fp), KWID_STATE_FILE_MAX + 1), 0);
		fclose(fp);
		chmod(path, 0600);
	}
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_DOCKER, FX_ID1, &s, why, sizeof(why)), -EFBIG);
	/* a malformed id is not looked up at all */
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_DOCKER, "../../etc", &s, why, sizeof(why)), -EINVAL);
}

static void test_cache_containerd_crio_podman(void **state)
{
	struct fx *f = *state;
	_cleanup_free_ char *cd = fx_containerd_bundle("container", FX_UID);
	_cleanup_free_ char *crio = fx_crio_bundle(FX_ID2, FX_UID);
	_cleanup_free_ char *store = fx_podman_store(FX_ID1);
	_cleanup_free_ char *docker = fx_docker_config(FX_ID2, "busybox", NULL);
	const struct kwid_container_state *s;
	char why[512];

	/* containerd: any namespace of the task directory */
	assert_int_equal(fx_write(f->root, "containerd/io.containerd.runtime.v2.task/custom-ns/" FX_ID1 "/config.json", cd), 0);
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_CONTAINERD, FX_ID1, &s, why, sizeof(why)), 0);
	assert_int_equal(s->runtime, KWID_RUNTIME_CONTAINERD);
	assert_string_equal(s->k8s_namespace, "shop");
	/* a cgroupfs kubepods id (runtime unknown) finds containerd's bundle... */
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_UNKNOWN, FX_ID1, &s, why, sizeof(why)), 0);
	assert_int_equal(s->runtime, KWID_RUNTIME_CONTAINERD);
	/* ...or docker's state */
	assert_int_equal(fx_write(f->root, "docker/containers/" FX_ID2 "/config.v2.json", docker), 0);
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_UNKNOWN, FX_ID2, &s, why, sizeof(why)), 0);
	assert_int_equal(s->runtime, KWID_RUNTIME_DOCKER);

	assert_int_equal(fx_write(f->root, "crio/" FX_ID2 "/userdata/config.json", crio), 0);
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_CRIO, FX_ID2, &s, why, sizeof(why)), 0);
	assert_string_equal(s->image_config_digest, "sha256:" FX_IMG);
	/* a CRI-O bundle stored under another container's id is refused */
	assert_int_equal(fx_write(f->root, "crio/" FX_ID1 "/userdata/config.json", crio), 0);
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_CRIO, FX_ID1, &s, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "another container"));

	assert_int_equal(fx_write(f->root, "podman/containers.json", store), 0);
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_PODMAN, FX_ID1, &s, why, sizeof(why)), 0);
	assert_string_equal(s->image_name, "docker.io/library/nginx:1.25");
	assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_PODMAN,
					      "1111111111111111111111111111111111111111111111111111111111111111", &s,
					      why, sizeof(why)),
			 -ENOENT);
}

static void test_cache_eviction(void **state)
{
	struct fx *f = *state;
	char id[65], rel[256];
	const struct kwid_container_state *s;
	char why[512];

	/* more containers than entries (8): every lookup still answers */
	for (int i = 0; i < 20; i++) {
		_cleanup_free_ char *json = NULL;
		snprintf(id, sizeof(id), "%064x", i + 1);
		json = fx_docker_config(id, "img", NULL);
		snprintf(rel, sizeof(rel), "docker/containers/%s/config.v2.json", id);
		assert_int_equal(fx_write(f->root, rel, json), 0);
		assert_int_equal(runtime_cache_lookup(f->cache, KWID_RUNTIME_DOCKER, id, &s, why, sizeof(why)), 0);
		assert_string_equal(s->id, id);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_parse),
		cmocka_unit_test(test_docker_k8s_labels),
		cmocka_unit_test(test_oci_parse),
		cmocka_unit_test(test_cstorage_parse),
		cmocka_unit_test(test_deep_json),
		cmocka_unit_test_setup_teardown(test_cache_docker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_containerd_crio_podman, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_eviction, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
