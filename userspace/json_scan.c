/* json_scan.c - a validating JSON walker that allocates nothing (see
 * kwid/json_scan.h). RFC 8259 grammar; strings are checked for escapes
 * and raw control characters, not for UTF-8. Fuzzed through
 * tests/fuzz/fuzz_kubelet_pods.c. */
#include "kwid/json_scan.h"
#include "kwid/util.h"

static bool at(const struct json_scan *s, char c)
{
	return s->p < s->end && *s->p == c;
}

static bool is_digit(const struct json_scan *s)
{
	return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

void json_scan_ws(struct json_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
		s->p++;
}

static int scan_string(struct json_scan *s)
{
	if (!at(s, '"'))
		return -EINVAL;
	for (s->p++; s->p < s->end; s->p++) {
		unsigned char c = (unsigned char)*s->p;

		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c < 0x20)
			return -EINVAL;
		if (c != '\\')
			continue;
		if (++s->p == s->end || !strchr("\"\\/bfnrtu", *s->p) || !*s->p)
			return -EINVAL;
		if (*s->p == 'u') {
			if (s->end - s->p < 5)
				return -EINVAL;
			for (int i = 1; i <= 4; i++)
				if (hex_digit_value(s->p[i]) < 0)
					return -EINVAL;
			s->p += 4;
		}
	}
	return -EINVAL;
}

static int scan_digits(struct json_scan *s)
{
	if (!is_digit(s))
		return -EINVAL;
	while (is_digit(s))
		s->p++;
	return 0;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct json_scan *s)
{
	if (at(s, '-'))
		s->p++;
	if (at(s, '0'))
		s->p++;
	else if (scan_digits(s) < 0)
		return -EINVAL;
	if (at(s, '.')) {
		s->p++;
		if (scan_digits(s) < 0)
			return -EINVAL;
	}
	if (at(s, 'e') || at(s, 'E')) {
		s->p++;
		if (at(s, '+') || at(s, '-'))
			s->p++;
		if (scan_digits(s) < 0)
			return -EINVAL;
	}
	return 0;
}

static int scan_literal(struct json_scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return -EINVAL;
	s->p += n;
	return 0;
}

int json_scan_open(struct json_scan *s, char open)
{
	if (!at(s, open))
		return -EINVAL;
	s->p++;
	json_scan_ws(s);
	if (at(s, open == '{' ? '}' : ']')) {
		s->p++;
		return 0;
	}
	return 1;
}

int json_scan_key(struct json_scan *s, const char **key, size_t *len)
{
	const char *start = s->p;

	if (scan_string(s) < 0)
		return -EINVAL;
	*key = start + 1;
	*len = (size_t)(s->p - start - 2);
	json_scan_ws(s);
	if (!at(s, ':'))
		return -EINVAL;
	s->p++;
	return 0;
}

int json_scan_next(struct json_scan *s, char close)
{
	json_scan_ws(s);
	if (at(s, ',')) {
		s->p++;
		json_scan_ws(s);
		return 1;
	}
	if (at(s, close)) {
		s->p++;
		return 0;
	}
	return -EINVAL;
}

/* The members of an object or elements of an array at s->p. */
static int scan_container(struct json_scan *s, char open, int max_depth)
{
	int more = json_scan_open(s, open);

	while (more > 0) {
		if (open == '{') {
			const char *key;
			size_t len;
			if (json_scan_key(s, &key, &len) < 0)
				return -EINVAL;
		}
		if (json_scan_value(s, max_depth - 1) < 0)
			return -EINVAL;
		more = json_scan_next(s, open == '{' ? '}' : ']');
	}
	return more;
}

int json_scan_value(struct json_scan *s, int max_depth)
{
	json_scan_ws(s);
	if (s->p == s->end)
		return -EINVAL;
	switch (*s->p) {
	case '{':
	case '[':
		return max_depth > 0 ? scan_container(s, *s->p, max_depth) : -EINVAL;
	case '"':
		return scan_string(s);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		return scan_number(s);
	}
}
