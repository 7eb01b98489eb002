/* runtime_state.c - parsers of the container runtimes' on-disk state:
 * Docker's config.v2.json, OCI bundle config.json with containerd's and
 * CRI-O's annotations, and containers/storage's containers.json (see
 * kwid/runtime_state.h). Input is untrusted bytes; fuzzed by
 * tests/fuzz/fuzz_runtime_state.c. */
#include "kwid/runtime_state.h"
#include "kwid/util.h"

#define STATE_JSON_DEPTH 32
#define STATE_STRING_MAX (64 * 1024)
#define STATE_ENV_MAX 1024

static int fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -EINVAL;
}

void container_state_clear(struct kwid_container_state *s)
{
	free(s->id);
	free(s->name);
	free(s->image_name);
	free(s->image_config_digest);
	for (size_t i = 0; i < s->nlabels; i++) {
		free(s->labels[i].key);
		free(s->labels[i].value);
	}
	free(s->labels);
	for (size_t i = 0; i < s->nenv; i++)
		free(s->env[i]);
	free(s->env);
	free(s->k8s_pod_name);
	free(s->k8s_namespace);
	free(s->k8s_pod_uid);
	free(s->k8s_container_name);
	free(s->k8s_container_type);
	free(s->k8s_image);
	memset(s, 0, sizeof(*s));
}

int json_parse_bounded(const char *json, size_t len, int depth, json_object **out)
{
	struct json_tokener *tok;
	json_object *obj;
	bool ok;

	*out = NULL;
	if (len > INT32_MAX)
		return -EFBIG;
	tok = json_tokener_new_ex(depth);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, json, (int)len);
	ok = obj && json_tokener_get_error(tok) == json_tokener_success;
	if (ok) {
		size_t end = json_tokener_get_parse_end(tok);
		while (end < len && strchr(" \t\r\n", json[end]))
			end++;
		ok = end == len;
	}
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(obj);
		return -EINVAL;
	}
	*out = obj;
	return 0;
}

int state_json_parse(const char *json, size_t len, json_object **out, const char **why)
{
	int r;

	*out = NULL;
	if (len > KWID_STATE_STORE_MAX)
		return fail(why, "state file too large");
	r = json_parse_bounded(json, len, STATE_JSON_DEPTH, out);
	if (r == -EINVAL)
		return fail(why, "state file is not valid JSON");
	return r;
}

/* Copy a JSON string (no embedded NUL, bounded). 0 and *out = NULL when v
 * is NULL or JSON null; -EINVAL for anything else that is not a string. */
static int dup_string(json_object *v, char **out)
{
	const char *s;
	size_t len;

	*out = NULL;
	if (!v || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len > STATE_STRING_MAX || strlen(s) != len)
		return -EINVAL;
	if (len == 0)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static int dup_member(json_object *o, const char *key, char **out, const char **why, const char *what)
{
	int r;

	free(*out);
	*out = NULL;
	r = dup_string(get(o, key), out);
	if (r == -EINVAL)
		return fail(why, what);
	return r;
}

static bool is_sha256_digest(const char *s)
{
	return s && startswith(s, "sha256:") && strlen(s) == 7 + 64 && is_lower_hex(s + 7, 64);
}

/* "sha256:<hex>" from either that form or a bare 64-hex image id. */
static int set_digest(const char *s, char **out, const char **why)
{
	if (!s)
		return 0;
	if (strlen(s) == 64 && is_lower_hex(s, 64)) {
		if (asprintf(out, "sha256:%s", s) < 0)
			return -ENOMEM;
		return 0;
	}
	if (!is_sha256_digest(s))
		return fail(why, "image id is not a sha256 digest");
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

/* Kubernetes facts kept in string maps: dockershim/cri-dockerd labels and
 * CRI-O annotations share the io.kubernetes.pod.* keys. */
static int k8s_from_pod_keys(json_object *map, struct kwid_container_state *out, const char **why)
{
	const char *bad = "Kubernetes metadata is not a string";
	int r;

	if ((r = dup_member(map, "io.kubernetes.pod.name", &out->k8s_pod_name, why, bad)) < 0 ||
	    (r = dup_member(map, "io.kubernetes.pod.namespace", &out->k8s_namespace, why, bad)) < 0 ||
	    (r = dup_member(map, "io.kubernetes.pod.uid", &out->k8s_pod_uid, why, bad)) < 0 ||
	    (r = dup_member(map, "io.kubernetes.container.name", &out->k8s_container_name, why, bad)) < 0)
		return r;
	return 0;
}

static int parse_labels(json_object *labels, struct kwid_container_state *out, const char **why)
{
	size_t n = 0;

	if (!labels || json_object_is_type(labels, json_type_null))
		return 0;
	if (!json_object_is_type(labels, json_type_object))
		return fail(why, "container labels are not an object");
	if (json_object_object_length(labels) > KWID_STATE_LABELS_MAX)
		return fail(why, "container has more than 256 labels");
	out->labels = calloc_array((size_t)json_object_object_length(labels), sizeof(*out->labels));
	if (!out->labels)
		return -ENOMEM;
	json_object_object_foreach(labels, key, val)
	{
		char *v = NULL;
		int r = dup_string(val, &v);

		if (r < 0)
			return r == -EINVAL ? fail(why, "container label value is not a string") : r;
		if (strlen(key) > STATE_STRING_MAX) {
			free(v);
			return fail(why, "container label key too long");
		}
		out->labels[n].key = strdup(key);
		out->labels[n].value = v ? v : strdup("");
		if (!out->labels[n].key || !out->labels[n].value) {
			out->nlabels = n + 1;
			return -ENOMEM;
		}
		out->nlabels = ++n;
	}
	return 0;
}

static int parse_env(json_object *env, struct kwid_container_state *out, const char **why)
{
	size_t n;

	if (!env || json_object_is_type(env, json_type_null))
		return 0;
	if (!json_object_is_type(env, json_type_array))
		return fail(why, "container Env is not an array");
	n = json_object_array_length(env);
	if (n > STATE_ENV_MAX)
		return fail(why, "container has more than 1024 environment entries");
	out->env = calloc_array(n, sizeof(*out->env));
	if (!out->env)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char *e = NULL;
		int r = dup_string(json_object_array_get_idx(env, i), &e);

		if (r < 0)
			return r == -EINVAL ? fail(why, "container Env entry is not a string") : r;
		if (e)
			out->env[out->nenv++] = e;
	}
	return 0;
}

static const char *label_value(const struct kwid_container_state *s, const char *key)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (streq(s->labels[i].key, key))
			return s->labels[i].value;
	return NULL;
}

static int docker_config_parse_obj(json_object *root, const char *id, struct kwid_container_state *out,
				   const char **why)
{
	_cleanup_free_ char *file_id = NULL, *name = NULL, *image = NULL;
	json_object *config;
	const char *type;
	int r;

	if (!json_object_is_type(root, json_type_object))
		return fail(why, "docker state is not a JSON object");
	r = dup_member(root, "ID", &file_id, why, "docker state ID is not a string");
	if (r < 0)
		return r;
	if (!streq(file_id, id))
		return fail(why, "docker state describes another container");
	out->runtime = KWID_RUNTIME_DOCKER;
	out->id = TAKE_PTR(file_id);
	if ((r = dup_member(root, "Name", &name, why, "docker state Name is not a string")) < 0 ||
	    (r = dup_member(root, "Image", &image, why, "docker state Image is not a string")) < 0 ||
	    (r = set_digest(image, &out->image_config_digest, why)) < 0)
		return r;
	if (name && name[name[0] == '/'] && !(out->name = strdup(name[0] == '/' ? name + 1 : name)))
		return -ENOMEM;
	config = get(root, "Config");
	if (config && !json_object_is_type(config, json_type_object))
		return fail(why, "docker state Config is not an object");
	if ((r = dup_member(config, "Image", &out->image_name, why, "docker Config.Image is not a string")) < 0 ||
	    (r = parse_labels(get(config, "Labels"), out, why)) < 0 ||
	    (r = parse_env(get(config, "Env"), out, why)) < 0 ||
	    (r = k8s_from_pod_keys(get(config, "Labels"), out, why)) < 0)
		return r;
	/* dockershim / cri-dockerd mark pod sandboxes with a label. */
	type = label_value(out, "io.kubernetes.docker.type");
	if (type && !(out->k8s_container_type = strdup(streq(type, "podsandbox") ? "sandbox" : type)))
		return -ENOMEM;
	if (streq(out->k8s_container_type, "sandbox")) {
		free(out->k8s_container_name);
		out->k8s_container_name = NULL;
	}
	return 0;
}

int docker_config_parse(const char *json, size_t len, const char *id, struct kwid_container_state *out,
			const char **why)
{
	json_object *root;
	int r;

	memset(out, 0, sizeof(*out));
	if (len > KWID_STATE_FILE_MAX)
		return fail(why, "docker state file too large");
	r = state_json_parse(json, len, &root, why);
	if (r < 0)
		return r;
	r = docker_config_parse_obj(root, id, out, why);
	json_object_put(root);
	if (r < 0)
		container_state_clear(out);
	return r;
}

static int oci_containerd(json_object *ann, struct kwid_container_state *out, const char **why)
{
	const char *bad = "CRI annotation is not a string";
	int r;

	if ((r = dup_member(ann, "io.kubernetes.cri.sandbox-name", &out->k8s_pod_name, why, bad)) < 0 ||
	    (r = dup_member(ann, "io.kubernetes.cri.sandbox-namespace", &out->k8s_namespace, why, bad)) < 0 ||
	    (r = dup_member(ann, "io.kubernetes.cri.sandbox-uid", &out->k8s_pod_uid, why, bad)) < 0 ||
	    (r = dup_member(ann, "io.kubernetes.cri.container-type", &out->k8s_container_type, why, bad)) < 0 ||
	    (r = dup_member(ann, "io.kubernetes.cri.image-name", &out->k8s_image, why, bad)) < 0 ||
	    (r = dup_member(ann, "nerdctl/name", &out->name, why, bad)) < 0)
		return r;
	if (streq(out->k8s_container_type, "container")) {
		r = dup_member(ann, "io.kubernetes.cri.container-name", &out->k8s_container_name, why, bad);
		if (r < 0)
			return r;
	}
	if (out->k8s_image) {
		out->image_name = strdup(out->k8s_image);
		if (!out->image_name)
			return -ENOMEM;
	}
	return 0;
}

static int oci_crio(json_object *ann, const char *id, struct kwid_container_state *out, const char **why)
{
	_cleanup_free_ char *file_id = NULL, *ref = NULL;
	const char *bad = "CRI-O annotation is not a string";
	int r;

	r = dup_member(ann, "io.kubernetes.cri-o.ContainerID", &file_id, why, bad);
	if (r < 0)
		return r;
	if (!streq(file_id, id))
		return fail(why, "CRI-O bundle describes another container");
	if ((r = k8s_from_pod_keys(ann, out, why)) < 0 ||
	    (r = dup_member(ann, "io.kubernetes.cri-o.ContainerType", &out->k8s_container_type, why, bad)) < 0 ||
	    (r = dup_member(ann, "io.kubernetes.cri-o.ImageName", &out->image_name, why, bad)) < 0 ||
	    (r = dup_member(ann, "io.kubernetes.cri-o.ContainerName", &out->name, why, bad)) < 0 ||
	    (r = dup_member(ann, "io.kubernetes.cri-o.ImageRef", &ref, why, bad)) < 0 ||
	    (r = set_digest(ref, &out->image_config_digest, why)) < 0)
		return r;
	if (!streq(out->k8s_container_type, "container")) {
		free(out->k8s_container_name);
		out->k8s_container_name = NULL;
	}
	if (out->image_name) {
		out->k8s_image = strdup(out->image_name);
		if (!out->k8s_image)
			return -ENOMEM;
	}
	return 0;
}

int oci_config_parse(const char *json, size_t len, enum kwid_runtime runtime, const char *id,
		     struct kwid_container_state *out, const char **why)
{
	json_object *root = NULL, *ann;
	int r;

	memset(out, 0, sizeof(*out));
	if (runtime != KWID_RUNTIME_CONTAINERD && runtime != KWID_RUNTIME_CRIO)
		return fail(why, "no OCI bundle reader for this runtime");
	if (len > KWID_STATE_FILE_MAX)
		return fail(why, "OCI bundle config too large");
	r = state_json_parse(json, len, &root, why);
	if (r < 0)
		return r;
	if (!json_object_is_type(root, json_type_object)) {
		r = fail(why, "OCI bundle config is not a JSON object");
		goto out;
	}
	ann = get(root, "annotations");
	if (ann && !json_object_is_type(ann, json_type_object)) {
		r = fail(why, "OCI bundle annotations are not an object");
		goto out;
	}
	out->runtime = runtime;
	out->id = strdup(id);
	if (!out->id) {
		r = -ENOMEM;
		goto out;
	}
	r = runtime == KWID_RUNTIME_CRIO ? oci_crio(ann, id, out, why) : oci_containerd(ann, out, why);
out:
	json_object_put(root);
	if (r < 0)
		container_state_clear(out);
	return r;
}

int cstorage_containers_find(json_object *root, const char *id, struct kwid_container_state *out, const char **why)
{
	_cleanup_free_ char *image = NULL, *meta = NULL;
	json_object *c = NULL, *names, *metaobj = NULL;
	size_t n;
	int r;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(root, json_type_array))
		return fail(why, "containers.json is not a JSON array");
	n = json_object_array_length(root);
	for (size_t i = 0; i < n && !c; i++) {
		json_object *e = json_object_array_get_idx(root, i), *v = get(e, "id");
		if (v && json_object_is_type(v, json_type_string) && streq(json_object_get_string(v), id))
			c = e;
	}
	if (!c)
		return -ENOENT;
	out->runtime = KWID_RUNTIME_PODMAN;
	out->id = strdup(id);
	if (!out->id)
		return -ENOMEM;
	if ((r = dup_member(c, "image", &image, why, "containers.json image is not a string")) < 0 ||
	    (r = set_digest(image, &out->image_config_digest, why)) < 0 ||
	    (r = dup_member(c, "metadata", &meta, why, "containers.json metadata is not a string")) < 0)
		goto fail;
	names = get(c, "names");
	if (names && json_object_is_type(names, json_type_array) && json_object_array_length(names) > 0 &&
	    (r = dup_string(json_object_array_get_idx(names, 0), &out->name)) < 0) {
		r = fail(why, "containers.json name is not a string");
		goto fail;
	}
	/* metadata is JSON text inside the JSON: podman's and CRI-O's
	 * RuntimeContainerMetadata with "image-name". */
	if (meta && state_json_parse(meta, strlen(meta), &metaobj, why) == 0) {
		r = dup_member(metaobj, "image-name", &out->image_name, why, "container metadata image-name is not a string");
		json_object_put(metaobj);
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	container_state_clear(out);
	return r;
}

int cstorage_containers_parse(const char *json, size_t len, const char *id, struct kwid_container_state *out,
			      const char **why)
{
	json_object *root;
	int r;

	memset(out, 0, sizeof(*out));
	r = state_json_parse(json, len, &root, why);
	if (r < 0)
		return r;
	r = cstorage_containers_find(root, id, out, why);
	json_object_put(root);
	return r;
}
