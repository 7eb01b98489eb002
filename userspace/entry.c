/* entry.c - one registration entry: its fields, the rule each field must
 * keep, and its JSON form (the same in the durable store, the read-only
 * directory and the admin protocol). See kwid/entries.h. */
#include "kwid/entries.h"
#include "kwid/spiffe_id.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdarg.h>

/* Largest expires_at accepted: 9999-12-31T23:59:59Z. */
#define ENTRY_EXPIRES_MAX 253402300799LL

struct kwid_entry *entry_new(void)
{
	struct kwid_entry *e = calloc(1, sizeof(*e));

	if (e)
		selset_init(&e->selectors);
	return e;
}

void entry_free(struct kwid_entry *e)
{
	if (!e)
		return;
	free(e->id);
	free(e->spiffe_id);
	selset_clear(&e->selectors);
	for (size_t i = 0; i < e->ndns; i++)
		free(e->dns_names[i]);
	free(e->dns_names);
	free(e->hint);
	free(e->source);
	free(e);
}

/* ---- error reporting ---- */

/* Printable, quoted-safe copy of an untrusted value, shortened. */
static void escape_value(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	for (; *src && o + 8 < len; src++) {
		unsigned char c = (unsigned char)*src;
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, len - o, "\\x%02x", c);
	}
	if (*src)
		o += (size_t)snprintf(dst + o, len - o, "...");
	dst[MIN(o, len - 1)] = '\0';
}

int entry_error_set(struct entry_error *err, const char *field, const char *value, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -EINVAL;
	escape_value(err->field, sizeof(err->field), field);
	if (value)
		escape_value(err->value, sizeof(err->value), value);
	else
		err->value[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->rule, sizeof(err->rule), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void entry_error_format(const struct entry_error *err, const char *(*field_name)(const char *field),
			char *buf, size_t len)
{
	const char *name = field_name ? field_name(err->field) : NULL;

	if (!name)
		name = err->field;
	if (err->value[0])
		snprintf(buf, len, "invalid %s \"%s\": %s", name, err->value, err->rule);
	else
		snprintf(buf, len, "invalid %s: %s", name, err->rule);
}

/* ---- single-field rules ---- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int entry_id_validate(const char *id, const char **why)
{
	size_t len = id ? strnlen(id, ENTRY_ID_MAX + 1) : 0;

	if (len == 0) {
		*why = "entry id is empty";
		return -EINVAL;
	}
	if (len > ENTRY_ID_MAX) {
		*why = "entry id is longer than " STRINGIFY(ENTRY_ID_MAX) " bytes";
		return -EINVAL;
	}
	if (!is_alnum(id[0])) {
		*why = "entry id must start with a letter or digit";
		return -EINVAL;
	}
	for (const char *p = id; *p; p++) {
		if (!is_alnum(*p) && *p != '.' && *p != '-' && *p != '_') {
			*why = "entry id may only hold a-z A-Z 0-9 . - _";
			return -EINVAL;
		}
	}
	return 0;
}

static int dns_label_validate(const char *l, size_t len, bool first, const char **why)
{
	if (len == 0) {
		*why = "DNS name has an empty label";
		return -EINVAL;
	}
	if (first && len == 1 && l[0] == '*')
		return 0;
	if (len > 63) {
		*why = "DNS label is longer than 63 bytes";
		return -EINVAL;
	}
	if (l[0] == '-' || l[len - 1] == '-') {
		*why = "DNS label may not start or end with -";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		char c = l[i];
		if (c >= 'A' && c <= 'Z') {
			*why = "DNS name must be lowercase";
			return -EINVAL;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			*why = c == '*' ? "DNS wildcard * is only allowed as the whole first label"
					: "DNS label may only hold a-z 0-9 -";
			return -EINVAL;
		}
	}
	return 0;
}

int entry_dns_name_validate(const char *name, const char **why)
{
	size_t len = name ? strnlen(name, ENTRY_DNS_NAME_MAX + 1) : 0;
	const char *label;
	bool first = true;

	if (len == 0) {
		*why = "DNS name is empty";
		return -EINVAL;
	}
	if (len > ENTRY_DNS_NAME_MAX) {
		*why = "DNS name is longer than " STRINGIFY(ENTRY_DNS_NAME_MAX) " bytes";
		return -EINVAL;
	}
	if (streq(name, "*")) {
		*why = "DNS wildcard * needs a domain after it (*.example.org)";
		return -EINVAL;
	}
	label = name;
	for (const char *p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			int r = dns_label_validate(label, (size_t)(p - label), first, why);
			if (r < 0)
				return r;
			if (*p == '\0')
				return 0;
			first = false;
			label = p + 1;
		}
	}
}

int entry_hint_validate(const char *hint, const char **why)
{
	size_t len = hint ? strnlen(hint, ENTRY_HINT_MAX + 1) : 0;

	if (len == 0) {
		*why = "hint is empty (leave it out for no hint)";
		return -EINVAL;
	}
	if (len > ENTRY_HINT_MAX) {
		*why = "hint is longer than " STRINGIFY(ENTRY_HINT_MAX) " bytes";
		return -EINVAL;
	}
	for (const char *p = hint; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
			*why = "hint may only hold printable ASCII";
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- JSON to entry ---- */

static bool is_null(json_object *v)
{
	return !v || json_object_is_type(v, json_type_null);
}

static int parse_string(json_object *v, const char *field, int (*check)(const char *, const char **),
			char **out, struct entry_error *err)
{
	const char *s, *why;

	if (!json_object_is_type(v, json_type_string))
		return entry_error_set(err, field, NULL, "must be a string");
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return entry_error_set(err, field, s, "must not hold a NUL byte");
	if (check(s, &why) < 0)
		return entry_error_set(err, field, s, "%s", why);
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int parse_int(json_object *v, const char *field, int64_t min, int64_t max, bool zero_ok,
		     int64_t *out, struct entry_error *err)
{
	char num[32];
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return entry_error_set(err, field, NULL, "must be an integer");
	errno = 0;
	n = json_object_get_int64(v);
	snprintf(num, sizeof(num), "%" PRId64, n);
	if (errno == ERANGE || ((n < min || n > max) && !(zero_ok && n == 0))) {
		if (zero_ok)
			return entry_error_set(err, field, num, "must be 0 (default) or between %" PRId64 " and %" PRId64,
				    min, max);
		return entry_error_set(err, field, num, "must be between %" PRId64 " and %" PRId64, min, max);
	}
	*out = n;
	return 0;
}

static int parse_selectors(json_object *v, struct kwid_entry *e, struct entry_error *err)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return entry_error_set(err, "selectors", NULL, "must be an array of \"type:value\" strings");
	n = json_object_array_length(v);
	if (n == 0)
		return entry_error_set(err, "selectors", NULL, "an entry needs at least one selector");
	if (n > ENTRY_MAX_SELECTORS)
		return entry_error_set(err, "selectors", NULL, "an entry may have at most %d selectors",
			    ENTRY_MAX_SELECTORS);
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(v, i);
		const char *sel, *why;
		int r;

		if (!json_object_is_type(s, json_type_string))
			return entry_error_set(err, "selectors", NULL, "must be an array of \"type:value\" strings");
		sel = json_object_get_string(s);
		if (strlen(sel) != (size_t)json_object_get_string_len(s))
			return entry_error_set(err, "selectors", sel, "must not hold a NUL byte");
		if (selector_validate(sel, &why) < 0)
			return entry_error_set(err, "selectors", sel, "%s", why);
		r = selset_add_str(&e->selectors, sel);
		if (r < 0)
			return r;
	}
	selset_sort(&e->selectors);
	if (e->selectors.n != n) {
		for (size_t i = 0; i < n; i++) {
			const char *a = json_object_get_string(json_object_array_get_idx(v, i));
			for (size_t j = i + 1; j < n; j++)
				if (streq(a, json_object_get_string(json_object_array_get_idx(v, j))))
					return entry_error_set(err, "selectors", a, "selector is given twice");
		}
	}
	return 0;
}

static int parse_dns_names(json_object *v, struct kwid_entry *e, struct entry_error *err)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return entry_error_set(err, "dns_names", NULL, "must be an array of strings");
	n = json_object_array_length(v);
	if (n > ENTRY_MAX_DNS_NAMES)
		return entry_error_set(err, "dns_names", NULL, "an entry may have at most %d DNS names",
			    ENTRY_MAX_DNS_NAMES);
	e->dns_names = calloc_array(n, sizeof(char *));
	if (!e->dns_names)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char *name = NULL;
		int r = parse_string(json_object_array_get_idx(v, i), "dns_names", entry_dns_name_validate,
				     &name, err);
		if (r < 0)
			return r;
		for (size_t j = 0; j < e->ndns; j++) {
			if (streq(e->dns_names[j], name)) {
				r = entry_error_set(err, "dns_names", name, "DNS name is given twice");
				free(name);
				return r;
			}
		}
		e->dns_names[e->ndns++] = name;
	}
	return 0;
}

static int spiffe_id_check(const char *id, const char **why)
{
	int r = spiffe_id_validate(id, why);

	if (r == 0 && *spiffe_id_path(id) == '\0') {
		*why = "an entry's SPIFFE ID needs a path (spiffe://TD/PATH)";
		return -EINVAL;
	}
	return r;
}

static int parse_field(const char *key, json_object *v, unsigned flags, struct kwid_entry *e,
		       struct entry_error *err)
{
	int64_t n;
	int r;

	if (streq(key, "id"))
		return is_null(v) ? 0 : parse_string(v, "id", entry_id_validate, &e->id, err);
	if (streq(key, "spiffe_id"))
		return is_null(v) ? 0 : parse_string(v, "spiffe_id", spiffe_id_check, &e->spiffe_id, err);
	if (streq(key, "selectors"))
		return parse_selectors(v, e, err);
	if (streq(key, "dns_names"))
		return is_null(v) ? 0 : parse_dns_names(v, e, err);
	if (streq(key, "hint"))
		return is_null(v) ? 0 : parse_string(v, "hint", entry_hint_validate, &e->hint, err);
	if (streq(key, "x509_svid_ttl") || streq(key, "jwt_svid_ttl")) {
		bool x509 = key[0] == 'x';
		r = parse_int(v, key, x509 ? ENTRY_X509_TTL_MIN : ENTRY_JWT_TTL_MIN,
			      x509 ? ENTRY_X509_TTL_MAX : ENTRY_JWT_TTL_MAX, true, &n, err);
		if (r == 0)
			*(x509 ? &e->x509_svid_ttl : &e->jwt_svid_ttl) = (uint32_t)n;
		return r;
	}
	if (streq(key, "expires_at"))
		return parse_int(v, key, 0, ENTRY_EXPIRES_MAX, false, &e->expires_at, err);
	if (streq(key, "created_at_ns") && (flags & ENTRY_JSON_ALLOW_CREATED))
		return parse_int(v, key, 0, INT64_MAX, false, &e->created_ns, err);
	return entry_error_set(err, *key ? key : "\"\"", NULL,
		    "unknown field (known: id, spiffe_id, selectors, x509_svid_ttl, jwt_svid_ttl, "
		    "dns_names, hint, expires_at%s)",
		    (flags & ENTRY_JSON_ALLOW_CREATED) ? ", created_at_ns" : "");
}

int entry_from_json(json_object *obj, unsigned flags, struct kwid_entry **out, struct entry_error *err)
{
	_cleanup_(entry_freep) struct kwid_entry *e = NULL;

	if (!json_object_is_type(obj, json_type_object))
		return entry_error_set(err, "entry", NULL, "must be a JSON object");
	e = entry_new();
	if (!e)
		return -ENOMEM;
	json_object_object_foreach(obj, key, val)
	{
		int r = parse_field(key, val, flags, e, err);
		if (r < 0)
			return r;
	}
	if (!e->spiffe_id)
		return entry_error_set(err, "spiffe_id", NULL, "is required");
	if (e->selectors.n == 0)
		return entry_error_set(err, "selectors", NULL, "an entry needs at least one selector");
	if (!e->id && (flags & ENTRY_JSON_NEED_ID))
		return entry_error_set(err, "id", NULL, "is required");
	*out = TAKE_PTR(e);
	return 0;
}

/* ---- entry to JSON ---- */

static json_object *string_array(char *const *v, size_t n)
{
	json_object *a = json_object_new_array_ext((int)n);

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

json_object *entry_to_json(const struct kwid_entry *e, bool with_state, int64_t now)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", e->id ? json_object_new_string(e->id) : NULL);
	json_object_object_add(o, "spiffe_id", json_object_new_string(e->spiffe_id));
	json_object_object_add(o, "selectors", string_array(e->selectors.v, e->selectors.n));
	json_object_object_add(o, "x509_svid_ttl", json_object_new_int64(e->x509_svid_ttl));
	json_object_object_add(o, "jwt_svid_ttl", json_object_new_int64(e->jwt_svid_ttl));
	json_object_object_add(o, "dns_names", string_array(e->dns_names, e->ndns));
	json_object_object_add(o, "hint", e->hint ? json_object_new_string(e->hint) : NULL);
	json_object_object_add(o, "expires_at", json_object_new_int64(e->expires_at));
	json_object_object_add(o, "created_at_ns", json_object_new_int64(e->created_ns));
	if (with_state) {
		json_object_object_add(o, "read_only", json_object_new_boolean(e->read_only));
		json_object_object_add(o, "source", e->source ? json_object_new_string(e->source) : NULL);
		json_object_object_add(o, "revision", json_object_new_int64((int64_t)e->revision));
		json_object_object_add(o, "expired", json_object_new_boolean(entry_expired(e, now)));
	}
	return o;
}

/* ---- comparisons and identity ---- */

bool entry_equal(const struct kwid_entry *a, const struct kwid_entry *b)
{
	if (!streq_ptr(a->id, b->id) || !streq(a->spiffe_id, b->spiffe_id) || !streq_ptr(a->hint, b->hint) ||
	    a->x509_svid_ttl != b->x509_svid_ttl || a->jwt_svid_ttl != b->jwt_svid_ttl ||
	    a->expires_at != b->expires_at || a->created_ns != b->created_ns ||
	    a->selectors.n != b->selectors.n || a->ndns != b->ndns)
		return false;
	for (size_t i = 0; i < a->selectors.n; i++)
		if (!streq(a->selectors.v[i], b->selectors.v[i]))
			return false;
	for (size_t i = 0; i < a->ndns; i++)
		if (!streq(a->dns_names[i], b->dns_names[i]))
			return false;
	return true;
}

char *entry_identity_key(const struct kwid_entry *e)
{
	size_t len = strlen(e->spiffe_id) + 2, o;
	char *key;

	for (size_t i = 0; i < e->selectors.n; i++)
		len += strlen(e->selectors.v[i]) + 1;
	key = malloc(len);
	if (!key)
		return NULL;
	o = (size_t)sprintf(key, "%s\n", e->spiffe_id);
	for (size_t i = 0; i < e->selectors.n; i++)
		o += (size_t)sprintf(key + o, "%s\n", e->selectors.v[i]);
	return key;
}

bool entry_expired(const struct kwid_entry *e, int64_t now)
{
	return e->expires_at != 0 && e->expires_at <= now;
}

int entry_assign_random_id(struct kwid_entry *e)
{
	uint8_t b[16];
	char hex[33], *id;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	hex_encode(b, sizeof(b), hex);
	if (asprintf(&id, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20) < 0)
		return -ENOMEM;
	free(e->id);
	e->id = id;
	return 0;
}

int entry_cmp_order(const void *a, const void *b)
{
	const struct kwid_entry *x = *(const struct kwid_entry *const *)a;
	const struct kwid_entry *y = *(const struct kwid_entry *const *)b;

	if (x->created_ns != y->created_ns)
		return x->created_ns < y->created_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}
