/* test_entry_store.c - the durable entry store: round trip, atomic
 * replacement, leftovers of interrupted writes, and refusal (naming the
 * file) of anything corrupt, also through entries_new(). Plus the
 * read-only directory at start-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "kwid/entry_store.h"
#include "entries_fixture.h"

struct collected {
	struct kwid_entry *v[16];
	size_t n;
};

static int collect(void *ud, struct kwid_entry *e, char **why)
{
	struct collected *c = ud;

	assert_true(c->n < ARRAY_SIZE(c->v));
	c->v[c->n++] = e;
	return 0;
}

static void collected_free(struct collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		entry_free(c->v[i]);
	c->n = 0;
}

static const struct kwid_entry *find(const struct collected *c, const char *id)
{
	for (size_t i = 0; i < c->n; i++)
		if (streq(c->v[i]->id, id))
			return c->v[i];
	return NULL;
}

static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void write_text(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write_full(fd, text, strlen(text)), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_round_trip(void **state)
{
	struct fixture f;
	struct entry_store *st = NULL;
	struct collected c = {0};
	char *err = NULL, path[256];
	struct kwid_entry *a = entry_json("{\"id\": \"a\", \"created_at_ns\": 7, \"spiffe_id\": \"spiffe://example.org/a\", "
					  "\"selectors\": [\"u:1\", \"g:1\"], \"x509_svid_ttl\": 60, \"jwt_svid_ttl\": 30, "
					  "\"dns_names\": [\"a.example.org\"], \"hint\": \"h\", \"expires_at\": 4102444800}");
	struct kwid_entry *b = entry_json("{\"id\": \"b\", \"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"u:2\"]}");
	struct stat s;

	fixture_init(&f, false);
	assert_int_equal(entry_store_open(f.state, &st), 0);
	assert_int_equal(entry_store_put(st, a), 0);
	assert_int_equal(entry_store_put(st, b), 0);
	snprintf(path, sizeof(path), "%s/entries", f.state);
	assert_int_equal(stat(path, &s), 0);
	assert_int_equal(s.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/entries/a.json", f.state);
	assert_int_equal(stat(path, &s), 0);
	assert_int_equal(s.st_mode & 0777, 0600);
	entry_store_free(st);

	assert_int_equal(entry_store_open(f.state, &st), 0);
	assert_int_equal(entry_store_load(st, collect, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_true(entry_equal(find(&c, "a"), a));
	assert_true(entry_equal(find(&c, "b"), b));
	collected_free(&c);

	/* Delete: the file is gone and so is the entry on the next load. */
	assert_int_equal(entry_store_delete(st, "a"), 0);
	assert_int_equal(entry_store_delete(st, "a"), -ENOENT);
	assert_int_equal(entry_store_load(st, collect, &c, &err), 0);
	assert_int_equal(c.n, 1);
	collected_free(&c);
	entry_store_free(st);
	entry_free(a);
	entry_free(b);
	fixture_fini(&f);
}

static void test_atomic_replace_and_leftovers(void **state)
{
	struct fixture f;
	struct entry_store *st = NULL;
	struct collected c = {0};
	char *err = NULL, dir[256];
	struct kwid_entry *a = entry_json("{\"id\": \"a\", \"spiffe_id\": \"spiffe://example.org/a\", \"selectors\": [\"u:1\"]}");

	fixture_init(&f, false);
	snprintf(dir, sizeof(dir), "%s/entries", f.state);
	assert_int_equal(entry_store_open(f.state, &st), 0);
	assert_int_equal(entry_store_put(st, a), 0);
	a->x509_svid_ttl = 120;
	assert_int_equal(entry_store_put(st, a), 0);
	assert_int_equal(count_files(dir), 1); /* replaced, no temp file left */
	assert_int_equal(entry_store_load(st, collect, &c, &err), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.v[0]->x509_svid_ttl, 120);
	collected_free(&c);
	entry_store_free(st);

	/* A write killed before its rename leaves ".<name>.tmp.<pid>" with
	 * half an entry: it was never acknowledged, so it is removed. */
	write_text(dir, ".b.json.tmp.4242", "{\"version\": 1, \"entry\": {\"id\": \"b\"", 0600);
	write_text(dir, "README", "not an entry", 0600);
	assert_int_equal(entry_store_open(f.state, &st), 0);
	assert_int_equal(count_files(dir), 2); /* a.json and README */
	assert_int_equal(entry_store_load(st, collect, &c, &err), 0);
	assert_int_equal(c.n, 1);
	collected_free(&c);
	entry_store_free(st);
	entry_free(a);
	fixture_fini(&f);
}

struct corrupt_case {
	const char *name;
	const char *text;
	const char *reason; /* substring of the error */
};

static void test_corrupt_files_are_refused(void **state)
{
	static const struct corrupt_case cases[] = {
		{"x.json", "{\"version\": 1, \"entry\": {\"id\": \"x\", \"spiffe_id\": \"spiffe://exa", "invalid JSON"},
		{"x.json", "", "invalid JSON"},
		{"x.json", "[1, 2]", "top level must be a JSON object"},
		{"x.json", "{\"version\": 2, \"entry\": {}}", "not a kwid entry file"},
		{"x.json", "{\"entry\": {}}", "not a kwid entry file"},
		{"x.json", "{\"version\": 1, \"entry\": {\"id\": \"y\", \"spiffe_id\": \"spiffe://example.org/a\", \"selectors\": [\"u:1\"]}}",
		 "holds entry id \"y\""},
		{"x.json", "{\"version\": 1, \"entry\": {\"spiffe_id\": \"spiffe://example.org/a\", \"selectors\": [\"u:1\"]}}",
		 "invalid id: is required"},
		{"x.json", "{\"version\": 1, \"entry\": {\"id\": \"x\", \"spiffe_id\": \"spiffe://Example.org/a\", \"selectors\": [\"u:1\"]}}",
		 "invalid spiffe_id \"spiffe://Example.org/a\""},
		{"x.json", "{\"version\": 1, \"entry\": {\"id\": \"x\", \"spiffe_id\": \"spiffe://example.org/a\", \"selectors\": [\"u:1\"], \"bogus\": 1}}",
		 "invalid bogus: unknown field"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fixture f;
		struct entry_store *st = NULL;
		struct collected c = {0};
		char *err = NULL, dir[256];

		fixture_init(&f, false);
		snprintf(dir, sizeof(dir), "%s/entries", f.state);
		assert_int_equal(mkdir_p(dir, 0700), 0);
		write_text(dir, cases[i].name, cases[i].text, 0600);
		assert_int_equal(entry_store_open(f.state, &st), 0);
		if (entry_store_load(st, collect, &c, &err) >= 0)
			fail_msg("case %zu accepted", i);
		assert_non_null(err);
		if (!strstr(err, dir) || !strstr(err, cases[i].name) || !strstr(err, cases[i].reason))
			fail_msg("case %zu: '%s' should name %s/%s and '%s'", i, err, dir, cases[i].name,
				 cases[i].reason);
		free(err);
		collected_free(&c);
		entry_store_free(st);

		/* The agent's entries part refuses to start, and the file is
		 * left for the operator to look at. */
		assert_true(fixture_start(&f) < 0);
		assert_int_equal(count_files(dir), 1);
		fixture_fini(&f);
	}
}

static void test_start_rechecks_stored_entries(void **state)
{
	struct fixture f;
	struct entry_store *st = NULL;
	struct kwid_entry *a = entry_json("{\"id\": \"a\", \"spiffe_id\": \"spiffe://other.org/a\", \"selectors\": [\"u:1\"]}");
	struct kwid_entry *b = entry_json("{\"id\": \"b\", \"spiffe_id\": \"spiffe://example.org/a\", \"selectors\": [\"u:1\"]}");

	/* An entry of another trust domain (the agent's was changed). */
	fixture_init(&f, false);
	assert_int_equal(entry_store_open(f.state, &st), 0);
	assert_int_equal(entry_store_put(st, a), 0);
	entry_store_free(st);
	assert_true(fixture_start(&f) < 0);
	fixture_fini(&f);

	/* A good store loads and matches. */
	fixture_init(&f, false);
	assert_int_equal(entry_store_open(f.state, &st), 0);
	assert_int_equal(entry_store_put(st, b), 0);
	entry_store_free(st);
	assert_int_equal(fixture_start(&f), 0);
	assert_int_equal(entries_count(f.es), 1);
	assert_non_null(entries_get(f.es, "b"));
	fixture_fini(&f);
	entry_free(a);
	entry_free(b);
}

/* ---- the read-only directory at start-up ---- */

static void test_dir_at_start(void **state)
{
	struct fixture f;
	const struct kwid_entry *e;

	fixture_init(&f, true);
	write_text(f.ro, "web.json",
		   "// a comment is fine here\n{\"entries\": [{\"spiffe_id\": \"spiffe://example.org/web\", \"selectors\": [\"u:1\"]},"
		   " {\"id\": \"db\", \"spiffe_id\": \"spiffe://example.org/db\", \"selectors\": [\"u:2\"]}]}",
		   0644);
	write_text(f.ro, "one.json", "{\"id\": \"one\", \"spiffe_id\": \"spiffe://example.org/one\", \"selectors\": [\"u:3\"]}", 0600);
	write_text(f.ro, ".hidden.json", "garbage", 0644);
	write_text(f.ro, "notes.txt", "garbage", 0644);
	assert_int_equal(fixture_start(&f), 0);
	assert_int_equal(entries_count(f.es), 3);
	e = entries_get(f.es, "db");
	assert_non_null(e);
	assert_true(e->read_only);
	assert_non_null(strstr(e->source, "/ro/web.json"));
	/* The entry without an id got a derived, stable one. */
	{
		const struct kwid_entry **v = NULL;
		size_t n = 0;
		assert_int_equal(entries_list(f.es, &v, &n), 0);
		for (size_t i = 0; i < n; i++)
			if (streq(v[i]->spiffe_id, "spiffe://example.org/web"))
				assert_true(startswith(v[i]->id, "ro-") && strlen(v[i]->id) == 35);
		free(v);
	}
	fixture_fini(&f);
}

static void test_dir_bad_file_stops_start(void **state)
{
	static const struct {
		const char *text;
		mode_t mode;
	} cases[] = {
		{"{\"spiffe_id\": \"spiffe://example.org/web\"", 0644},				 /* bad JSON */
		{"{\"spiffe_id\": \"spiffe://example.org/web\", \"selectors\": [\"U:1\"]}", 0644}, /* bad entry */
		{"{\"spiffe_id\": \"spiffe://example.org/web\", \"selectors\": [\"u:1\"]}", 0666}, /* world-writable */
		{"{\"spiffe_id\": \"spiffe://other.org/web\", \"selectors\": [\"u:1\"]}", 0644},   /* trust domain */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fixture f;
		fixture_init(&f, true);
		write_text(f.ro, "web.json", cases[i].text, cases[i].mode);
		if (fixture_start(&f) >= 0)
			fail_msg("case %zu: started with a bad entries directory", i);
		fixture_fini(&f);
	}
	/* A group-writable directory is refused as a whole. */
	{
		struct fixture f;
		fixture_init(&f, true);
		assert_int_equal(chmod(f.ro, 0775), 0);
		assert_true(fixture_start(&f) < 0);
		fixture_fini(&f);
	}
}

/* Reload on change: run the real loop until the watch has reloaded. */
static bool run_until(struct fixture *f, bool (*done)(struct fixture *f))
{
	uint64_t deadline = now_mono_ns() + 5000000000ull;

	while (!done(f) && now_mono_ns() < deadline)
		loop_run_once(f->agent.loop, 50);
	return done(f);
}

static bool has_two(struct fixture *f)
{
	return entries_count(f->es) == 2;
}

static bool has_reload_error(struct fixture *f)
{
	json_object *st = agent_status(&f->agent), *sec, *v;
	bool r = json_object_object_get_ex(st, "entries", &sec) &&
		 json_object_object_get_ex(sec, "last_reload_error", &v) && v;
	json_object_put(st);
	return r;
}

static bool has_one(struct fixture *f)
{
	return entries_count(f->es) == 1;
}

static void test_dir_reload(void **state)
{
	struct fixture f;

	fixture_init(&f, true);
	write_text(f.ro, "a.json", "{\"id\": \"a\", \"spiffe_id\": \"spiffe://example.org/a\", \"selectors\": [\"u:1\"]}", 0644);
	assert_int_equal(fixture_start(&f), 0);
	assert_int_equal(entries_count(f.es), 1);
	f.notified = 0;

	write_text(f.ro, "b.json", "{\"id\": \"b\", \"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"u:2\"]}", 0644);
	assert_true(run_until(&f, has_two));
	assert_true(f.notified >= 1);

	/* A broken edit keeps the last good version of that file. */
	write_text(f.ro, "b.json", "{\"id\": \"b\", \"spiffe_id\": ", 0644);
	assert_true(run_until(&f, has_reload_error));
	assert_int_equal(entries_count(f.es), 2);
	assert_non_null(entries_get(f.es, "b"));

	/* Removing the file removes its entries. */
	{
		char path[256];
		snprintf(path, sizeof(path), "%s/b.json", f.ro);
		assert_int_equal(unlink(path), 0);
	}
	assert_true(run_until(&f, has_one));
	assert_null(entries_get(f.es, "b"));
	fixture_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_atomic_replace_and_leftovers),
		cmocka_unit_test(test_corrupt_files_are_refused),
		cmocka_unit_test(test_start_rechecks_stored_entries),
		cmocka_unit_test(test_dir_at_start),
		cmocka_unit_test(test_dir_bad_file_stops_start),
		cmocka_unit_test(test_dir_reload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
