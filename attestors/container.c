/* container.c - the container attestor: container id and runtime from the
 * kernel's report of the process's cgroup membership, image identity,
 * name and labels from the runtime's state on disk (no daemon
 * round-trip). Never from mount tables, which a process can forge. */
#include "kwid/agent.h"
#include "kwid/attest.h"
#include "kwid/attestor_util.h"
#include "kwid/cgroup_path.h"
#include "kwid/log.h"
#include "kwid/runtime_state.h"

#define ENV_ALLOW_MAX 64

struct container_state {
	char *env_allow[ENV_ALLOW_MAX]; /* attestors.docker_env_allow */
	size_t nenv_allow;
	uint64_t containers, without_state, skipped_selectors;
};

static bool env_allowed(const struct container_state *st, const char *kv)
{
	const char *eq = strchr(kv, '=');

	if (!eq)
		return false;
	for (size_t i = 0; i < st->nenv_allow; i++)
		if (strlen(st->env_allow[i]) == (size_t)(eq - kv) && strncmp(kv, st->env_allow[i], (size_t)(eq - kv)) == 0)
			return true;
	return false;
}

/* Selectors of free-form runtime text: one that cannot be a selector (too
 * long, empty) is left out and counted, never shortened. */
static int add_soft(struct container_state *st, struct kwid_selector_set *out, const char *type, const char *key,
		    const char *value)
{
	int r;

	if (!value)
		return 0;
	r = sel_add(out, type, key, value);
	if (r == -ENAMETOOLONG || r == -EINVAL) {
		st->skipped_selectors++;
		return 0;
	}
	return r;
}

static int add_docker(struct container_state *st, const struct kwid_container_state *s, struct kwid_selector_set *out)
{
	int r;

	if ((r = add_soft(st, out, "docker", "image_id", s->image_name)) < 0 ||
	    (r = add_soft(st, out, "docker", "image_config_digest", s->image_config_digest)) < 0)
		return r;
	for (size_t i = 0; i < s->nlabels; i++) {
		const struct kwid_kv *l = &s->labels[i];

		r = sel_add_label(out, "docker:label", l->key, l->value);
		if (r == -ENAMETOOLONG || r == -EINVAL) {
			st->skipped_selectors++;
			r = 0;
		}
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < s->nenv; i++) {
		if (!env_allowed(st, s->env[i]))
			continue;
		r = add_soft(st, out, "docker", "env", s->env[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int container_attest(void *state, const struct kwid_attest_ctx *ctx, struct kwid_selector_set *out)
{
	struct container_state *st = state;
	const struct kwid_cgroup_path_info *info;
	const struct kwid_container_state *s = NULL;
	enum kwid_runtime runtime;
	char why[512];
	int r;

	r = attest_cgroup_facts(ctx, true, &info);
	if (r < 0)
		return r;
	if (!info->container_id[0] || info->conmon)
		return 0; /* not in a container (a runtime monitor is not one) */
	st->containers++;
	r = runtime_cache_lookup(ctx->runtimes, info->runtime, info->container_id, &s, why, sizeof(why));
	if (r < 0 && r != -ENOENT) {
		attest_note(ctx, "runtime state of container %s refused: %s", info->container_id, why);
		return r;
	}
	runtime = info->runtime > KWID_RUNTIME_UNKNOWN ? info->runtime : (s ? s->runtime : KWID_RUNTIME_NONE);
	if ((r = selset_addf(out, "container:id:%s", info->container_id)) < 0)
		return r;
	if (runtime_to_string(runtime) &&
	    (r = selset_addf(out, "container:runtime:%s", runtime_to_string(runtime))) < 0)
		return r;
	if (!s) {
		st->without_state++;
		attest_note(ctx, "no %s state for container %s: image selectors left out",
			    runtime_to_string(runtime) ? runtime_to_string(runtime) : "runtime", info->container_id);
		return 0;
	}
	if ((r = add_soft(st, out, "container", "name", s->name)) < 0 ||
	    (r = add_soft(st, out, "container", "image_name", s->image_name)) < 0 ||
	    (r = add_soft(st, out, "container", "image_digest", s->image_config_digest)) < 0)
		return r;
	if (s->runtime == KWID_RUNTIME_DOCKER)
		return add_docker(st, s, out);
	return 0;
}

static int container_init(struct kwid_agent *a, void **state)
{
	_cleanup_free_ struct container_state *st = calloc(1, sizeof(*st));
	json_object *allow = a && a->cfg ? config_get(a->cfg, "attestors.docker_env_allow") : NULL;

	if (!st)
		return -ENOMEM;
	if (allow && !json_object_is_type(allow, json_type_array))
		return log_error_errno(-EINVAL, "config: attestors.docker_env_allow must be an array of names");
	for (size_t i = 0; allow && i < json_object_array_length(allow); i++) {
		json_object *v = json_object_array_get_idx(allow, i);
		const char *name = json_object_get_string(v);

		if (!json_object_is_type(v, json_type_string) || !*name || strchr(name, '=') ||
		    strlen(name) > 256)
			return log_error_errno(-EINVAL, "config: attestors.docker_env_allow[%zu] is not a variable name", i);
		if (st->nenv_allow == ENV_ALLOW_MAX)
			return log_error_errno(-E2BIG, "config: attestors.docker_env_allow holds more than %d names",
					       ENV_ALLOW_MAX);
		st->env_allow[st->nenv_allow] = strdup(name);
		if (!st->env_allow[st->nenv_allow++])
			return -ENOMEM;
	}
	*state = TAKE_PTR(st);
	return 0;
}

static void container_fini(void *state)
{
	struct container_state *st = state;

	if (!st)
		return;
	for (size_t i = 0; i < st->nenv_allow; i++)
		free(st->env_allow[i]);
	free(st);
}

static void container_status(void *state, json_object *out)
{
	struct container_state *st = state;

	json_object_object_add(out, "containers_seen", json_object_new_int64((int64_t)st->containers));
	json_object_object_add(out, "without_state", json_object_new_int64((int64_t)st->without_state));
	json_object_object_add(out, "skipped_selectors", json_object_new_int64((int64_t)st->skipped_selectors));
}

const struct kwid_attestor kwid_attestor_container = {
	.name = "container",
	.init = container_init,
	.fini = container_fini,
	.attest = container_attest,
	.status = container_status,
};
