/* kwidctl.h - what every kwidctl command file shares: the invocation
 * context, the admin-socket client and the output helpers. */
#ifndef KWIDCTL_H
#define KWIDCTL_H

#include <json-c/json.h>
#include <stdbool.h>

#include "kwid/util.h"

/* Exit codes. */
#define KWIDCTL_OK 0
#define KWIDCTL_FAILED 1      /* the agent or a check said no */
#define KWIDCTL_USAGE 2       /* bad command line */
#define KWIDCTL_UNREACHABLE 3 /* agent not running or not allowed */

#define KWIDCTL_DEFAULT_ADMIN_SOCKET "/run/kwid/admin.sock"
#define KWIDCTL_DEFAULT_API_SOCKET "/run/kwid/public/api.sock"

struct kwidctl {
	const char *admin_socket;
	const char *api_socket; /* --socket, else $SPIFFE_ENDPOINT_SOCKET, else default */
	bool json;
};

struct kwidctl_command {
	const char *name;  /* "entry create" */
	int (*fn)(struct kwidctl *ctx, int argc, char **argv);
	const char *usage; /* "[--json] PID" */
	const char *help;  /* one line */
};

/* Send {"cmd":cmd,"args":args} (args consumed, may be NULL) to the agent.
 * On success *result holds the "result" member (caller puts it) and 0 is
 * returned. Otherwise the error is printed to stderr and the exit code to
 * use is returned (KWIDCTL_FAILED or KWIDCTL_UNREACHABLE). */
int kwidctl_call(struct kwidctl *ctx, const char *cmd, json_object *args, json_object **result);

/* Print a JSON value for --json output (pretty, newline-terminated). */
void kwidctl_print_json(json_object *obj);

/* Usage error for a command: prints "usage: kwidctl NAME USAGE" and
 * returns KWIDCTL_USAGE. */
int kwidctl_usage(const char *name);

/* Parse the common "--json" flag plus the options in `extra` (getopt_long
 * style); returns the index of the first operand or -1 on a usage error.
 * Implemented in kwidctl.c. */

/* One attestor's group of an attestation ({"attestor", "selectors",
 * "error", "message"}), as `kwidctl selectors` prints it (cmd_selectors.c;
 * `kwidctl why` prints the same). */
void kwidctl_print_attest_group(json_object *g);

/* ---- aligned tables for human output ---- */
struct table;
struct table *table_new(size_t ncols, const char *const *headers);
/* Add one row of ncols strings (copied; NULL prints "-"). */
int table_add(struct table *t, const char *const *cells);
int table_addf(struct table *t, const char *fmt, ...); /* cells separated by '\t' */
void table_print(struct table *t, FILE *f);
void table_free(struct table *t);
DEFINE_CLEANUP_FUNC(struct table, table_free)

/* Small JSON accessors that never crash on missing keys. */
const char *jstr(json_object *o, const char *key); /* NULL when absent */
int64_t jint(json_object *o, const char *key, int64_t dflt);
json_object *jget(json_object *o, const char *key);

#endif
