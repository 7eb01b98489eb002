/* cmd_selectors.c - `kwidctl selectors PID`: the selectors the agent
 * derives for the program a process runs now, grouped by attestor, with
 * every attestor's failure or note shown. */
#include "kwidctl.h"

#include <limits.h>

void kwidctl_print_attest_group(json_object *g)
{
	json_object *sels = jget(g, "selectors");
	const char *err = jstr(g, "error"), *msg = jstr(g, "message");
	size_t n = sels ? json_object_array_length(sels) : 0;

	if (err)
		printf("%s: FAILED: %s\n", jstr(g, "attestor"), msg ? msg : err);
	else if (json_object_get_boolean(jget(g, "incomplete")))
		printf("%s: INCOMPLETE: %s\n", jstr(g, "attestor"), msg ? msg : "evidence still to come");
	else if (msg)
		printf("%s: (%s)\n", jstr(g, "attestor"), msg);
	else
		printf("%s:%s\n", jstr(g, "attestor"), n ? "" : " (none)");
	for (size_t i = 0; i < n; i++)
		printf("  %s\n", json_object_get_string(json_object_array_get_idx(sels, i)));
}

static int cmd_selectors(struct kwidctl *ctx, int argc, char **argv)
{
	json_object *args, *res, *groups;
	pid_t pid;
	int r;

	if (argc != 2 || parse_pid(argv[1], &pid) < 0 || pid <= 0)
		return kwidctl_usage("selectors");
	args = json_object_new_object();
	json_object_object_add(args, "pid", json_object_new_int(pid));
	r = kwidctl_call(ctx, "selectors", args, &res);
	if (r)
		return r;
	if (ctx->json) {
		kwidctl_print_json(res);
	} else {
		groups = jget(res, "groups");
		for (size_t i = 0; groups && i < json_object_array_length(groups); i++)
			kwidctl_print_attest_group(json_object_array_get_idx(groups, i));
	}
	json_object_put(res);
	return KWIDCTL_OK;
}

const struct kwidctl_command kwidctl_selectors_commands[] = {
	{"selectors", cmd_selectors, "[--json] PID",
	 "the selectors of the program PID runs now, grouped by attestor"},
	{NULL, NULL, NULL, NULL},
};
