/* test_config.c - configuration loading: defaults, merge, type checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kwid/config.h"

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/kwid-config-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write_full(fd, text, strlen(text)), 0);
	close(fd);
	return path;
}

static void test_defaults(void **state)
{
	struct kwid_config *cfg = NULL;
	char *err = NULL;
	uint64_t v;

	assert_int_equal(config_load(NULL, NULL, &cfg, &err), 0);
	assert_string_equal(cfg->trust_domain, "example.org");
	assert_string_equal(cfg->socket_path, "/run/kwid/public/api.sock");
	assert_string_equal(cfg->admin_socket_path, "/run/kwid/admin.sock");
	assert_string_equal(cfg->state_dir, "/var/lib/kwid");
	assert_int_equal(cfg->log_level, LOG_LVL_INFO);
	assert_int_equal(config_get_u64(cfg, "tracking.hash_cache_entries", 1, 1000000, &v), 0);
	assert_int_equal(v, 4096);
	config_free(cfg);
}

/* A key whose value is null is a string that is not set, not a missing key. */
static void test_null_string(void **state)
{
	char *path = write_tmp("{ \"node\": { \"tcti\": null, \"ima_policy\": \"/etc/p.json\" } }");
	struct kwid_config *cfg = NULL;
	const char *s = "unset";
	char *err = NULL;

	assert_int_equal(config_load(path, NULL, &cfg, &err), 0);
	assert_int_equal(config_get_string(cfg, "node.tcti", &s), 0);
	assert_null(s);
	assert_int_equal(config_get_string(cfg, "node.ima_policy", &s), 0);
	assert_string_equal(s, "/etc/p.json");
	assert_int_equal(config_get_string(cfg, "node.no_such_key", &s), -EINVAL);
	config_free(cfg);
	unlink(path);
	free(path);
}

static void test_file_and_overrides(void **state)
{
	char *path = write_tmp("// comment\n{ \"trust_domain\": \"a.test\", \"tracking\": { \"hash_workers\": 2 } }");
	json_object *ov = json_object_new_object();
	struct kwid_config *cfg = NULL;
	char *err = NULL;
	uint64_t v;
	const char *s;

	json_object_object_add(ov, "trust_domain", json_object_new_string("b.test"));
	assert_int_equal(config_load(path, ov, &cfg, &err), 0);
	assert_string_equal(cfg->trust_domain, "b.test"); /* flag beats file */
	assert_int_equal(config_get_u64(cfg, "tracking.hash_workers", 1, 8, &v), 0);
	assert_int_equal(v, 2);
	/* untouched keys keep their defaults */
	assert_int_equal(config_get_string(cfg, "tracking.mode", &s), 0);
	assert_string_equal(s, "auto");
	assert_int_equal(config_get_u64(cfg, "tracking.hash_workers", 3, 8, &v), -ERANGE);
	config_free(cfg);
	json_object_put(ov);
	unlink(path);
	free(path);
}

static void expect_error(const char *text, const char *needle)
{
	char *path = write_tmp(text);
	struct kwid_config *cfg = NULL;
	char *err = NULL;

	assert_true(config_load(path, NULL, &cfg, &err) < 0);
	assert_null(cfg);
	assert_non_null(err);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
	free(err);
	unlink(path);
	free(path);
}

static void test_errors(void **state)
{
	expect_error("{ \"trust_domian\": \"x\" }", "unknown key 'trust_domian'");
	expect_error("{ \"tracking\": { \"hash_workers\": \"two\" } }", "'tracking.hash_workers' must be of type int");
	expect_error("{ \"tracking\": 5 }", "'tracking' must be of type object");
	expect_error("{ \"socket\": \"relative.sock\" }", "absolute path");
	expect_error("{ \"log_level\": \"loud\" }", "log_level");
	expect_error("{ \"trust_domain\": ", "invalid JSON");
	expect_error("[1, 2]", "top level must be a JSON object");
	expect_error("{} {}", "trailing data");
}

static void test_missing_file(void **state)
{
	struct kwid_config *cfg = NULL;
	char *err = NULL;

	assert_int_equal(config_load("/nonexistent/kwid.json", NULL, &cfg, &err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/kwid.json"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file_and_overrides),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_null_string),
		cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
