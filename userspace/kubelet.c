/* kubelet.c - the kubelet client of the k8s attestor (see kwid/kubelet.h).
 *
 * One worker thread does the blocking work (TLS, reading, JSON parsing)
 * and hands a finished result back through an eventfd; the loop owns the
 * snapshot, decides when to fetch and announces what changed. The
 * attestor only ever reads the snapshot: attestation never waits for the
 * kubelet. */
#include "kwid/agent.h"
#include "kwid/kubelet.h"
#include "kwid/log.h"

#include <malloc.h>
#include <pthread.h>
#include <sys/eventfd.h>

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull
/* On-demand fetches (a pod the snapshot cannot answer for) at most this
 * often: a workload cannot make the agent hammer the kubelet. */
#define ON_DEMAND_INTERVAL_NS (1 * NS_PER_S)
#define ERROR_MAX 256

struct fetch_result {
	int err;
	char error[ERROR_MAX];
	struct kwid_kubelet_pods pods;
	uint64_t started_boot_ns, duration_ns;
	size_t bytes;
};

struct kwid_kubelet {
	struct kwid_agent *agent;
	struct kwid_kubelet_target target; /* read by the worker, never changed */
	uint64_t refresh_ns, max_age_ns;
	size_t max_pods;

	/* shared with the worker, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool want, stopping;
	struct fetch_result *done;
	bool worker_oom;

	pthread_t thread;
	bool thread_started;
	int result_fd; /* worker -> loop: a result is ready */
	int cancel_fd; /* loop -> worker: give up the fetch, we are stopping */
	struct kwid_io *result_io;
	struct kwid_timer *timer;
	uint64_t timer_due_ns; /* mono; 0 when disarmed */

	/* loop side */
	struct kwid_kubelet_pods *snap;
	uint64_t snap_started_boot_ns; /* the fetch that produced it began then */
	uint64_t snap_mono_ns;
	bool in_flight, again;
	uint64_t last_start_mono_ns, last_attempt_boot_ns;
	int last_err;	/* of the last finished fetch */
	bool finished_once;
	char last_error[ERROR_MAX];
	uint64_t last_error_real_ns, last_fetch_real_ns, last_success_real_ns, last_duration_ns;
	size_t last_bytes;
	struct kwid_kubelet_parse_stats parse;
	uint64_t fetches, failures, on_demand, notifications, expired;
};

/* ---- configuration ---- */

int kubelet_config_read(const struct kwid_config *c, struct kwid_kubelet_config *cfg)
{
	struct kwid_kubelet_target probe = {0};
	const char *why = NULL;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	if ((r = config_get_string(c, "attestors.kubelet.url", &cfg->url)) < 0 ||
	    (r = config_get_string(c, "attestors.kubelet.ca_file", &cfg->ca_file)) < 0 ||
	    (r = config_get_string(c, "attestors.kubelet.token_file", &cfg->token_file)) < 0 ||
	    (r = config_get_bool(c, "attestors.kubelet.skip_verify", &cfg->skip_verify)) < 0 ||
	    (r = config_get_u64(c, "attestors.kubelet.refresh_s", 1, 86400, &cfg->refresh_s)) < 0 ||
	    (r = config_get_u64(c, "attestors.kubelet.max_age_s", 1, 7 * 86400, &cfg->max_age_s)) < 0 ||
	    (r = config_get_u64(c, "attestors.kubelet.connect_timeout_ms", 10, 600000, &cfg->connect_timeout_ms)) < 0 ||
	    (r = config_get_u64(c, "attestors.kubelet.timeout_ms", 10, 600000, &cfg->timeout_ms)) < 0 ||
	    (r = config_get_u64(c, "attestors.kubelet.max_response_bytes", 4096, 1ull << 30, &cfg->max_response_bytes)) < 0 ||
	    (r = config_get_u64(c, "attestors.kubelet.max_pods", 1, 1 << 20, &cfg->max_pods)) < 0)
		return r;
	if (cfg->url && !*cfg->url)
		cfg->url = NULL;
	if (!cfg->url)
		return 0;
	r = kubelet_url_parse(cfg->url, &probe, &why);
	kubelet_target_clear(&probe);
	if (r < 0)
		return log_error_errno(r, "config: attestors.kubelet.url '%s': %s", cfg->url, why ? why : "invalid");
	if (!cfg->skip_verify && (!cfg->ca_file || !*cfg->ca_file))
		return log_error_errno(-EINVAL, "config: attestors.kubelet.ca_file is required (the CA that signed "
						"the kubelet's serving certificate), unless skip_verify is true");
	if (cfg->max_age_s < cfg->refresh_s)
		return log_error_errno(-EINVAL, "config: attestors.kubelet.max_age_s (%llu) must not be below "
						"refresh_s (%llu)", (unsigned long long)cfg->max_age_s,
				       (unsigned long long)cfg->refresh_s);
	return 0;
}

/* ---- the worker ---- */

static struct fetch_result *fetch_once(struct kwid_kubelet *k)
{
	struct fetch_result *res = calloc(1, sizeof(*res));
	_cleanup_free_ char *body = NULL;
	const char *why = NULL;
	uint64_t t0 = now_mono_ns();
	size_t len = 0;

	if (!res)
		return NULL;
	res->started_boot_ns = now_boot_ns();
	res->err = kubelet_http_get(&k->target, k->cancel_fd, &body, &len, res->error, sizeof(res->error));
	if (res->err == 0) {
		res->bytes = len;
		res->err = kubelet_pods_parse(body, len, k->max_pods, &res->pods, &why);
		if (res->err < 0)
			snprintf(res->error, sizeof(res->error), "the pod list from %s is refused: %s", k->target.url,
				 why ? why : strerror(-res->err));
	}
	res->duration_ns = now_mono_ns() - t0;
	/* The answer's buffer (up to max_response_bytes) is gone; give its
	 * pages back rather than keep them resident until the next fetch. */
	free(TAKE_PTR(body));
	malloc_trim(0);
	return res;
}

static void *worker_main(void *arg)
{
	struct kwid_kubelet *k = arg;

	for (;;) {
		struct fetch_result *res;
		uint64_t one = 1;

		pthread_mutex_lock(&k->lock);
		while (!k->want && !k->stopping)
			pthread_cond_wait(&k->cond, &k->lock);
		if (k->stopping) {
			pthread_mutex_unlock(&k->lock);
			return NULL;
		}
		k->want = false;
		pthread_mutex_unlock(&k->lock);

		res = fetch_once(k);

		pthread_mutex_lock(&k->lock);
		if (res)
			k->done = res;
		else
			k->worker_oom = true;
		pthread_mutex_unlock(&k->lock);
		(void)!write(k->result_fd, &one, sizeof(one));
	}
}

/* Threads start after the privilege drop (capabilities and seccomp filters
 * are per thread): from the loop's first iteration. */
static void start_worker(void *userdata)
{
	struct kwid_kubelet *k = userdata;
	int r = -pthread_create(&k->thread, NULL, worker_main, k);

	if (r < 0) {
		log_error_errno(r, "kubelet: cannot start the fetch thread: no k8s:sa or k8s:pod-label selectors");
		return;
	}
	k->thread_started = true;
	(void)pthread_setname_np(k->thread, "kwid-kubelet"); /* for ps -T, /proc/<pid>/task */
}

/* ---- scheduling (loop) ---- */

/* Arm the timer for due_ns unless it fires earlier already. true when
 * the fetch moved earlier. */
static bool schedule_at(struct kwid_kubelet *k, uint64_t due_ns)
{
	uint64_t now = now_mono_ns();

	if (k->timer_due_ns && k->timer_due_ns <= MAX(due_ns, now))
		return false;
	k->timer_due_ns = MAX(due_ns, now);
	if (loop_timer_arm(k->timer, k->timer_due_ns - now) < 0) {
		k->timer_due_ns = 0;
		return false;
	}
	return true;
}

/* An attestation met a pod the snapshot cannot answer for, in a process
 * that started at proc_start_ns: fetch soon, but not more often than
 * ON_DEMAND_INTERVAL_NS. */
static void request_fetch(struct kwid_kubelet *k, uint64_t proc_start_ns)
{
	if (k->in_flight) {
		/* One that began after the process started will tell. */
		if (k->last_attempt_boot_ns < proc_start_ns && !k->again) {
			k->again = true;
			k->on_demand++;
		}
		return;
	}
	if (schedule_at(k, k->last_start_mono_ns ? k->last_start_mono_ns + ON_DEMAND_INTERVAL_NS : 0))
		k->on_demand++;
}

static void on_timer(struct kwid_timer *t, void *userdata)
{
	struct kwid_kubelet *k = userdata;

	k->timer_due_ns = 0;
	if (k->in_flight)
		return;
	k->in_flight = true;
	k->last_start_mono_ns = now_mono_ns();
	k->last_attempt_boot_ns = now_boot_ns();
	k->fetches++;
	pthread_mutex_lock(&k->lock);
	k->want = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

/* ---- results (loop) ---- */

static bool snapshot_expired(const struct kwid_kubelet *k)
{
	return k->snap && now_mono_ns() - k->snap_mono_ns > k->max_age_ns;
}

static void snapshot_free(struct kwid_kubelet_pods *p)
{
	if (p)
		kubelet_pods_clear(p);
	free(p);
}

/* Replace the snapshot (next may be NULL) and announce the pods whose
 * facts changed. */
static void snapshot_replace(struct kwid_kubelet *k, struct kwid_kubelet_pods *next)
{
	struct kwid_selector_set changed;
	struct kwid_kubelet_pods *old = k->snap;
	int r;

	selset_init(&changed);
	r = kubelet_pods_diff(old, next, &changed);
	k->snap = next;
	snapshot_free(old);
	if (r < 0) {
		/* Cannot tell which pods: everyone re-attests. */
		log_warn_errno(r, "kubelet: cannot compare pod lists; re-attesting every pod");
		selset_clear(&changed);
		k->notifications++;
		agent_notify(k->agent, KWID_CHANGE_POD_FACTS, NULL);
		return;
	}
	if (changed.n > 0) {
		k->notifications++;
		log_debug("kubelet: facts of %zu pods changed", changed.n);
		agent_notify(k->agent, KWID_CHANGE_POD_FACTS, &changed);
	}
	selset_clear(&changed);
}

static void apply_success(struct kwid_kubelet *k, struct fetch_result *res)
{
	struct kwid_kubelet_pods *next = malloc(sizeof(*next));

	if (!next) {
		res->err = -ENOMEM;
		snprintf(res->error, sizeof(res->error), "out of memory for the pod list");
		return;
	}
	*next = res->pods;
	memset(&res->pods, 0, sizeof(res->pods));
	if (k->last_err || !k->finished_once)
		log_info("kubelet: %s answers: %zu pods%s", k->target.url, next->n,
			 k->target.skip_verify ? " (TLS verification OFF: skip_verify)" : "");
	k->parse = next->stats;
	k->last_success_real_ns = now_real_ns();
	k->snap_started_boot_ns = res->started_boot_ns;
	k->snap_mono_ns = now_mono_ns();
	k->last_err = 0;
	snapshot_replace(k, next);
}

static void apply_failure(struct kwid_kubelet *k, const struct fetch_result *res)
{
	k->failures++;
	/* Log what is new; the same error again only at debug level. */
	if (res->err != k->last_err || !streq(res->error, k->last_error))
		log_warn("kubelet: fetching %s failed: %s", k->target.url, res->error);
	else
		log_debug("kubelet: fetching %s failed again: %s", k->target.url, res->error);
	k->last_err = res->err;
	strscpy(k->last_error, res->error, sizeof(k->last_error));
	k->last_error_real_ns = now_real_ns();
	if (snapshot_expired(k)) {
		log_warn("kubelet: no answer for %llu s: dropping its pod facts (k8s:sa, k8s:pod-label)",
			 (unsigned long long)(k->max_age_ns / NS_PER_S));
		k->expired++;
		snapshot_replace(k, NULL);
	}
}

static void on_result(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct kwid_kubelet *k = userdata;
	struct fetch_result *res, oom = {.err = -ENOMEM};
	uint64_t n, now;

	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&k->lock);
	res = k->done;
	k->done = NULL;
	if (!res && k->worker_oom)
		res = &oom;
	k->worker_oom = false;
	pthread_mutex_unlock(&k->lock);
	if (!res)
		return;
	if (res == &oom)
		snprintf(oom.error, sizeof(oom.error), "out of memory");
	k->in_flight = false;
	k->last_fetch_real_ns = now_real_ns();
	k->last_duration_ns = res->duration_ns;
	k->last_bytes = res->bytes;
	if (res->err == 0)
		apply_success(k, res);
	if (res->err < 0)
		apply_failure(k, res);
	k->finished_once = true;
	if (res != &oom) {
		kubelet_pods_clear(&res->pods);
		free(res);
	}
	/* Next: soon if an attestation asked meanwhile, else on schedule. */
	now = now_mono_ns();
	schedule_at(k, k->again ? k->last_start_mono_ns + ON_DEMAND_INTERVAL_NS : now + k->refresh_ns);
	k->again = false;
}

/* ---- the attestor's view ---- */

enum kwid_kubelet_answer kubelet_lookup(struct kwid_kubelet *k, const char *uid, uint64_t proc_start_ns,
					const struct kwid_kubelet_pod **pod, const char **why)
{
	bool usable = k->snap && !snapshot_expired(k);

	*pod = NULL;
	*why = NULL;
	if (usable) {
		*pod = kubelet_pods_find(k->snap, uid);
		if (*pod)
			return KWID_KUBELET_FOUND;
		/* The kubelet knows a pod before any of its processes runs:
		 * asked after this one started, it would have listed it. */
		if (k->snap_started_boot_ns >= proc_start_ns) {
			*why = "the kubelet does not list this pod";
			return KWID_KUBELET_NOT_LISTED;
		}
	}
	request_fetch(k, proc_start_ns);
	if (!k->in_flight && k->last_err && k->last_attempt_boot_ns >= proc_start_ns) {
		*why = k->last_error;
		return KWID_KUBELET_FAILED;
	}
	*why = "waiting for the kubelet's answer";
	return KWID_KUBELET_PENDING;
}

/* ---- status ---- */

static void add_time(json_object *out, const char *key, uint64_t real_ns)
{
	if (real_ns)
		json_object_object_add(out, key, json_object_new_int64((int64_t)(real_ns / NS_PER_S)));
}

static void add_u64(json_object *out, const char *key, uint64_t v)
{
	json_object_object_add(out, key, json_object_new_int64((int64_t)v));
}

void kubelet_status(struct kwid_kubelet *k, json_object *out)
{
	bool usable;

	if (!k) {
		json_object_object_add(out, "state", json_object_new_string("off"));
		return;
	}
	usable = k->snap && !snapshot_expired(k);
	json_object_object_add(out, "state", json_object_new_string(!k->finished_once ? "starting"
								    : k->last_err    ? "error"
										     : "ok"));
	json_object_object_add(out, "url", json_object_new_string(k->target.url));
	json_object_object_add(out, "tls_verify",
			       json_object_new_string(k->target.skip_verify ? "OFF (skip_verify): anyone answering at "
									      "the URL decides k8s:sa and k8s:pod-label"
									    : k->target.ca_file));
	add_u64(out, "pods_cached", usable ? k->snap->n : 0);
	if (usable)
		add_u64(out, "answer_age_s", (now_mono_ns() - k->snap_mono_ns) / NS_PER_S);
	add_u64(out, "fetches", k->fetches);
	add_u64(out, "failures", k->failures);
	add_u64(out, "on_demand_requests", k->on_demand);
	add_u64(out, "change_notifications", k->notifications);
	add_u64(out, "answers_expired", k->expired);
	add_time(out, "last_fetch_unix", k->last_fetch_real_ns);
	add_time(out, "last_success_unix", k->last_success_real_ns);
	add_u64(out, "last_fetch_ms", k->last_duration_ns / NS_PER_MS);
	add_u64(out, "last_response_bytes", k->last_bytes);
	if (k->last_error[0]) {
		json_object_object_add(out, "last_error", json_object_new_string(k->last_error));
		add_time(out, "last_error_unix", k->last_error_real_ns);
	}
	add_u64(out, "pods_refused", k->parse.pods_refused);
	add_u64(out, "uids_conflicting", k->parse.uids_conflicting);
	add_u64(out, "labels_refused", k->parse.labels_refused);
	add_u64(out, "names_refused", k->parse.names_refused);
}

/* ---- life cycle ---- */

static int target_from_config(const struct kwid_kubelet_config *cfg, struct kwid_kubelet_target *t)
{
	const char *why = NULL;
	int r = kubelet_url_parse(cfg->url, t, &why);

	if (r < 0)
		return r;
	t->skip_verify = cfg->skip_verify;
	t->connect_timeout_ms = cfg->connect_timeout_ms;
	t->timeout_ms = cfg->timeout_ms;
	t->max_response_bytes = (size_t)cfg->max_response_bytes;
	if ((cfg->ca_file && !(t->ca_file = strdup(cfg->ca_file))) ||
	    (cfg->token_file && !(t->token_file = strdup(cfg->token_file))))
		return -ENOMEM;
	return 0;
}

int kubelet_new(struct kwid_agent *a, const struct kwid_kubelet_config *cfg, struct kwid_kubelet **out)
{
	struct kwid_kubelet *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	k->agent = a;
	k->result_fd = k->cancel_fd = -1;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	k->refresh_ns = cfg->refresh_s * NS_PER_S;
	k->max_age_ns = cfg->max_age_s * NS_PER_S;
	k->max_pods = (size_t)cfg->max_pods;
	r = target_from_config(cfg, &k->target);
	if (r < 0)
		goto fail;
	k->result_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	k->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->result_fd < 0 || k->cancel_fd < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = loop_io_add(a->loop, k->result_fd, EPOLLIN, on_result, k, &k->result_io)) < 0 ||
	    (r = loop_timer_new(a->loop, on_timer, k, &k->timer)) < 0 ||
	    (r = loop_defer(a->loop, start_worker, k)) < 0)
		goto fail;
	schedule_at(k, now_mono_ns()); /* the first fetch at once */
	if (cfg->skip_verify)
		log_warn("kubelet: TLS verification of %s is OFF (attestors.kubelet.skip_verify): whoever answers "
			 "there decides the k8s:sa and k8s:pod-label selectors", cfg->url);
	log_info("kubelet: pod facts from %s every %llu s (CA %s, token %s)", cfg->url,
		 (unsigned long long)cfg->refresh_s, cfg->skip_verify ? "not checked" : cfg->ca_file,
		 cfg->token_file ? cfg->token_file : "none");
	*out = k;
	return 0;
fail:
	kubelet_free(k);
	return log_error_errno(r, "kubelet: cannot start the client for %s", cfg->url);
}

void kubelet_free(struct kwid_kubelet *k)
{
	uint64_t one = 1;

	if (!k)
		return;
	if (k->agent && k->agent->loop)
		loop_defer_cancel(k->agent->loop, start_worker, k);
	pthread_mutex_lock(&k->lock);
	k->stopping = true;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	if (k->cancel_fd >= 0)
		(void)!write(k->cancel_fd, &one, sizeof(one));
	if (k->thread_started)
		pthread_join(k->thread, NULL);
	if (k->done) {
		kubelet_pods_clear(&k->done->pods);
		free(k->done);
	}
	snapshot_free(k->snap);
	loop_io_free(k->result_io);
	loop_timer_free(k->timer);
	if (k->result_fd >= 0)
		close(k->result_fd);
	if (k->cancel_fd >= 0)
		close(k->cancel_fd);
	kubelet_target_clear(&k->target);
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->cond);
	free(k);
}
