/* test_strmap.c - the string hash map: basic operations, growth, and
 * backward-shift deletion checked against a plain array under a long
 * random sequence of puts and removes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kwid/strmap.h"
#include "kwid/util.h"

static void test_basic(void **state)
{
	struct strmap *m = NULL;
	int a = 1, b = 2;
	size_t it = 0, n = 0;
	const char *k;
	void *v;

	assert_int_equal(strmap_new(&m), 0);
	assert_null(strmap_get(m, "x"));
	assert_int_equal(strmap_put(m, "x", &a), 0);
	assert_int_equal(strmap_put(m, "x", &b), -EEXIST);
	assert_int_equal(strmap_put(m, "", &b), 0); /* the empty string is a key */
	assert_ptr_equal(strmap_get(m, "x"), &a);
	assert_ptr_equal(strmap_get(m, ""), &b);
	assert_int_equal(strmap_size(m), 2);
	while (strmap_next(m, &it, &k, &v))
		n++;
	assert_int_equal(n, 2);
	assert_ptr_equal(strmap_remove(m, "x"), &a);
	assert_null(strmap_remove(m, "x"));
	assert_null(strmap_get(m, "x"));
	assert_int_equal(strmap_size(m), 1);
	strmap_free(m);
}

#define KEYS 3000

static void test_random_against_reference(void **state)
{
	static char keys[KEYS][16];
	static bool present[KEYS];
	struct strmap *m = NULL;
	unsigned seed = 12345;
	size_t want = 0;

	assert_int_equal(strmap_new(&m), 0);
	for (int i = 0; i < KEYS; i++)
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
	for (int step = 0; step < 200000; step++) {
		int i = (int)(rand_r(&seed) % KEYS);
		if (rand_r(&seed) % 3) {
			int r = strmap_put(m, keys[i], keys[i]);
			assert_int_equal(r, present[i] ? -EEXIST : 0);
			want += !present[i];
			present[i] = true;
		} else {
			void *v = strmap_remove(m, keys[i]);
			assert_ptr_equal(v, present[i] ? keys[i] : NULL);
			want -= present[i];
			present[i] = false;
		}
		if (step % 1000 == 0) {
			/* Every key is found exactly when present. */
			for (int k = 0; k < KEYS; k++)
				assert_ptr_equal(strmap_get(m, keys[k]), present[k] ? keys[k] : NULL);
		}
	}
	assert_int_equal(strmap_size(m), want);
	strmap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_random_against_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
