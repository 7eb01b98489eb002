/* test_util.c - unit tests for kwid/util.h helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "kwid/util.h"

static void test_strscpy(void **state)
{
	char buf[4];

	assert_int_equal(strscpy(buf, "abc", sizeof(buf)), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(strscpy(buf, "abcd", sizeof(buf)), -ENAMETOOLONG);
	assert_string_equal(buf, "abc");
}

static void test_hex(void **state)
{
	uint8_t bin[3] = {0x00, 0xab, 0xff}, back[3];
	char hex[7];

	hex_encode(bin, 3, hex);
	assert_string_equal(hex, "00abff");
	assert_true(is_lower_hex(hex, 6));
	assert_false(is_lower_hex("00ABff", 6));
	assert_int_equal(hex_decode("00ABff", back, sizeof(back)), 3);
	assert_memory_equal(bin, back, 3);
	assert_int_equal(hex_decode("0g", back, sizeof(back)), -EINVAL);
	assert_int_equal(hex_decode("abc", back, sizeof(back)), -EINVAL);
	assert_int_equal(hex_decode("0011223344", back, sizeof(back)), -EINVAL);
}

static void test_parse_u64(void **state)
{
	uint64_t v;
	pid_t pid;

	assert_int_equal(parse_u64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_u64("101", 0, 100, &v), -ERANGE);
	assert_int_equal(parse_u64("-1", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("4x", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_pid("0", &pid), -ERANGE);
	assert_int_equal(parse_pid("1234", &pid), 0);
	assert_int_equal(pid, 1234);
}

static void test_write_file_atomic(void **state)
{
	char dir[] = "/tmp/kwid-test-XXXXXX", path[64];
	struct stat st;
	char *data;
	size_t len;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(write_file_atomic(dir, "f", "one", 3, 0600), 0);
	assert_int_equal(write_file_atomic(dir, "f", "second", 6, 0640), 0);
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(read_file(path, 1024, &data, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(data, "second");
	free(data);
	assert_int_equal(read_file(path, 3, &data, &len), -EFBIG);
	unlink(path);
	rmdir(dir);
}

static void test_kernel_dev(void **state)
{
	/* The kernel packs major<<20|minor; stat() uses glibc's encoding. */
	dev_t d = kernel_dev_to_user((8u << 20) | 1u);

	assert_int_equal(major(d), 8);
	assert_int_equal(minor(d), 1);
	d = kernel_dev_to_user((259u << 20) | 0x12345u);
	assert_int_equal(major(d), 259);
	assert_int_equal(minor(d), 0x12345);
}

static void test_mkdir_p(void **state)
{
	char dir[] = "/tmp/kwid-test-XXXXXX", path[96];
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	assert_int_equal(mkdir_p(path, 0700), 0);
	assert_int_equal(mkdir_p(path, 0700), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a/b", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a", dir);
	rmdir(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strscpy),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_write_file_atomic),
		cmocka_unit_test(test_kernel_dev),
		cmocka_unit_test(test_mkdir_p),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
