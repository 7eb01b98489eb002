/* config.c - loads, merges and type-checks the agent configuration (see
 * kwid/config.h). The embedded default is both the defaults and the schema:
 * a key the default does not have is an error, and so is a value of another
 * type than the default's. */
#include "kwid/config.h"

#include <stdarg.h>

#define CONFIG_MAX_BYTES (1u << 20)

/* packaging/agent.json, linked in by config_default.S. */

static int errmsgf(char **errmsg, const char *fmt, ...) _printf_(2, 3);
static int errmsgf(char **errmsg, const char *fmt, ...)
{
	va_list ap;

	if (errmsg) {
		free(*errmsg);
		*errmsg = NULL;
		va_start(ap, fmt);
		if (vasprintf(errmsg, fmt, ap) < 0)
			*errmsg = NULL;
		va_end(ap);
	}
	return -EINVAL;
}

int config_parse_text(const char *text, const char *what, json_object **out, char **errmsg)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	json_object *obj;
	enum json_tokener_error jerr;
	size_t len = strlen(text);
	int r = 0;

	if (!tok)
		return -ENOMEM;
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!obj || jerr != json_tokener_success) {
		/* json-c calls running out of input "continue". */
		r = errmsgf(errmsg, "%s: invalid JSON at byte %zu: %s", what,
			    json_tokener_get_parse_end(tok),
			    jerr == json_tokener_continue ? "unexpected end of input"
							  : json_tokener_error_desc(jerr));
		json_object_put(obj);
	} else if (json_tokener_get_parse_end(tok) < len &&
		   strspn(text + json_tokener_get_parse_end(tok), " \t\r\n") !=
			   len - json_tokener_get_parse_end(tok)) {
		r = errmsgf(errmsg, "%s: trailing data after JSON at byte %zu", what,
			    json_tokener_get_parse_end(tok));
		json_object_put(obj);
	} else if (!json_object_is_type(obj, json_type_object)) {
		r = errmsgf(errmsg, "%s: top level must be a JSON object", what);
		json_object_put(obj);
	} else {
		*out = obj;
	}
	json_tokener_free(tok);
	return r;
}

static bool types_compatible(json_object *def, json_object *val)
{
	enum json_type dt = json_object_get_type(def), vt = json_object_get_type(val);

	if (dt == vt)
		return true;
	if (dt == json_type_null)
		return vt == json_type_string;
	if (dt == json_type_double)
		return vt == json_type_int;
	if (dt == json_type_string)
		return vt == json_type_null;
	return false;
}

/* Merge `src` into `dst` (both objects); `prefix` names the position for
 * error messages. */
static int merge(json_object *dst, json_object *src, const char *what, const char *prefix,
		 char **errmsg)
{
	json_object_object_foreach(src, key, val)
	{
		json_object *cur;
		char path[512];

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", key);
		if (!json_object_object_get_ex(dst, key, &cur))
			return errmsgf(errmsg, "%s: unknown key '%s'", what, path);
		if (!types_compatible(cur, val))
			return errmsgf(errmsg, "%s: key '%s' must be of type %s, not %s", what, path,
				       json_type_to_name(json_object_get_type(cur)),
				       json_type_to_name(json_object_get_type(val)));
		if (json_object_is_type(cur, json_type_object)) {
			int r = merge(cur, val, what, path, errmsg);
			if (r < 0)
				return r;
			continue;
		}
		json_object_object_add(dst, key, json_object_get(val));
	}
	return 0;
}

/* json-c keeps a JSON null member as a NULL value: *found tells it from an
 * absent key. */
static json_object *lookup_found(json_object *root, const char *key, bool *found)
{
	char buf[256];
	char *save = NULL, *part;
	json_object *cur = root;

	*found = false;
	if (strscpy(buf, key, sizeof(buf)) < 0)
		return NULL;
	for (part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
		if (!json_object_is_type(cur, json_type_object) ||
		    !json_object_object_get_ex(cur, part, &cur))
			return NULL;
	}
	*found = true;
	return cur;
}

static json_object *lookup(json_object *root, const char *key)
{
	bool found;

	return lookup_found(root, key, &found);
}

json_object *config_get(const struct kwid_config *cfg, const char *key)
{
	return lookup(cfg->root, key);
}

int config_get_string(const struct kwid_config *cfg, const char *key, const char **out)
{
	bool found;
	json_object *v = lookup_found(cfg->root, key, &found);

	if (found && (!v || json_object_is_type(v, json_type_null))) {
		*out = NULL;
		return 0;
	}
	if (!v || !json_object_is_type(v, json_type_string))
		return log_error_errno(-EINVAL, "config: key '%s' must be a string", key);
	*out = json_object_get_string(v);
	return 0;
}

int config_get_u64(const struct kwid_config *cfg, const char *key, uint64_t min, uint64_t max,
		   uint64_t *out)
{
	json_object *v = config_get(cfg, key);
	int64_t n;

	if (!v || !json_object_is_type(v, json_type_int))
		return log_error_errno(-EINVAL, "config: key '%s' must be an integer", key);
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return log_error_errno(-ERANGE, "config: key '%s' = %lld is outside [%llu, %llu]",
				       key, (long long)n, (unsigned long long)min,
				       (unsigned long long)max);
	*out = (uint64_t)n;
	return 0;
}

int config_get_bool(const struct kwid_config *cfg, const char *key, bool *out)
{
	json_object *v = config_get(cfg, key);

	if (!v || !json_object_is_type(v, json_type_boolean))
		return log_error_errno(-EINVAL, "config: key '%s' must be true or false", key);
	*out = json_object_get_boolean(v);
	return 0;
}

static int require_string(json_object *root, const char *key, bool absolute, const char **out,
			  char **errmsg)
{
	json_object *v = lookup(root, key);
	const char *s;

	if (!v || !json_object_is_type(v, json_type_string))
		return errmsgf(errmsg, "config: key '%s' must be a string", key);
	s = json_object_get_string(v);
	if (!*s)
		return errmsgf(errmsg, "config: key '%s' must not be empty", key);
	if (absolute && s[0] != '/')
		return errmsgf(errmsg, "config: key '%s' must be an absolute path, got '%s'", key, s);
	if (strlen(s) >= 108 && (endswith(key, "socket")))
		return errmsgf(errmsg, "config: key '%s': socket path longer than 107 bytes", key);
	*out = s;
	return 0;
}

void config_free(struct kwid_config *cfg)
{
	if (!cfg)
		return;
	json_object_put(cfg->root);
	free(cfg->source);
	free(cfg);
}

int config_load(const char *path, json_object *overrides, struct kwid_config **out, char **errmsg)
{
	_cleanup_(config_freep) struct kwid_config *cfg = NULL;
	_cleanup_free_ char *text = NULL;
	json_object *file = NULL, *lvl;
	int r;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	r = config_parse_text(kwid_default_config, "embedded default", &cfg->root, errmsg);
	if (r < 0)
		return r;
	if (path) {
		r = read_file(path, CONFIG_MAX_BYTES, &text, NULL);
		if (r < 0) {
			errmsgf(errmsg, "config: cannot read '%s': %s", path, strerror(-r));
			return r;
		}
		r = config_parse_text(text, path, &file, errmsg);
		if (r < 0)
			return r;
		r = merge(cfg->root, file, path, "", errmsg);
		json_object_put(file);
		if (r < 0)
			return r;
	}
	if (overrides) {
		r = merge(cfg->root, overrides, "command line", "", errmsg);
		if (r < 0)
			return r;
	}
	cfg->source = strdup(path ? path : "(embedded default)");
	if (!cfg->source)
		return -ENOMEM;
	if ((r = require_string(cfg->root, "trust_domain", false, &cfg->trust_domain, errmsg)) < 0 ||
	    (r = require_string(cfg->root, "socket", true, &cfg->socket_path, errmsg)) < 0 ||
	    (r = require_string(cfg->root, "admin_socket", true, &cfg->admin_socket_path, errmsg)) < 0 ||
	    (r = require_string(cfg->root, "state_dir", true, &cfg->state_dir, errmsg)) < 0)
		return r;
	lvl = lookup(cfg->root, "log_level");
	if (log_level_from_string(json_object_get_string(lvl), &cfg->log_level) < 0)
		return errmsgf(errmsg, "config: key 'log_level' must be error, warn, info or debug, not '%s'",
			       json_object_get_string(lvl));
	*out = TAKE_PTR(cfg);
	return 0;
}
