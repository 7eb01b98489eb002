/* admin.h - the root-only admin socket that kwidctl talks to.
 *
 * Protocol: one JSON object per line each way. Request
 *   {"cmd": "inspect", "args": {...}}
 * Response
 *   {"ok": true, "result": ...}   or   {"ok": false, "error": "message", "code": "not_found"}
 * Error codes: "invalid" (bad arguments), "not_found", "unavailable",
 * "denied", "internal". Requests are bounded (ADMIN_MAX_REQUEST bytes).
 *
 * Parts register their commands at start-up. A handler answers with
 * admin_reply_ok()/admin_reply_error(), either before it returns or later
 * (after asynchronous work); every request gets exactly one reply. */
#ifndef KWID_ADMIN_H
#define KWID_ADMIN_H

#include <json-c/json.h>

#include "kwid/util.h"

#define ADMIN_MAX_REQUEST (256 * 1024)

struct kwid_agent;
struct kwid_admin;
struct admin_request;

/* `args` is the request's "args" object (an empty object when absent);
 * borrowed for the duration of the call. Return 0 once replied or when a
 * reply will follow; a negative errno makes the server answer "internal". */
typedef int (*admin_handler_fn)(struct admin_request *req, json_object *args, void *userdata);

struct admin_command {
	const char *name;
	admin_handler_fn fn;
	void *userdata;
};

int admin_new(struct kwid_agent *a, struct kwid_admin **out);
void admin_free(struct kwid_admin *adm);
int admin_register(struct kwid_admin *adm, const struct admin_command *cmds, size_t n);

/* Both consume `result`/nothing and free the request. */
void admin_reply_ok(struct admin_request *req, json_object *result);
void admin_reply_error(struct admin_request *req, const char *code, const char *fmt, ...) _printf_(3, 4);
/* True when the client went away; the reply would be dropped. */
bool admin_request_orphaned(const struct admin_request *req);
/* Peer credentials of the client that sent the request. */
pid_t admin_request_peer_pid(const struct admin_request *req);

/* Helpers for handlers: typed access to args with clear errors. They reply
 * with "invalid" themselves and return -EINVAL when the argument is bad. */
int admin_arg_string(struct admin_request *req, json_object *args, const char *key, bool required,
		     const char **out);
int admin_arg_int(struct admin_request *req, json_object *args, const char *key, bool required,
		  int64_t min, int64_t max, int64_t *out);

#endif
