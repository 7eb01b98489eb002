/* cgroup_path.h - the grammar of the cgroup paths that container runtimes,
 * Kubernetes and systemd create, and of /proc/<pid>/cgroup as a whole.
 *
 * The kernel's report of a process's cgroup membership is the one piece of
 * container evidence a process cannot forge from inside (mount tables it
 * can; see docs/ATTESTORS.md). This parser turns it into structured facts
 * and refuses what it cannot read with certainty: two different container
 * ids, a container id below a unit whose subtree is delegated to someone
 * else, malformed ids, overlong or traversing paths, duplicated or
 * injected hierarchy lines. It never guesses.
 *
 * Layouts recognised (systemd driver, then cgroupfs driver):
 *   system.slice/docker-<id>.scope                          docker
 *   kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/cri-containerd-<id>.scope
 *   kubepods.slice/kubepods-pod<uid_>.slice/crio-<id>.scope (guaranteed qos)
 *   ...-pod<uid_>.slice/docker-<id>.scope                   cri-dockerd
 *   machine.slice/libpod-<id>.scope, machine.slice/machine-libpod_pod_<p>.slice/libpod-<id>.scope
 *   system.slice/nerdctl-<id>.scope                         containerd (nerdctl)
 *   crio-conmon-<id>.scope, libpod-conmon-<id>.scope        runtime monitors: no container
 *   /docker/<id>
 *   /kubepods[/<qos>]/pod<uid>/<id>, .../crio-<id>, .../crio-conmon-<id>
 *   /libpod_parent/libpod-<id>
 *   user.slice/user-<uid>.slice/user@<uid>.service/...      a user's own manager
 */
#ifndef KWID_CGROUP_PATH_H
#define KWID_CGROUP_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define KWID_CONTAINER_ID_LEN 64
#define KWID_POD_UID_MAX 36
#define KWID_CGROUP_PATH_MAX 4096
#define KWID_CGROUP_NAME_MAX 255
#define KWID_CGROUP_TEXT_MAX (64 * 1024) /* /proc/<pid>/cgroup as a whole */
#define KWID_CGROUP_HIERARCHIES_MAX 32

enum kwid_runtime {
	KWID_RUNTIME_NONE = 0,
	KWID_RUNTIME_UNKNOWN, /* a layout several runtimes share (cgroupfs kubepods/<id>) */
	KWID_RUNTIME_DOCKER,
	KWID_RUNTIME_CONTAINERD,
	KWID_RUNTIME_CRIO,
	KWID_RUNTIME_PODMAN,
};

/* "docker", "containerd", "crio", "podman"; NULL for NONE and UNKNOWN. */
const char *runtime_to_string(enum kwid_runtime r);

enum kwid_k8s_qos {
	KWID_QOS_NONE = 0,
	KWID_QOS_GUARANTEED,
	KWID_QOS_BURSTABLE,
	KWID_QOS_BESTEFFORT,
};

const char *qos_to_string(enum kwid_k8s_qos q); /* "guaranteed", ...; NULL for NONE */

/* A Kubernetes pod UID of len bytes: a 36-char UUID whose dashes are
 * written `sep` ('-' in cgroupfs paths and the API, '_' in systemd slice
 * names), or the 32 hex digits of a static pod's config hash; lowercase
 * only. Written to out canonical, with dashes. -EINVAL otherwise. */
int pod_uid_parse(const char *s, size_t len, char sep, char out[KWID_POD_UID_MAX + 1]);

/* What one cgroup path says. Container facts (runtime, conmon,
 * container_id, pod_uid, qos) are all empty when container_error is set:
 * the path is readable but its container claim is refused. */
struct kwid_cgroup_path_info {
	enum kwid_runtime runtime;
	bool conmon; /* a runtime monitor's cgroup (crio-conmon-, libpod-conmon-) */
	char container_id[KWID_CONTAINER_ID_LEN + 1];
	char pod_uid[KWID_POD_UID_MAX + 1]; /* canonical: dashes, lowercase */
	enum kwid_k8s_qos qos;
	char unit[KWID_CGROUP_NAME_MAX + 1];	  /* the system manager's unit, "" if none */
	char slice[KWID_CGROUP_NAME_MAX + 1];	  /* the slice holding that unit */
	char user_unit[KWID_CGROUP_NAME_MAX + 1]; /* unit inside user@<uid>.service, "" if none */
	int container_error;			  /* 0 or -errno */
	const char *container_why;		  /* static text when container_error */
};

/* Parse one cgroup path ("/system.slice/foo.service"). Returns 0 and fills
 * *out (container_error may be set), or -EINVAL with *why (static text)
 * when the path itself is malformed or hostile. */
int cgroup_path_parse(const char *path, struct kwid_cgroup_path_info *out, const char **why);

/* The hierarchies of this host as /proc/self/cgroup lists them: every
 * process's /proc/<pid>/cgroup has exactly one line per hierarchy. */
struct kwid_cgroup_layout {
	size_t n;
	struct {
		unsigned id;
		char controllers[128];
	} h[KWID_CGROUP_HIERARCHIES_MAX];
};

int cgroup_layout_parse(const char *text, struct kwid_cgroup_layout *out, const char **why);
int cgroup_layout_read(struct kwid_cgroup_layout *out); /* from /proc/self/cgroup */

struct kwid_cgroup_membership {
	char path[KWID_CGROUP_PATH_MAX + 1]; /* the trusted line's path */
	char source[128];		     /* "unified", "name=systemd" or the v1 controllers */
	struct kwid_cgroup_path_info info;   /* container facts merged over every line */
};

/* Parse /proc/<pid>/cgroup text. With a layout, the text must have exactly
 * the layout's hierarchies, each once (a cgroup name holding a newline
 * cannot inject a line). The trusted line is the unified one (0::), then
 * name=systemd, then a v1 controller (one placing the process in a
 * container first), skipping lines at "/" while another line says more. Every line carrying a container id, pod uid or
 * runtime must agree, else container_error is set. Returns 0 or -EINVAL
 * (with *why) for malformed, injected or hostile text. */
int cgroup_membership_parse(const char *text, const struct kwid_cgroup_layout *layout,
			    struct kwid_cgroup_membership *out, const char **why);

#endif
