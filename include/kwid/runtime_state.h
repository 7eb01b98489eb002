/* runtime_state.h - what container runtimes record on disk about a
 * container: image identity, labels, Kubernetes metadata. Read from the
 * runtimes' own state files, never through a daemon round-trip:
 *
 *   docker      <docker_root>/containers/<id>/config.v2.json
 *   containerd  <containerd_state>/io.containerd.runtime.v2.task/<ns>/<id>/config.json
 *               (OCI bundle; CRI annotations io.kubernetes.cri.*)
 *   crio        <crio_state>/<id>/userdata/config.json
 *               (OCI bundle; annotations io.kubernetes.pod.*, io.kubernetes.cri-o.*)
 *   podman      <podman_state>/containers.json (containers/storage: image id,
 *               names, metadata with the image name)
 *
 * Every file is bounded in size, must be a regular file owned by root and
 * not writable by group or others, and must name the container it is
 * looked up for. Parsed results are cached per container and reused while
 * the state file's (device, inode, mtime, size) stays the same. */
#ifndef KWID_RUNTIME_STATE_H
#define KWID_RUNTIME_STATE_H

#include <json-c/json.h>
#include <stdint.h>

#include "kwid/cgroup_path.h"

#define KWID_STATE_FILE_MAX (4u << 20)	   /* one container's state file */
#define KWID_STATE_STORE_MAX (32u << 20)   /* containers.json of a whole store */
#define KWID_STATE_LABELS_MAX 256

struct kwid_kv {
	char *key, *value;
};

/* Facts about one container; any pointer may be NULL when not recorded. */
struct kwid_container_state {
	enum kwid_runtime runtime; /* where the state was found */
	char *id;
	char *name;		   /* the runtime's container name ("/" of docker dropped) */
	char *image_name;	   /* the image reference the container was created from */
	char *image_config_digest; /* "sha256:<64 hex>": the image id / config digest */
	struct kwid_kv *labels;	   /* docker labels */
	size_t nlabels;
	char **env; /* docker Config.Env ("K=V"), filtered by the attestor */
	size_t nenv;
	/* Kubernetes metadata (CRI annotations, or dockershim/cri-dockerd labels) */
	char *k8s_pod_name, *k8s_namespace, *k8s_pod_uid;
	char *k8s_container_name; /* NULL for a pod sandbox */
	char *k8s_container_type; /* "container" or "sandbox" */
	char *k8s_image;
};

void container_state_clear(struct kwid_container_state *s);

/* Parsers of the runtimes' formats (fuzzed). `id` is the container the
 * file must describe. 0, or -EINVAL with *why (static text). */
int docker_config_parse(const char *json, size_t len, const char *id, struct kwid_container_state *out,
			const char **why);
int oci_config_parse(const char *json, size_t len, enum kwid_runtime runtime, const char *id,
		     struct kwid_container_state *out, const char **why);
/* containers/storage containers.json: find `id`, take its image id and the
 * image name from its metadata. -ENOENT when the id is not listed. */
int cstorage_containers_parse(const char *json, size_t len, const char *id, struct kwid_container_state *out,
			      const char **why);
int cstorage_containers_find(json_object *root, const char *id, struct kwid_container_state *out, const char **why);
/* Parse JSON text of exactly len bytes (depth-bounded, no trailing data). */
int state_json_parse(const char *json, size_t len, json_object **out, const char **why);
/* The same for any JSON: strict, at most depth levels, nothing but
 * whitespace after the value. -EINVAL when malformed, -EFBIG over 2 GiB. */
int json_parse_bounded(const char *json, size_t len, int depth, json_object **out);

struct kwid_runtime_roots {
	const char *docker_root;
	const char *containerd_state;
	const char *crio_state;
	const char *podman_state;
};

struct kwid_runtime_cache;

int runtime_cache_new(const struct kwid_runtime_roots *roots, size_t max_entries, struct kwid_runtime_cache **out);
void runtime_cache_free(struct kwid_runtime_cache *c);

/* The state of container `id` that the cgroup path attributes to
 * `runtime` (UNKNOWN: containerd, then docker). *out is borrowed until the
 * next call. -ENOENT when no runtime has state for it; other -errno with a
 * message in why[] when a state file exists but cannot be trusted. */
int runtime_cache_lookup(struct kwid_runtime_cache *c, enum kwid_runtime runtime, const char *id,
			 const struct kwid_container_state **out, char *why, size_t whylen);

void runtime_cache_status(struct kwid_runtime_cache *c, json_object *out);

#endif
