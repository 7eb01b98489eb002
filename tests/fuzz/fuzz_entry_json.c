/* fuzz_entry_json.c - libFuzzer harness for registration entries as JSON
 * (admin requests, store files, the read-only directory): no crash on any
 * bytes, every refusal names a field and a rule, and every accepted entry
 * survives a round trip through its JSON form unchanged. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kwid/config.h"
#include "kwid/entries.h"
#include "kwid/log.h"
#include "kwid/spiffe_id.h"

static void check_accepted(const struct kwid_entry *e)
{
	struct kwid_entry *back = NULL;
	struct entry_error err;
	json_object *j;
	char *key;

	assert(spiffe_id_validate(e->spiffe_id, NULL) == 0);
	assert(e->selectors.n >= 1 && e->selectors.n <= ENTRY_MAX_SELECTORS && e->selectors.sorted);
	for (size_t i = 0; i < e->selectors.n; i++) {
		assert(selector_validate(e->selectors.v[i], NULL) == 0);
		if (i)
			assert(strcmp(e->selectors.v[i - 1], e->selectors.v[i]) < 0);
	}
	assert(e->ndns <= ENTRY_MAX_DNS_NAMES);
	j = entry_to_json(e, false, 0);
	assert(entry_from_json(j, ENTRY_JSON_ALLOW_CREATED, &back, &err) == 0);
	assert(entry_equal(e, back));
	json_object_put(j);
	entry_free(back);
	key = entry_identity_key(e);
	assert(key && strstr(key, e->spiffe_id) == key);
	free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *jerr = NULL;
	json_object *obj = NULL;
	struct kwid_entry *e = NULL;
	struct entry_error err;
	char msg[600];

	if (!text)
		return 0;
	log_set_level(LOG_LVL_ERROR);
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_parse_text(text, "fuzz", &obj, &jerr) == 0) {
		memset(&err, 0, sizeof(err));
		int r = entry_from_json(obj, ENTRY_JSON_ALLOW_CREATED, &e, &err);
		if (r == 0) {
			check_accepted(e);
			entry_free(e);
		} else {
			assert(r == -EINVAL || r == -ENOMEM);
			if (r == -EINVAL) {
				assert(err.field[0] && err.rule[0]);
				entry_error_format(&err, NULL, msg, sizeof(msg));
				assert(strncmp(msg, "invalid ", 8) == 0);
			}
		}
		json_object_put(obj);
	}
	free(jerr);
	free(text);
	return 0;
}
