/* kwidctl.c - entry point of kwidctl, the SRE's tool: global options and
 * dispatch to the command tables of the cmd_*.c files. */
#include "kwidctl.h"

#include <getopt.h>
#include <signal.h>

extern const struct kwidctl_command kwidctl_status_commands[];
extern const struct kwidctl_command kwidctl_wlapi_commands[];
extern const struct kwidctl_command kwidctl_entry_commands[];
extern const struct kwidctl_command kwidctl_selectors_commands[];
extern const struct kwidctl_command kwidctl_node_commands[];
extern const struct kwidctl_command kwidctl_proc_commands[];
extern const struct kwidctl_command kwidctl_bundle_commands[];
extern const struct kwidctl_command kwidctl_svid_commands[];

/* Every command table, each terminated by an entry with name == NULL. */
static const struct kwidctl_command *const command_tables[] = {
	kwidctl_status_commands,
	kwidctl_wlapi_commands,
	kwidctl_entry_commands,
	kwidctl_selectors_commands,
	kwidctl_node_commands,
	kwidctl_proc_commands,
	kwidctl_bundle_commands,
	kwidctl_svid_commands,
};

static void print_help(FILE *f)
{
	fprintf(f, "usage: kwidctl [--admin-socket PATH] [--socket PATH] [--json] COMMAND [ARGS]\n\n"
		   "Talks to kwid-agent over its root-only admin socket (default " KWIDCTL_DEFAULT_ADMIN_SOCKET
		   ")\nor, for fetch/watch/validate, over the Workload API socket (--socket, else\n"
		   "$SPIFFE_ENDPOINT_SOCKET, else " KWIDCTL_DEFAULT_API_SOCKET ").\n\ncommands:\n");
	for (size_t t = 0; t < ARRAY_SIZE(command_tables); t++)
		for (const struct kwidctl_command *c = command_tables[t]; c->name; c++)
			fprintf(f, "  %-16s %s\n", c->name, c->help);
	fprintf(f, "\nexit status: 0 ok, 1 failed, 2 usage error, 3 agent unreachable or permission denied\n");
}

static const struct kwidctl_command *find(const char *name)
{
	for (size_t t = 0; t < ARRAY_SIZE(command_tables); t++)
		for (const struct kwidctl_command *c = command_tables[t]; c->name; c++)
			if (streq(c->name, name))
				return c;
	return NULL;
}

int kwidctl_usage(const char *name)
{
	const struct kwidctl_command *c = find(name);

	if (c)
		fprintf(stderr, "usage: kwidctl %s %s\n       %s\n", c->name, c->usage, c->help);
	return KWIDCTL_USAGE;
}

/* Commands are one or two words ("ps", "entry create"). The --json flag is
 * accepted anywhere on the line; it is removed before the command sees
 * argv. */
int main(int argc, char **argv)
{
	struct kwidctl ctx = {.admin_socket = KWIDCTL_DEFAULT_ADMIN_SOCKET};
	const struct kwidctl_command *cmd = NULL;
	const char *env;
	char name[128];
	int i = 1, nargs = 0;
	char **args = calloc((size_t)argc + 1, sizeof(char *));

	if (!args)
		return KWIDCTL_FAILED;
	signal(SIGPIPE, SIG_IGN); /* a closed socket is an error to report, not a death */
	env = getenv("SPIFFE_ENDPOINT_SOCKET");
	ctx.api_socket = env && *env ? env : KWIDCTL_DEFAULT_API_SOCKET;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (streq(a, "--json")) {
			ctx.json = true;
		} else if ((streq(a, "--admin-socket") || streq(a, "--socket")) && i + 1 < argc) {
			if (streq(a, "--socket"))
				ctx.api_socket = argv[++i];
			else
				ctx.admin_socket = argv[++i];
		} else if (startswith(a, "--admin-socket=")) {
			ctx.admin_socket = a + strlen("--admin-socket=");
		} else if (startswith(a, "--socket=")) {
			ctx.api_socket = a + strlen("--socket=");
		} else if (streq(a, "-h") || streq(a, "--help")) {
			if (!cmd) {
				print_help(stdout);
				free(args);
				return KWIDCTL_OK;
			}
			args[nargs++] = argv[i];
		} else if (!cmd && a[0] != '-') {
			/* Try the two-word form first. */
			if (i + 1 < argc && snprintf(name, sizeof(name), "%s %s", a, argv[i + 1]) < (int)sizeof(name) &&
			    (cmd = find(name))) {
				i++;
			} else {
				cmd = find(a);
				if (!cmd) {
					fprintf(stderr, "kwidctl: unknown command '%s' (see kwidctl --help)\n", a);
					free(args);
					return KWIDCTL_USAGE;
				}
			}
			args[nargs++] = (char *)cmd->name;
		} else if (!cmd) {
			fprintf(stderr, "kwidctl: unknown option '%s' (see kwidctl --help)\n", a);
			free(args);
			return KWIDCTL_USAGE;
		} else {
			args[nargs++] = argv[i];
		}
	}
	if (!cmd) {
		print_help(stderr);
		free(args);
		return KWIDCTL_USAGE;
	}
	if (startswith(ctx.api_socket, "unix://"))
		ctx.api_socket += strlen("unix://");
	if (nargs > 1 && (streq(args[1], "-h") || streq(args[1], "--help"))) {
		printf("usage: kwidctl %s %s\n       %s\n", cmd->name, cmd->usage, cmd->help);
		free(args);
		return KWIDCTL_OK;
	}
	i = cmd->fn(&ctx, nargs, args);
	free(args);
	return i;
}
