/* fuzz_spiffe_id.c - libFuzzer harness for the SPIFFE ID parser: no crash
 * on any bytes, and every ID it accepts really keeps every rule (checked
 * here independently, without the parser's code). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kwid/spiffe_id.h"

static int td_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static int path_char(char c)
{
	return td_char(c) || (c >= 'A' && c <= 'Z');
}

/* An independent check of an accepted ID. */
static void check_accepted(const char *id)
{
	size_t len = strlen(id), i = 9, td_len;
	char td[SPIFFE_TD_MAX + 1];
	const char *path;

	assert(len <= SPIFFE_ID_MAX);
	assert(strncmp(id, "spiffe://", 9) == 0);
	while (i < len && id[i] != '/')
		assert(td_char(id[i++]));
	td_len = i - 9;
	assert(td_len >= 1 && td_len <= SPIFFE_TD_MAX);
	path = id + i;
	if (*path) {
		/* "/seg/seg": no empty, "." or ".." segment, no trailing slash. */
		const char *seg = path + 1;
		for (const char *p = seg;; p++) {
			if (*p == '/' || *p == '\0') {
				size_t n = (size_t)(p - seg);
				assert(n > 0);
				assert(!(n == 1 && seg[0] == '.'));
				assert(!(n == 2 && seg[0] == '.' && seg[1] == '.'));
				if (!*p)
					break;
				seg = p + 1;
			} else {
				assert(path_char(*p));
			}
		}
	}
	assert(strcmp(spiffe_id_path(id), path) == 0);
	assert(spiffe_id_trust_domain(id, td, sizeof(td)) == 0);
	assert(strlen(td) == td_len && memcmp(td, id + 9, td_len) == 0);
	assert(spiffe_trust_domain_validate(td, NULL) == 0);
	assert(spiffe_id_is_workload_in(id, td) == (*path != '\0'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	const char *why = NULL;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (spiffe_id_validate(s, &why) == 0)
		check_accepted(s);
	else
		assert(why && *why);
	if (spiffe_trust_domain_validate(s, &why) == 0) {
		assert(strlen(s) >= 1 && strlen(s) <= SPIFFE_TD_MAX);
		for (const char *p = s; *p; p++)
			assert(td_char(*p));
	}
	free(s);
	return 0;
}
