/* config.h - the agent's configuration: the embedded default
 * (packaging/agent.json), merged with an optional file and command-line
 * overrides, type-checked key by key against the default. */
#ifndef KWID_CONFIG_H
#define KWID_CONFIG_H

#include <json-c/json.h>

#include "kwid/log.h"

struct kwid_config {
	json_object *root;	  /* merged tree, owned */
	const char *trust_domain; /* the following point into root */
	const char *socket_path;
	const char *admin_socket_path;
	const char *state_dir;
	enum log_level log_level;
	char *source;		  /* config file path or "(embedded default)" */
};

/* The embedded default configuration text (NUL-terminated). */
extern const char kwid_default_config[];

/* Build a configuration: defaults, then `path` (may be NULL), then
 * `overrides` (a JSON object in the same shape, may be NULL; not consumed).
 * On failure *errmsg (malloc'd) names the file, key and rule broken. */
int config_load(const char *path, json_object *overrides, struct kwid_config **out, char **errmsg);
void config_free(struct kwid_config *cfg);
DEFINE_CLEANUP_FUNC(struct kwid_config, config_free)

/* Parse JSON-with-comments text. On failure *errmsg says where. */
int config_parse_text(const char *text, const char *what, json_object **out, char **errmsg);

/* Look up a dotted key ("tracking.mode"). NULL when absent. */
json_object *config_get(const struct kwid_config *cfg, const char *key);
/* Typed getters; they log and return -EINVAL/-ERANGE naming the key when
 * the value is missing, of the wrong type or out of [min,max]. A string key
 * whose value is null yields *out = NULL and 0. */
int config_get_string(const struct kwid_config *cfg, const char *key, const char **out);
int config_get_u64(const struct kwid_config *cfg, const char *key, uint64_t min, uint64_t max,
		   uint64_t *out);
int config_get_bool(const struct kwid_config *cfg, const char *key, bool *out);

#endif
