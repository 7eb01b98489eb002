/* fixtures_runtime.h - runtime state files in the runtimes' real on-disk
 * formats (Docker config.v2.json, OCI bundle config.json as containerd's
 * CRI plugin and CRI-O write it, containers/storage containers.json), for
 * the unit tests of the state readers and the attestors. */
#ifndef KWID_TEST_FIXTURES_RUNTIME_H
#define KWID_TEST_FIXTURES_RUNTIME_H

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "kwid/util.h"

#define FX_ID1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FX_ID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define FX_IMG "5a3f2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
#define FX_UID "4d5e6f70-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
#define FX_UID_ "4d5e6f70_1a2b_4c3d_8e9f_0a1b2c3d4e5f"

/* Docker's container state (moby container.Container), abridged only
 * where the fields do not matter here. */
static inline char *fx_docker_config(const char *id, const char *image_ref, const char *extra_label)
{
	char *s = NULL;

	if (asprintf(&s,
		     "{\"StreamConfig\":{},\"State\":{\"Running\":true,\"Paused\":false,\"Restarting\":false,"
		     "\"OOMKilled\":false,\"RemovalInProgress\":false,\"Dead\":false,\"Pid\":4242,\"ExitCode\":0,"
		     "\"Error\":\"\",\"StartedAt\":\"2024-05-01T10:00:00.123456789Z\",\"FinishedAt\":\"0001-01-01T00:00:00Z\","
		     "\"Health\":null},\"ID\":\"%s\",\"Created\":\"2024-05-01T09:59:59.5Z\",\"Managed\":false,"
		     "\"Path\":\"/docker-entrypoint.sh\",\"Args\":[\"nginx\",\"-g\",\"daemon off;\"],"
		     "\"Config\":{\"Hostname\":\"0123456789ab\",\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,"
		     "\"AttachStdout\":true,\"AttachStderr\":true,\"ExposedPorts\":{\"80/tcp\":{}},\"Tty\":false,"
		     "\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin\","
		     "\"NGINX_VERSION=1.25.4\",\"SECRET_TOKEN=hunter2\"],\"Cmd\":[\"nginx\",\"-g\",\"daemon off;\"],"
		     "\"Image\":\"%s\",\"Volumes\":null,\"WorkingDir\":\"\",\"Entrypoint\":[\"/docker-entrypoint.sh\"],"
		     "\"OnBuild\":null,\"Labels\":{\"maintainer\":\"NGINX Docker Maintainers <docker-maint@nginx.com>\","
		     "\"app\":\"web\",\"empty\":\"\"%s},\"StopSignal\":\"SIGQUIT\"},"
		     "\"Image\":\"sha256:" FX_IMG "\",\"ImageManifest\":null,\"NetworkSettings\":{\"Bridge\":\"\","
		     "\"SandboxID\":\"\",\"Ports\":{}},\"LogPath\":\"/var/lib/docker/containers/%s/%s-json.log\","
		     "\"Name\":\"/web\",\"Driver\":\"overlay2\",\"OS\":\"linux\",\"RestartCount\":0,\"MountLabel\":\"\","
		     "\"ProcessLabel\":\"\",\"AppArmorProfile\":\"docker-default\",\"HasBeenStartedBefore\":false,"
		     "\"HasBeenManuallyStopped\":false}",
		     id, image_ref, extra_label ? extra_label : "", id, id) < 0)
		return NULL;
	return s;
}

/* An OCI runtime spec as containerd's CRI plugin writes it into the
 * task's bundle. */
static inline char *fx_containerd_bundle(const char *type, const char *pod_uid)
{
	char *s = NULL;

	if (asprintf(&s,
		     "{\"ociVersion\":\"1.1.0\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"/pause\"],"
		     "\"env\":[\"PATH=/usr/bin\"],\"cwd\":\"/\",\"noNewPrivileges\":true},\"root\":{\"path\":\"rootfs\"},"
		     "\"annotations\":{\"io.kubernetes.cri.container-name\":\"app\","
		     "\"io.kubernetes.cri.container-type\":\"%s\","
		     "\"io.kubernetes.cri.image-name\":\"docker.io/library/nginx:1.25\","
		     "\"io.kubernetes.cri.sandbox-id\":\"" FX_ID2 "\","
		     "\"io.kubernetes.cri.sandbox-name\":\"web-7d4b9c-xk2lp\","
		     "\"io.kubernetes.cri.sandbox-namespace\":\"shop\","
		     "\"io.kubernetes.cri.sandbox-uid\":\"%s\"},"
		     "\"linux\":{\"cgroupsPath\":\"kubepods-burstable-pod" FX_UID_ ".slice:cri-containerd:" FX_ID1 "\","
		     "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"}]}}",
		     type, pod_uid) < 0)
		return NULL;
	return s;
}

/* An OCI runtime spec as CRI-O writes it to <run root>/<id>/userdata. */
static inline char *fx_crio_bundle(const char *id, const char *pod_uid)
{
	char *s = NULL;

	if (asprintf(&s,
		     "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"args\":[\"nginx\"],\"cwd\":\"/\"},"
		     "\"root\":{\"path\":\"/var/lib/containers/storage/overlay/abc/merged\"},"
		     "\"annotations\":{\"io.container.manager\":\"cri-o\",\"io.kubernetes.container.hash\":\"a1b2c3d4\","
		     "\"io.kubernetes.container.name\":\"app\",\"io.kubernetes.cri-o.ContainerID\":\"%s\","
		     "\"io.kubernetes.cri-o.ContainerName\":\"k8s_app_web-7d4b9c-xk2lp_shop_%s_0\","
		     "\"io.kubernetes.cri-o.ContainerType\":\"container\","
		     "\"io.kubernetes.cri-o.Image\":\"docker.io/library/nginx:1.25\","
		     "\"io.kubernetes.cri-o.ImageName\":\"docker.io/library/nginx:1.25\","
		     "\"io.kubernetes.cri-o.ImageRef\":\"" FX_IMG "\","
		     "\"io.kubernetes.cri-o.Labels\":\"{\\\"io.kubernetes.container.name\\\":\\\"app\\\"}\","
		     "\"io.kubernetes.cri-o.SandboxID\":\"" FX_ID2 "\",\"io.kubernetes.pod.name\":\"web-7d4b9c-xk2lp\","
		     "\"io.kubernetes.pod.namespace\":\"shop\",\"io.kubernetes.pod.uid\":\"%s\"},"
		     "\"linux\":{\"cgroupsPath\":\"kubepods-burstable-pod" FX_UID_ ".slice:crio:%s\"}}",
		     id, pod_uid, pod_uid, id) < 0)
		return NULL;
	return s;
}

/* containers/storage's containers.json as podman leaves it. */
static inline char *fx_podman_store(const char *id)
{
	char *s = NULL;

	if (asprintf(&s,
		     "[{\"id\":\"" FX_ID2 "\",\"names\":[\"other\"],\"image\":\"" FX_ID2 "\",\"layer\":\"" FX_ID2 "\","
		     "\"metadata\":\"{\\\"image-name\\\":\\\"quay.io/x/y:1\\\"}\",\"created\":\"2024-05-01T10:00:00Z\"},"
		     "{\"id\":\"%s\",\"names\":[\"web\"],\"image\":\"" FX_IMG "\","
		     "\"layer\":\"9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0\","
		     "\"metadata\":\"{\\\"image-name\\\":\\\"docker.io/library/nginx:1.25\\\",\\\"image-id\\\":\\\"" FX_IMG
		     "\\\",\\\"name\\\":\\\"web\\\",\\\"created-at\\\":1714557600,\\\"mountlabel\\\":\\\"\\\"}\","
		     "\"created\":\"2024-05-01T10:00:00.5Z\",\"flags\":{\"MountLabel\":\"\",\"ProcessLabel\":\"\"}}]",
		     id) < 0)
		return NULL;
	return s;
}

/* Write text to dir/rel (creating parents), mode 0600. */
static inline int fx_write(const char *dir, const char *rel, const char *text)
{
	char path[4096], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdir_p(path, 0700) < 0)
		return -1;
	*slash = '/';
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	return chmod(path, 0600);
}

#endif
