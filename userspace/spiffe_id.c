/* spiffe_id.c - SPIFFE ID and trust domain validation, byte for byte as
 * strict as go-spiffe (see kwid/spiffe_id.h and docs/workload-api.md).
 *
 * The parser walks the string once: scheme, trust domain up to the first
 * '/', then the path segment by segment. It never allocates. */
#include "kwid/spiffe_id.h"
#include "kwid/util.h"

#define SCHEME "spiffe://"
#define SCHEME_LEN (sizeof(SCHEME) - 1)

static bool is_td_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static bool is_path_char(char c)
{
	return is_td_char(c) || (c >= 'A' && c <= 'Z');
}

/* The rule a character outside the trust-domain alphabet breaks. Special
 * cases first so that an SRE sees what the URI parser would have made of
 * it (a port, userinfo, ...). */
static const char *td_char_rule(char c)
{
	switch (c) {
	case ':':
		return "trust domain may not have a port";
	case '@':
		return "trust domain may not have userinfo";
	case '%':
		return "trust domain may not hold percent-encoding";
	case '?':
		return "SPIFFE ID may not have a query";
	case '#':
		return "SPIFFE ID may not have a fragment";
	default:
		return "trust domain may only hold a-z 0-9 . - _";
	}
}

static const char *path_char_rule(char c)
{
	switch (c) {
	case '%':
		return "path may not hold percent-encoding";
	case '?':
		return "SPIFFE ID may not have a query";
	case '#':
		return "SPIFFE ID may not have a fragment";
	default:
		return "path segments may only hold a-z A-Z 0-9 . - _";
	}
}

/* Check the trust domain td[0..len). */
static int validate_td(const char *td, size_t len, const char **why)
{
	if (len == 0) {
		*why = "trust domain is missing";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_td_char(td[i])) {
			*why = td_char_rule(td[i]);
			return -EINVAL;
		}
	}
	if (len > SPIFFE_TD_MAX) {
		*why = "trust domain is longer than " STRINGIFY(SPIFFE_TD_MAX) " bytes";
		return -EINVAL;
	}
	return 0;
}

/* Rule broken by the segment seg[0..len) (without its leading '/'), or
 * NULL. `last` says whether it ends the path. */
static const char *segment_rule(const char *seg, size_t len, bool last)
{
	if (len == 0)
		return last ? "path may not end with /" : "path may not have an empty segment (//)";
	if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
		return "path may not have a . or .. segment";
	return NULL;
}

static int validate_path(const char *path, const char **why)
{
	const char *seg;

	if (*path == '\0')
		return 0;
	/* The caller split at the first '/', so path[0] is '/'. */
	seg = path + 1;
	for (const char *p = seg;; p++) {
		if (*p == '/' || *p == '\0') {
			const char *rule = segment_rule(seg, (size_t)(p - seg), *p == '\0');
			if (rule) {
				*why = rule;
				return -EINVAL;
			}
			if (*p == '\0')
				return 0;
			seg = p + 1;
		} else if (!is_path_char(*p)) {
			*why = path_char_rule(*p);
			return -EINVAL;
		}
	}
}

int spiffe_trust_domain_validate(const char *td, const char **why)
{
	const char *dummy;

	if (!why)
		why = &dummy;
	if (!td) {
		*why = "trust domain is missing";
		return -EINVAL;
	}
	return validate_td(td, strnlen(td, SPIFFE_TD_MAX + 1), why);
}

int spiffe_id_validate(const char *id, const char **why)
{
	const char *dummy, *td, *slash;
	size_t len;
	int r;

	if (!why)
		why = &dummy;
	if (!id || *id == '\0') {
		*why = "SPIFFE ID is empty";
		return -EINVAL;
	}
	len = strnlen(id, SPIFFE_ID_MAX + 1);
	if (len > SPIFFE_ID_MAX) {
		*why = "SPIFFE ID is longer than " STRINGIFY(SPIFFE_ID_MAX) " bytes";
		return -EINVAL;
	}
	/* go-spiffe: the scheme is matched exactly, "SPIFFE://" is refused. */
	if (strncmp(id, SCHEME, SCHEME_LEN) != 0) {
		*why = "SPIFFE ID must start with spiffe:// (lowercase)";
		return -EINVAL;
	}
	td = id + SCHEME_LEN;
	slash = strchr(td, '/');
	r = validate_td(td, slash ? (size_t)(slash - td) : strlen(td), why);
	if (r < 0)
		return r;
	return validate_path(slash ? slash : "", why);
}

int spiffe_id_trust_domain(const char *id, char *td, size_t tdlen)
{
	const char *start, *slash;
	size_t len;

	if (spiffe_id_validate(id, NULL) < 0)
		return -EINVAL;
	start = id + SCHEME_LEN;
	slash = strchr(start, '/');
	len = slash ? (size_t)(slash - start) : strlen(start);
	if (len + 1 > tdlen)
		return -ENAMETOOLONG;
	memcpy(td, start, len);
	td[len] = '\0';
	return 0;
}

const char *spiffe_id_path(const char *id)
{
	const char *slash;

	if (!startswith(id, SCHEME))
		return "";
	slash = strchr(id + SCHEME_LEN, '/');
	return slash ? slash : "";
}

bool spiffe_id_is_workload_in(const char *id, const char *td)
{
	char own[SPIFFE_TD_MAX + 1];

	if (!td || spiffe_id_trust_domain(id, own, sizeof(own)) < 0)
		return false;
	return streq(own, td) && *spiffe_id_path(id) != '\0';
}
