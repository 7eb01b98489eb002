/* bench_mint.c - X.509-SVID minting throughput of the real authority code
 * (kwid/authority.h), for bench/bench_authority.sh.
 *
 *   bench_mint SECONDS KEYPOOL_SIZE
 *
 * Mints X.509-SVIDs for SECONDS and prints one line of key=value pairs:
 * mints, wall_s, cpu_s (user+system of every thread, the key-pool worker
 * included), per_cpu_s (mints per CPU-second: per core) and per_wall_s.
 * Before that, a burst of KEYPOOL_SIZE mints from a full pool, timed on the
 * calling thread: burst_us (mean per mint, what the event loop pays). */
#include <stdio.h>
#include <time.h>

#include "kwid/agent.h"
#include "kwid/authority.h"
#include "kwid/log.h"

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int mint_one(struct kwid_authority *au, unsigned i)
{
	static const char *const dns[] = {"web.example.org"};
	struct x509_svid_request req = {.spiffe_id = "spiffe://example.org/ns/bench/sa/web", .dns = dns, .ndns = 1};
	struct kwid_x509_svid *s = NULL;
	int r = authority_mint_x509(au, &req, &s);

	if (r < 0) {
		fprintf(stderr, "bench_mint: mint %u failed: %s\n", i, strerror(-r));
		return r;
	}
	x509_svid_unref(s);
	return 0;
}

int main(int argc, char **argv)
{
	struct kwid_agent a = {0};
	struct kwid_authority *au = NULL;
	json_object *ov, *auth;
	char *err = NULL, dir[] = "/tmp/kwid-bench-XXXXXX";
	double seconds, w0, c0, w1, c1;
	unsigned long pool, n = 0;
	int r;

	if (argc != 3 || (seconds = atof(argv[1])) <= 0) {
		fprintf(stderr, "usage: bench_mint SECONDS KEYPOOL_SIZE\n");
		return 2;
	}
	pool = strtoul(argv[2], NULL, 10);
	if (!mkdtemp(dir))
		return 1;
	log_set_level(LOG_LVL_WARN);
	ov = json_object_new_object();
	auth = json_object_new_object();
	json_object_object_add(ov, "state_dir", json_object_new_string(dir));
	json_object_object_add(auth, "keypool_size", json_object_new_int64((int64_t)pool));
	json_object_object_add(ov, "authority", auth);
	if (config_load(NULL, ov, &a.cfg, &err) < 0 || loop_new(&a.loop) < 0 || authority_new(&a, &au) < 0) {
		fprintf(stderr, "bench_mint: cannot set up an authority: %s\n", err ? err : "see above");
		return 1;
	}
	json_object_put(ov);
	loop_run_once(a.loop, 0); /* as in the agent: the key-pool worker starts on the loop */
	/* The first mint persists how long the CA must stay (one fsync); keep
	 * it out of the burst, then let the pool fill up again. */
	if (mint_one(au, 0) < 0)
		return 1;
	usleep(300000);
	w0 = clock_s(CLOCK_MONOTONIC);
	for (unsigned long i = 0; i < pool; i++)
		if (mint_one(au, (unsigned)i) < 0)
			return 1;
	w1 = clock_s(CLOCK_MONOTONIC);
	printf("burst_n=%lu burst_us=%.1f ", pool, pool ? (w1 - w0) / (double)pool * 1e6 : 0.0);

	w0 = clock_s(CLOCK_MONOTONIC);
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	do {
		for (int i = 0; i < 256; i++, n++)
			if (mint_one(au, (unsigned)n) < 0)
				return 1;
		w1 = clock_s(CLOCK_MONOTONIC);
	} while (w1 - w0 < seconds);
	c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	printf("mints=%lu wall_s=%.3f cpu_s=%.3f per_cpu_s=%.0f per_wall_s=%.0f\n", n, w1 - w0, c1 - c0,
	       (double)n / (c1 - c0), (double)n / (w1 - w0));
	authority_free(au);
	loop_free(a.loop);
	r = snprintf(err = malloc(64 + sizeof(dir)), 64 + sizeof(dir), "rm -rf '%s'", dir);
	if (r > 0 && system(err) != 0)
		fprintf(stderr, "bench_mint: could not remove %s\n", dir);
	free(err);
	agent_free_subscriptions(&a);
	config_free(a.cfg);
	return 0;
}
