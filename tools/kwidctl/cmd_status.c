/* cmd_status.c - `kwidctl status`: the agent's health at a glance. */
#include "kwidctl.h"

static const char *scalar(json_object *v)
{
	return v ? json_object_get_string(v) : "-"; /* JSON null */
}

static void print_value(const char *key, json_object *v, int depth)
{
	if (json_object_is_type(v, json_type_object)) {
		printf("%*s%s:\n", depth * 2, "", key);
		json_object_object_foreach(v, k, child)
			print_value(k, child, depth + 1);
		return;
	}
	if (json_object_is_type(v, json_type_array)) {
		printf("%*s%s:", depth * 2, "", key);
		for (size_t i = 0; i < json_object_array_length(v); i++)
			printf("%s%s", i ? ", " : " ", scalar(json_object_array_get_idx(v, i)));
		printf("\n");
		return;
	}
	printf("%*s%-*s %s\n", depth * 2, "", 24 - depth * 2, key, scalar(v));
}

static int cmd_status(struct kwidctl *ctx, int argc, char **argv)
{
	json_object *res;
	int r;

	if (argc != 1)
		return kwidctl_usage("status");
	r = kwidctl_call(ctx, "status", NULL, &res);
	if (r)
		return r;
	if (ctx->json) {
		kwidctl_print_json(res);
	} else {
		json_object_object_foreach(res, key, val)
			print_value(key, val, 0);
	}
	json_object_put(res);
	return KWIDCTL_OK;
}

const struct kwidctl_command kwidctl_status_commands[] = {
	{"status", cmd_status, "[--json]", "agent version, kernel features in use and counters"},
	{NULL, NULL, NULL, NULL},
};
