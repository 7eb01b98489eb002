/* fuzz_cgroup_path.c - libFuzzer harness for the cgroup path grammar and
 * the /proc/<pid>/cgroup parser: no crash, no overrun, and a container id
 * is only ever reported as 64 lowercase hex digits, never with a refusal. */
#include <assert.h>

#include "kwid/cgroup_path.h"
#include "kwid/util.h"

static void check_info(const struct kwid_cgroup_path_info *i)
{
	if (i->container_error) {
		assert(i->container_id[0] == '\0' && i->pod_uid[0] == '\0' && i->runtime == KWID_RUNTIME_NONE);
		assert(i->container_why);
	}
	if (i->container_id[0])
		assert(strlen(i->container_id) == 64 && is_lower_hex(i->container_id, 64));
	if (i->pod_uid[0])
		assert(strlen(i->pod_uid) == 36 || strlen(i->pod_uid) == 32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kwid_cgroup_layout hybrid;
	static bool init;
	struct kwid_cgroup_path_info info;
	struct kwid_cgroup_membership m;
	const char *why;
	char *text;

	if (!init) {
		cgroup_layout_parse("9:name=systemd:/\n4:memory:/\n1:cpu:/\n0::/\n", &hybrid, &why);
		init = true;
	}
	if (size > KWID_CGROUP_TEXT_MAX + 16)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (cgroup_path_parse(text, &info, &why) == 0)
		check_info(&info);
	if (cgroup_membership_parse(text, NULL, &m, &why) == 0)
		check_info(&m.info);
	if (cgroup_membership_parse(text, &hybrid, &m, &why) == 0)
		check_info(&m.info);
	free(text);
	return 0;
}
