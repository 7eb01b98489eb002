/* fuzz_runtime_state.c - libFuzzer harness for the runtime state parsers
 * (Docker config.v2.json, OCI bundle config.json for containerd and CRI-O,
 * containers/storage containers.json). The first byte picks the parser. */
#include <assert.h>

#include "kwid/runtime_state.h"
#include "kwid/util.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwid_container_state s;
	const char *why = NULL;
	const char *json = (const char *)data + 1;
	int r;

	if (size < 1 || size > KWID_STATE_FILE_MAX)
		return 0;
	switch (data[0] % 4) {
	case 0:
		r = docker_config_parse(json, size - 1, ID, &s, &why);
		break;
	case 1:
		r = oci_config_parse(json, size - 1, KWID_RUNTIME_CONTAINERD, ID, &s, &why);
		break;
	case 2:
		r = oci_config_parse(json, size - 1, KWID_RUNTIME_CRIO, ID, &s, &why);
		break;
	default:
		r = cstorage_containers_parse(json, size - 1, ID, &s, &why);
		break;
	}
	if (r == 0) {
		/* digests are only ever well-formed */
		if (s.image_config_digest)
			assert(strlen(s.image_config_digest) == 71 && startswith(s.image_config_digest, "sha256:"));
		container_state_clear(&s);
	} else {
		assert(r == -EINVAL || r == -ENOENT || r == -ENOMEM);
	}
	return 0;
}
