/* bench_entries.c - matching latency of registration entries: the cost of
 * entries_match() for one workload with 100 and with 100,000 entries (the
 * index must keep them close), against a linear scan over all entries in
 * the same run; plus the start-up time to load 100,000 stored entries.
 *
 * usage: bench_entries [ENTRIES [LOOKUPS]]   (defaults 100000, 20000)
 * Output: one line per case, "name p50_us p99_us", then the ratios. */
#include "kwid/agent.h"
#include "kwid/entries.h"
#include "kwid/log.h"

#include <stdarg.h>
#include <sys/stat.h>

struct bench {
	struct kwid_agent agent;
	struct kwid_entries *es;
	char dir[64];
};

static unsigned rng = 2463534242u;

static unsigned next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench_entries: %s: %s\n", what, strerror(-r));
	exit(1);
}

static void bench_init(struct bench *b)
{
	json_object *ov = json_object_new_object();
	char state[128], *err = NULL;

	memset(b, 0, sizeof(*b));
	strcpy(b->dir, "/tmp/kwid-bench-entries.XXXXXX");
	if (!mkdtemp(b->dir))
		die("mkdtemp", -errno);
	snprintf(state, sizeof(state), "%s/state", b->dir);
	json_object_object_add(ov, "state_dir", json_object_new_string(state));
	if (config_load(NULL, ov, &b->agent.cfg, &err) < 0) {
		fprintf(stderr, "bench_entries: config: %s\n", err);
		exit(1);
	}
	json_object_put(ov);
	if (loop_new(&b->agent.loop) < 0)
		die("loop", -ENOMEM);
}

static void bench_start(struct bench *b)
{
	int r = entries_new(&b->agent, &b->es);

	if (r < 0)
		die("entries_new", r);
}

static void bench_fini(struct bench *b)
{
	char cmd[128];

	entries_free(b->es);
	loop_run_once(b->agent.loop, 0);
	agent_free_subscriptions(&b->agent);
	loop_free(b->agent.loop);
	config_free(b->agent.cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_entries: cannot remove %s\n", b->dir);
}

/* ---- a realistic mix of entries ---- */

/* Entry i's selectors, in one of four shapes seen in practice: Kubernetes
 * namespace + service account, uid + binary hash, Docker label + image,
 * systemd unit run as root. Common selectors (uid 0, a few namespaces and
 * images) are shared by many entries on purpose. */
static void entry_selectors(size_t i, struct kwid_selector_set *s)
{
	selset_init(s);
	switch (i % 10) {
	case 0: case 1: case 2: case 3:
		selset_addf(s, "k8s:ns:ns%zu", i % 200);
		selset_addf(s, "k8s:sa:sa%zu", i);
		break;
	case 4: case 5: case 6:
		selset_addf(s, "unix:uid:%zu", i % 1000);
		selset_addf(s, "unix:sha256:%064zx", i * 2654435761u);
		break;
	case 7: case 8:
		selset_addf(s, "docker:label:app:app%zu", i);
		selset_addf(s, "docker:image_id:img%zu:v1", i % 500);
		break;
	default:
		selset_addf(s, "unix:uid:0");
		selset_addf(s, "unix:path:/usr/bin/prog%zu", i);
		selset_addf(s, "systemd:id:svc%zu.service", i);
	}
	selset_sort(s);
}

static void add_entries(struct bench *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct kwid_entry *e = entry_new();
		struct entry_error err;
		int r;

		entry_selectors(i, &e->selectors);
		if (asprintf(&e->id, "e%08zu", i) < 0 || asprintf(&e->spiffe_id, "spiffe://example.org/w/%zu", i) < 0)
			die("asprintf", -ENOMEM);
		e->created_ns = (int64_t)i;
		r = entries_add(b->es, e, false, &err);
		if (r < 0) {
			fprintf(stderr, "bench_entries: entry %zu: %s %s\n", i, err.field, err.rule);
			exit(1);
		}
	}
}

/* A workload as the attestors describe it: ~20 selectors, the ones of one
 * entry (so it matches) plus the noise every process carries, including
 * selectors many entries share (uid 0, busy namespaces and images). */
static void workload_selectors(size_t nentries, struct kwid_selector_set *w)
{
	struct kwid_selector_set own;
	size_t target = next_rand() % nentries;

	entry_selectors(target, &own);
	selset_init(w);
	selset_merge(w, &own);
	selset_clear(&own);
	selset_addf(w, "unix:uid:0");
	selset_addf(w, "unix:gid:0");
	selset_addf(w, "unix:user:root");
	selset_addf(w, "unix:group:root");
	selset_addf(w, "unix:supplementary_gid:%u", next_rand() % 50);
	selset_addf(w, "unix:path:/usr/local/bin/x%u", next_rand());
	selset_addf(w, "unix:sha256:%064x", next_rand());
	selset_addf(w, "k8s:ns:ns%u", next_rand() % 200);
	selset_addf(w, "k8s:pod-uid:%08x-0000-4000-8000-%012x", next_rand(), next_rand());
	selset_addf(w, "k8s:pod-name:pod%u", next_rand());
	selset_addf(w, "k8s:container-name:c%u", next_rand() % 10);
	selset_addf(w, "k8s:node-name:node1");
	selset_addf(w, "docker:image_id:img%u:v1", next_rand() % 500);
	selset_addf(w, "container:id:%064x", next_rand());
	selset_addf(w, "container:runtime:containerd");
	selset_addf(w, "cgroup:path:/kubepods/pod%u", next_rand());
	selset_addf(w, "lineage:parent_path:/usr/bin/containerd-shim-runc-v2");
	selset_addf(w, "systemd:id:containerd.service");
	selset_sort(w);
}

/* ---- timing ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct result {
	double p50_us, p99_us, mean_matches;
};

static struct result summarize(uint64_t *ns, size_t n, size_t total_matches)
{
	qsort(ns, n, sizeof(*ns), cmp_u64);
	return (struct result){ns[n / 2] / 1000.0, ns[(n * 99) / 100] / 1000.0, (double)total_matches / (double)n};
}

static struct result time_indexed(struct bench *b, size_t nentries, size_t lookups)
{
	uint64_t *ns = calloc(lookups, sizeof(*ns));
	size_t total = 0;

	for (size_t i = 0; i < lookups; i++) {
		struct kwid_selector_set w;
		const struct kwid_entry **m = NULL;
		size_t n = 0;
		uint64_t t0;

		workload_selectors(nentries, &w);
		t0 = now_mono_ns();
		if (entries_match(b->es, &w, &m, &n) < 0)
			die("entries_match", -EINVAL);
		free(m);
		ns[i] = now_mono_ns() - t0;
		if (n == 0)
			die("a workload built to match got no entry", -ENOENT);
		total += n;
		selset_clear(&w);
	}
	{
		struct result r = summarize(ns, lookups, total);
		free(ns);
		return r;
	}
}

/* The baseline: check every entry (what matching without an index costs). */
static struct result time_linear(struct bench *b, size_t nentries, size_t lookups)
{
	const struct kwid_entry **all = NULL;
	size_t nall = 0, total = 0;
	uint64_t *ns = calloc(lookups, sizeof(*ns));

	if (entries_list(b->es, &all, &nall) < 0)
		die("entries_list", -ENOMEM);
	for (size_t i = 0; i < lookups; i++) {
		struct kwid_selector_set w;
		size_t n = 0;
		uint64_t t0;

		workload_selectors(nentries, &w);
		t0 = now_mono_ns();
		for (size_t k = 0; k < nall; k++)
			n += selset_is_subset(&all[k]->selectors, &w);
		ns[i] = now_mono_ns() - t0;
		total += n;
		selset_clear(&w);
	}
	free(all);
	{
		struct result r = summarize(ns, lookups, total);
		free(ns);
		return r;
	}
}

static void print_result(const char *name, struct result r)
{
	printf("%-34s p50 %9.2f us   p99 %9.2f us   (%.2f matches per workload)\n", name, r.p50_us, r.p99_us,
	       r.mean_matches);
}

/* Write n entries into a fresh state dir's store (plain writes: the
 * figure is the agent's load time, not fsync speed) and time entries_new. */
static double time_store_load(size_t n)
{
	struct bench b;
	char dir[160];
	uint64_t t0, t1;

	bench_init(&b);
	snprintf(dir, sizeof(dir), "%s/state/entries", b.dir);
	if (mkdir_p(dir, 0700) < 0)
		die("mkdir", -errno);
	for (size_t i = 0; i < n; i++) {
		struct kwid_selector_set s;
		char path[256];
		FILE *f;

		snprintf(path, sizeof(path), "%s/e%08zu.json", dir, i);
		f = fopen(path, "w");
		if (!f)
			die("fopen", -errno);
		entry_selectors(i, &s);
		fprintf(f, "{\"version\": 1, \"entry\": {\"id\": \"e%08zu\", \"spiffe_id\": \"spiffe://example.org/w/%zu\", "
			   "\"created_at_ns\": %zu, \"selectors\": [", i, i, i);
		for (size_t k = 0; k < s.n; k++)
			fprintf(f, "%s\"%s\"", k ? ", " : "", s.v[k]);
		fprintf(f, "]}}\n");
		fclose(f);
		selset_clear(&s);
	}
	t0 = now_mono_ns();
	bench_start(&b);
	t1 = now_mono_ns();
	if (entries_count(b.es) != n)
		die("store load lost entries", -EIO);
	bench_fini(&b);
	return (double)(t1 - t0) / 1e9;
}

static long largest_bucket(struct bench *b)
{
	json_object *st = agent_status(&b->agent), *sec, *v;
	long n = -1;

	if (json_object_object_get_ex(st, "entries", &sec) && json_object_object_get_ex(sec, "largest_bucket", &v))
		n = (long)json_object_get_int64(v);
	json_object_put(st);
	return n;
}

int main(int argc, char **argv)
{
	size_t big = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t lookups = argc > 2 ? strtoul(argv[2], NULL, 10) : 20000;
	const size_t sizes[] = {100, 10000, big};
	struct result indexed[3], scan[3];
	long bucket[3];
	double load_s;

	log_set_level(LOG_LVL_WARN);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct bench b;
		bench_init(&b);
		bench_start(&b);
		add_entries(&b, sizes[i]);
		bucket[i] = largest_bucket(&b);
		indexed[i] = time_indexed(&b, sizes[i], lookups);
		/* A scan of 100k entries takes milliseconds: fewer rounds. */
		scan[i] = time_linear(&b, sizes[i], sizes[i] > 1000 ? MAX(lookups / 100, (size_t)50) : lookups);
		bench_fini(&b);
	}
	load_s = time_store_load(big);

	printf("entries matching: %zu lookups per case, ~20 selectors per workload\n", lookups);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char name[64];
		snprintf(name, sizeof(name), "indexed, %zu entries", sizes[i]);
		print_result(name, indexed[i]);
		printf("%-34s largest index bucket: %ld entries\n", "", bucket[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char name[64];
		snprintf(name, sizeof(name), "linear scan, %zu entries", sizes[i]);
		print_result(name, scan[i]);
	}
	printf("ratio indexed %zu/100 entries:  p50 %.2fx   p99 %.2fx   (linear scan: p50 %.0fx)\n", big,
	       indexed[2].p50_us / indexed[0].p50_us, indexed[2].p99_us / indexed[0].p99_us,
	       scan[2].p50_us / scan[0].p50_us);
	printf("ratio indexed %zu/10000 entries: p50 %.2fx   p99 %.2fx\n", big, indexed[2].p50_us / indexed[1].p50_us,
	       indexed[2].p99_us / indexed[1].p99_us);
	printf("linear scan / indexed at %zu entries: p50 %.0fx\n", big, scan[2].p50_us / indexed[2].p50_us);
	printf("start-up load of %zu stored entries: %.2f s\n", big, load_s);
	return 0;
}
