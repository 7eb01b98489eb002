/* selectors.c - selector validation and selector sets (see kwid/selectors.h). */
#include "kwid/selectors.h"

#include <stdarg.h>

int selector_validate(const char *sel, const char **why)
{
	const char *colon, *p;
	size_t len, tlen;
	const char *dummy;

	if (!why)
		why = &dummy;
	if (!sel) {
		*why = "selector is missing";
		return -EINVAL;
	}
	len = strnlen(sel, KWID_SELECTOR_MAX + 1);
	if (len > KWID_SELECTOR_MAX) {
		*why = "selector is longer than " STRINGIFY(KWID_SELECTOR_MAX) " bytes";
		return -EINVAL;
	}
	colon = strchr(sel, ':');
	if (!colon) {
		*why = "selector must be type:value";
		return -EINVAL;
	}
	tlen = (size_t)(colon - sel);
	if (tlen == 0 || tlen > KWID_SELECTOR_TYPE_MAX) {
		*why = "selector type must be 1 to " STRINGIFY(KWID_SELECTOR_TYPE_MAX) " characters";
		return -EINVAL;
	}
	for (p = sel; p < colon; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')) {
			*why = "selector type may only hold a-z, 0-9, '_' and '-'";
			return -EINVAL;
		}
	}
	if (colon[1] == '\0') {
		*why = "selector value is empty";
		return -EINVAL;
	}
	for (p = colon + 1; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f) {
			*why = "selector value holds whitespace or a control character";
			return -EINVAL;
		}
	}
	return 0;
}

void selset_init(struct kwid_selector_set *s)
{
	memset(s, 0, sizeof(*s));
	s->sorted = true;
}

void selset_clear(struct kwid_selector_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	selset_init(s);
}

static int push(struct kwid_selector_set *s, char *owned)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		char **nv = reallocarray_safe(s->v, ncap, sizeof(*nv));
		if (!nv) {
			free(owned);
			return -ENOMEM;
		}
		s->v = nv;
		s->cap = ncap;
	}
	if (s->n > 0 && s->sorted && strcmp(s->v[s->n - 1], owned) >= 0)
		s->sorted = false;
	s->v[s->n++] = owned;
	return 0;
}

int selset_add_str(struct kwid_selector_set *s, const char *sel)
{
	char *copy;

	if (selector_validate(sel, NULL) < 0)
		return -EINVAL;
	copy = strdup(sel);
	if (!copy)
		return -ENOMEM;
	return push(s, copy);
}

int selset_add(struct kwid_selector_set *s, const char *type, const char *value)
{
	char *sel;

	if (asprintf(&sel, "%s:%s", type, value) < 0)
		return -ENOMEM;
	if (selector_validate(sel, NULL) < 0) {
		free(sel);
		return -EINVAL;
	}
	return push(s, sel);
}

int selset_addf(struct kwid_selector_set *s, const char *fmt, ...)
{
	char *sel;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&sel, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	if (selector_validate(sel, NULL) < 0) {
		free(sel);
		return -EINVAL;
	}
	return push(s, sel);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void selset_sort(struct kwid_selector_set *s)
{
	size_t out = 0;

	if (s->sorted)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_str);
	for (size_t i = 0; i < s->n; i++) {
		if (out > 0 && strcmp(s->v[out - 1], s->v[i]) == 0) {
			free(s->v[i]);
			continue;
		}
		s->v[out++] = s->v[i];
	}
	s->n = out;
	s->sorted = true;
}

bool selset_contains(const struct kwid_selector_set *s, const char *sel)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid], sel);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

int selset_merge(struct kwid_selector_set *dst, const struct kwid_selector_set *src)
{
	for (size_t i = 0; i < src->n; i++) {
		char *copy = strdup(src->v[i]);
		int r;
		if (!copy)
			return -ENOMEM;
		r = push(dst, copy);
		if (r < 0)
			return r;
	}
	return 0;
}

int selset_copy(struct kwid_selector_set *dst, const struct kwid_selector_set *src)
{
	int r;

	selset_init(dst);
	r = selset_merge(dst, src);
	if (r < 0) {
		selset_clear(dst);
		return r;
	}
	dst->sorted = src->sorted;
	return 0;
}

bool selset_is_subset(const struct kwid_selector_set *sub, const struct kwid_selector_set *super)
{
	for (size_t i = 0; i < sub->n; i++)
		if (!selset_contains(super, sub->v[i]))
			return false;
	return true;
}
