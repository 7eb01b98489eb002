/* ima_policy.c - checks a replayed IMA log against a runtime policy in
 * Keylime's format: "digests" (path -> allowed hex digests), "excludes"
 * (regular expressions, POSIX extended, anchored at the start of the path
 * like Python's re.match) and "ima-buf" (name -> digests, for ima-buf
 * entries such as kexec-cmdline or keys). Other Keylime keys ("meta",
 * "release", "keyrings", "ima", "verification-keys") are accepted and
 * ignored; see docs/NODE.md for what is and is not enforced. */
#include "kwid/errbuf.h"
#include "kwid/ima.h"

#include <ctype.h>

/* Every value must be an array of hex strings of a digest's length; they
 * are lowercased in place so that lookups compare plain strings. */
static int check_digest_map(json_object *map, const char *what, char *err, size_t errlen)
{
	if (!json_object_is_type(map, json_type_object))
		return errbuf_set(-EINVAL, err, errlen, "policy: '%s' must be an object", what);
	json_object_object_foreach(map, key, val) {
		size_t n;

		if (!json_object_is_type(val, json_type_array))
			return errbuf_set(-EINVAL, err, errlen, "policy: %s['%.200s'] must be an array of hex digests", what, key);
		n = json_object_array_length(val);
		for (size_t i = 0; i < n; i++) {
			json_object *d = json_object_array_get_idx(val, i);
			const char *s = json_object_get_string(d);
			size_t len = s ? strlen(s) : 0;
			char low[2 * KWID_DIGEST_MAX + 1];

			if (!json_object_is_type(d, json_type_string) ||
			    !(len == 40 || len == 64 || len == 96 || len == 128) ||
			    strspn(s, "0123456789abcdefABCDEF") != len)
				return errbuf_set(-EINVAL, err, errlen, "policy: %s['%.200s'][%zu] is not a hex SHA-1/2 digest", what,
					    key, i);
			for (size_t k = 0; k <= len; k++)
				low[k] = (char)tolower((unsigned char)s[k]);
			json_object_array_put_idx(val, i, json_object_new_string(low));
		}
	}
	return 0;
}

/* One ERE: ^(e1)|^(e2)|... */
static int compile_excludes(struct ima_policy *p, json_object *ex, char *err, size_t errlen)
{
	_cleanup_free_ char *re = NULL;
	size_t n, len = 1;
	int r;

	if (!json_object_is_type(ex, json_type_array))
		return errbuf_set(-EINVAL, err, errlen, "policy: 'excludes' must be an array of regular expressions");
	n = json_object_array_length(ex);
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(ex, i);
		if (!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) == 0)
			return errbuf_set(-EINVAL, err, errlen, "policy: excludes[%zu] must be a non-empty string", i);
		len += (size_t)json_object_get_string_len(e) + 5;
	}
	re = malloc(len);
	if (!re)
		return -ENOMEM;
	re[0] = '\0';
	for (size_t i = 0, o = 0; i < n; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(ex, i));
		regex_t one;
		/* Compile each alone first so that the error names it. */
		if (regcomp(&one, s, REG_EXTENDED | REG_NOSUB) != 0)
			return errbuf_set(-EINVAL, err, errlen, "policy: excludes[%zu] '%.200s' is not a POSIX extended regular expression",
				    i, s);
		regfree(&one);
		o += (size_t)sprintf(re + o, "%s^(%s)", i ? "|" : "", s);
	}
	r = regcomp(&p->excludes, re, REG_EXTENDED | REG_NOSUB);
	if (r != 0)
		return errbuf_set(-EINVAL, err, errlen, "policy: the combined excludes do not compile");
	p->has_excludes = true;
	return 0;
}

void ima_policy_free(struct ima_policy *p)
{
	if (!p)
		return;
	if (p->has_excludes)
		regfree(&p->excludes);
	json_object_put(p->root);
	free(p);
}

int ima_policy_parse(const char *text, struct ima_policy **out, char *err, size_t errlen)
{
	_cleanup_(ima_policy_freep) struct ima_policy *p = NULL;
	enum json_tokener_error jerr;
	json_object *v;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->root = json_tokener_parse_verbose(text, &jerr);
	if (!p->root)
		return errbuf_set(-EINVAL, err, errlen, "policy: not JSON: %s", json_tokener_error_desc(jerr));
	if (!json_object_is_type(p->root, json_type_object))
		return errbuf_set(-EINVAL, err, errlen, "policy: the document must be a JSON object");
	if (!json_object_object_get_ex(p->root, "digests", &p->digests))
		return errbuf_set(-EINVAL, err, errlen, "policy: no 'digests' object");
	r = check_digest_map(p->digests, "digests", err, errlen);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(p->root, "ima-buf", &p->bufs) && !json_object_is_type(p->bufs, json_type_null)) {
		r = check_digest_map(p->bufs, "ima-buf", err, errlen);
		if (r < 0)
			return r;
	} else {
		p->bufs = NULL;
	}
	if (json_object_object_get_ex(p->root, "excludes", &v) && !json_object_is_type(v, json_type_null)) {
		r = compile_excludes(p, v, err, errlen);
		if (r < 0)
			return r;
	}
	*out = TAKE_PTR(p);
	return 0;
}

int ima_policy_load(const char *path, struct ima_policy **out, char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file(path, IMA_POLICY_MAX_BYTES, &text, NULL);

	if (r < 0) {
		snprintf(err, errlen, "policy: cannot read %s: %s", path, strerror(-r));
		return r;
	}
	return ima_policy_parse(text, out, err, errlen);
}

static bool digest_listed(json_object *list, const struct ima_entry *e)
{
	char hex[2 * KWID_DIGEST_MAX + 1];
	size_t n;

	if (!list || e->file_digest_len > KWID_DIGEST_MAX)
		return false;
	hex_encode(e->file_digest, e->file_digest_len, hex);
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++)
		if (streq(json_object_get_string(json_object_array_get_idx(list, i)), hex))
			return true;
	return false;
}

static void add_failure(struct ima_policy_report *rep, const struct ima_entry *e, size_t index,
			const char *reason)
{
	struct ima_policy_failure *f;

	rep->failed++;
	if (rep->nfailures >= IMA_POLICY_MAX_REPORTED)
		return;
	f = &rep->failures[rep->nfailures++];
	f->entry = index;
	ima_path_escape(e, f->path, sizeof(f->path));
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
}

/* NULL when the entry passes, else why it does not. */
static const char *check_entry(const struct ima_policy *p, const struct ima_entry *e, uint64_t pcr_mask,
			       bool *excluded)
{
	json_object *list = NULL;

	*excluded = false;
	if (!(pcr_mask & (1ull << e->pcr)))
		return "its PCR is not covered by the quote";
	if (!e->path)
		return "template not understood by the policy check";
	if (p->has_excludes && regexec(&p->excludes, e->path, 0, NULL, 0) == 0) {
		*excluded = true;
		return NULL;
	}
	if (e->violation)
		return "measurement violation (file changed or open for write while measured)";
	if (!json_object_object_get_ex(e->is_buf ? p->bufs : p->digests, e->path, &list))
		return e->is_buf ? "buffer name not in policy" : "path not in policy";
	if (!digest_listed(list, e))
		return "digest not allowed for this path";
	return NULL;
}

int ima_policy_check(const struct ima_policy *p, const struct ima_log *log, size_t count,
		     uint64_t pcr_mask, struct ima_policy_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->failures = calloc(IMA_POLICY_MAX_REPORTED, sizeof(*rep->failures));
	if (!rep->failures)
		return -ENOMEM;
	count = MIN(count, log->n);
	for (size_t i = 0; i < count; i++) {
		const struct ima_entry *e = &log->entries[i];
		bool excluded;
		const char *why = check_entry(p, e, pcr_mask, &excluded);

		rep->checked++;
		if (excluded)
			rep->excluded++;
		if (why)
			add_failure(rep, e, i, why);
	}
	return 0;
}

void ima_policy_report_clear(struct ima_policy_report *rep)
{
	free(rep->failures);
	memset(rep, 0, sizeof(*rep));
}
