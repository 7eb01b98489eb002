/* selectors.h - selectors ("type:value") and sets of them: the vocabulary
 * attestors produce and registration entries are written in.
 *
 * A selector is split on its first colon only ("docker:label:app:web" has
 * type "docker" and value "label:app:web"). Well-formed means: type of
 * 1..32 chars in [a-z0-9_-], a colon, a value of 1..KWID_SELECTOR_MAX
 * bytes of printable ASCII (0x21..0x7e) or UTF-8 continuation bytes
 * excluded; no whitespace and no control characters anywhere. */
#ifndef KWID_SELECTORS_H
#define KWID_SELECTORS_H

#include <stdbool.h>
#include <stddef.h>

#include "kwid/util.h"

#define KWID_SELECTOR_MAX 1024  /* whole "type:value" string, bytes */
#define KWID_SELECTOR_TYPE_MAX 32

struct kwid_selector_set {
	char **v; /* "type:value" strings, owned */
	size_t n, cap;
	bool sorted; /* v is sorted and unique */
};

/* 0 when well-formed; otherwise -EINVAL and, when why != NULL, a static
 * string naming the rule broken. */
int selector_validate(const char *sel, const char **why);

void selset_init(struct kwid_selector_set *s);
void selset_clear(struct kwid_selector_set *s); /* frees the strings, keeps nothing */
/* Add "type:value" (validated; -EINVAL if malformed). Duplicates are
 * removed by selset_sort(). */
int selset_add(struct kwid_selector_set *s, const char *type, const char *value);
int selset_add_str(struct kwid_selector_set *s, const char *sel);
int selset_addf(struct kwid_selector_set *s, const char *fmt, ...) _printf_(2, 3);
/* Sort and drop duplicates; needed before selset_contains(). */
void selset_sort(struct kwid_selector_set *s);
/* Binary search; s must be sorted. */
bool selset_contains(const struct kwid_selector_set *s, const char *sel);
/* Append every selector of src to dst. */
int selset_merge(struct kwid_selector_set *dst, const struct kwid_selector_set *src);
int selset_copy(struct kwid_selector_set *dst, const struct kwid_selector_set *src);
/* true when every selector of sub is in super (super sorted). */
bool selset_is_subset(const struct kwid_selector_set *sub, const struct kwid_selector_set *super);

#endif
