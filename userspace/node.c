/* node.c - the node part of the agent (on the event loop): configuration,
 * the quote schedule, the admin commands node.ak / node.quote /
 * node.refresh, the "node" status section, and the verified state the
 * node attestor reads: tpm:pcr selectors and the SHA-256 digests of the
 * verified IMA entries. The TPM itself is only touched by the worker
 * thread (node_worker.c).
 *
 * Fail closed: when a quote or its verification fails, the node selectors
 * are withdrawn until a later quote verifies again. */
#include "kwid/admin.h"
#include "kwid/agent.h"
#include "kwid/log.h"
#include "node_internal.h"

#include <stdarg.h>

static void node_state(struct kwid_node *n, const char *fmt, ...) _printf_(2, 3);
static void node_state(struct kwid_node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(n->state, sizeof(n->state), fmt, ap);
	va_end(ap);
}

/* ---- configuration ---- */

static int config_path(const struct kwid_config *cfg, const char *key, char **out)
{
	const char *s;
	int r = config_get_string(cfg, key, &s);

	if (r < 0)
		return r;
	if (s && s[0] != '/')
		return log_error_errno(-EINVAL, "config: key '%s' must be an absolute path, got '%s'", key, s);
	*out = s ? strdup(s) : NULL;
	return s && !*out ? -ENOMEM : 0;
}

static int load_config(struct node_config *c, const struct kwid_config *cfg)
{
	const char *tcti, *alg, *pcrs;
	char err[256];
	uint64_t v;
	int r;

	if ((r = config_get_string(cfg, "node.tcti", &tcti)) < 0 || (r = config_get_string(cfg, "node.ak_alg", &alg)) < 0 ||
	    (r = config_get_string(cfg, "node.pcrs", &pcrs)) < 0)
		return r;
	c->tcti = tcti && *tcti ? strdup(tcti) : NULL;
	if (streq(alg, "ecc"))
		c->ak_alg = TPM_AK_ECC;
	else if (streq(alg, "rsa"))
		c->ak_alg = TPM_AK_RSA;
	else
		return log_error_errno(-EINVAL, "config: node.ak_alg must be \"ecc\" or \"rsa\", got '%s'", alg ? alg : "null");
	if (pcr_selection_parse(pcrs, &c->pcrs, err, sizeof(err)) < 0)
		return log_error_errno(-EINVAL, "config: node.pcrs: %s", err);
	if ((r = config_get_u64(cfg, "node.quote_interval_s", 1, 86400, &v)) < 0)
		return r;
	c->interval_ns = v * 1000000000ull;
	if ((r = config_get_u64(cfg, "node.ima_refresh_min_s", 0, 3600, &v)) < 0)
		return r;
	c->refresh_min_ns = v * 1000000000ull;
	if ((r = config_path(cfg, "node.ima_log", &c->ima_log)) < 0 ||
	    (r = config_path(cfg, "node.ima_policy", &c->policy_path)) < 0)
		return r;
	if (c->ima_log && ima_log_bank_from_path(c->ima_log, &c->ima_bank) < 0)
		return log_error_errno(-EINVAL, "config: node.ima_log %s: cannot tell the template hash from the name "
				       "(binary_runtime_measurements[_sha1|_sha256|_sha384|_sha512])", c->ima_log);
	if (c->policy_path && ima_policy_load(c->policy_path, &c->policy, err, sizeof(err)) < 0)
		return log_error_errno(-EINVAL, "config: node.ima_policy: %s", err);
	if (asprintf(&c->ak_dir, "%s/tpm", cfg->state_dir) < 0)
		return -ENOMEM;
	return 0;
}

static void free_config(struct node_config *c)
{
	free(c->tcti);
	free(c->ak_dir);
	free(c->ima_log);
	free(c->policy_path);
	ima_policy_free(c->policy);
	memset(c, 0, sizeof(*c));
}

/* ---- the schedule ---- */

static void schedule_self(struct kwid_node *n, struct admin_request *req);

static void on_timer(struct kwid_timer *t, void *userdata)
{
	schedule_self(userdata, NULL);
}

/* Arm the quote timer for delay_ns from now, unless it fires earlier. */
static void arm_next(struct kwid_node *n, uint64_t delay_ns)
{
	uint64_t due = now_mono_ns() + delay_ns;

	if (loop_timer_armed(n->timer) && n->next_due_mono_ns <= due)
		return;
	if (loop_timer_arm(n->timer, delay_ns) < 0)
		log_warn("node: cannot arm the quote timer");
	n->next_due_mono_ns = due;
}

static int submit_self(struct kwid_node *n)
{
	struct node_job *job = calloc(1, sizeof(*job));

	if (!job)
		return -ENOMEM;
	job->kind = NODE_JOB_SELF;
	job->sel = n->cfg.pcrs;
	n->self_pending = true;
	n->last_self_mono_ns = now_mono_ns();
	loop_timer_disarm(n->timer);
	n->queued++;
	node_worker_submit(n, job);
	return 0;
}

/* Quote and verify our own evidence now (unless that is under way);
 * req, if any, gets the result of that quote. */
static void schedule_self(struct kwid_node *n, struct admin_request *req)
{
	if (!n->self_pending && submit_self(n) < 0) {
		if (req)
			admin_reply_error(req, "internal", "out of memory");
		arm_next(n, n->cfg.interval_ns);
		return;
	}
	if (!req)
		return;
	if (n->nwaiters == NODE_MAX_WAITERS)
		admin_reply_error(req, "unavailable", "too many refreshes waiting");
	else
		n->waiters[n->nwaiters++] = req;
}

void node_request_refresh(struct kwid_node *n)
{
	uint64_t now = now_mono_ns(), due;

	if (!n || !n->ima_verified || !n->cfg.refresh_min_ns || n->self_pending)
		return;
	due = n->last_self_mono_ns + n->cfg.refresh_min_ns;
	if (now >= due) {
		log_debug("node: a workload's digest is not in the verified IMA log: quoting again");
		schedule_self(n, NULL);
	} else {
		arm_next(n, due - now);
	}
}

/* ---- results ---- */

static bool selsets_equal(const struct kwid_selector_set *a, const struct kwid_selector_set *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

static bool digest_sets_equal(const struct ima_digest_set *a, const struct ima_digest_set *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * 32) == 0);
}

/* Install the new verified state (empty on failure); announce a change. */
static void install(struct kwid_node *n, struct kwid_selector_set *sel, struct ima_digest_set *ima, bool ima_ok)
{
	bool changed = !selsets_equal(&n->selectors, sel) || !digest_sets_equal(&n->ima, ima);

	selset_clear(&n->selectors);
	ima_digest_set_clear(&n->ima);
	n->selectors = *sel;
	n->ima = *ima;
	memset(sel, 0, sizeof(*sel));
	memset(ima, 0, sizeof(*ima));
	n->ima_verified = ima_ok;
	if (changed)
		agent_notify(n->agent, KWID_CHANGE_NODE_EVIDENCE, NULL);
}

static void reply_waiters(struct kwid_node *n, const struct node_job *job)
{
	for (size_t i = 0; i < n->nwaiters; i++) {
		struct admin_request *req = n->waiters[i];
		if (job->error)
			admin_reply_error(req, "unavailable", "node evidence unavailable: %s", job->message);
		else
			admin_reply_ok(req, json_object_get(job->snap.summary));
	}
	n->nwaiters = 0;
}

static void finish_self(struct kwid_node *n, struct node_job *job)
{
	struct kwid_selector_set none = {0};
	struct ima_digest_set no_ima = {0};

	n->self_pending = false;
	n->quotes++;
	n->last_quote_real_ns = now_real_ns();
	n->last_duration_ns = job->duration_ns;
	if (job->error) {
		n->failures++;
		if (!startswith(n->state, "unavailable") || !strstr(n->state, job->message))
			log_warn("node: evidence unavailable: %s", job->message);
		node_state(n, "unavailable (%s)", job->message);
		install(n, &none, &no_ima, false);
	} else if (!job->snap.ok) {
		n->failures++;
		log_error("node: our own evidence does not verify: %s", job->snap.failure);
		node_state(n, "failed: %s", job->snap.failure);
		install(n, &none, &no_ima, false);
	} else {
		if (!streq(n->state, "verified"))
			log_info("node: evidence verified (%zu selectors, IMA %s)", job->snap.selectors.n,
				 job->snap.ima_present ? "log verified" : "log absent");
		node_state(n, "verified");
		install(n, &job->snap.selectors, &job->snap.ima, job->snap.ima_present);
	}
	reply_waiters(n, job);
	node_snapshot_clear(&n->last);
	n->last = job->snap;
	memset(&job->snap, 0, sizeof(job->snap));
	arm_next(n, n->cfg.interval_ns);
}

static void finish_quote(struct kwid_node *n, struct node_job *job)
{
	if (job->error)
		admin_reply_error(job->req, "unavailable", "node evidence unavailable: %s", job->message);
	else
		admin_reply_ok(job->req, TAKE_PTR(job->evidence));
	job->req = NULL;
}

static void on_done(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct kwid_node *n = userdata;
	struct node_job *job, *next;
	uint64_t count;

	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("node: eventfd read: %s", strerror(errno));
	for (job = node_worker_take_done(n); job; job = next) {
		next = job->next;
		n->queued--;
		if (job->ak_pem) {
			free(n->ak_pem);
			free(n->ak_name);
			n->ak_pem = TAKE_PTR(job->ak_pem);
			n->ak_name = TAKE_PTR(job->ak_name);
			n->ek_cert = job->ek_cert;
		}
		if (job->kind == NODE_JOB_SELF)
			finish_self(n, job);
		else
			finish_quote(n, job);
		node_job_free(job);
	}
}

/* ---- reading the verified state (attestor) ---- */

const struct kwid_selector_set *node_selectors(struct kwid_node *n)
{
	return &n->selectors;
}

const struct ima_digest_set *node_ima_digests(struct kwid_node *n)
{
	return n->ima_verified ? &n->ima : NULL;
}

/* ---- admin commands ---- */

static bool node_running(struct kwid_node *n, struct admin_request *req)
{
	if (n->thread_started)
		return true;
	admin_reply_error(req, "unavailable", "node evidence %s", n->state);
	return false;
}

static int cmd_ak(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_node *n = userdata;
	json_object *res;

	if (!n->ak_pem) {
		admin_reply_error(req, "unavailable", "no attestation key: node evidence %s", n->state);
		return 0;
	}
	res = json_object_new_object();
	json_object_object_add(res, "alg", json_object_new_string(n->cfg.ak_alg == TPM_AK_ECC ? "ecc" : "rsa"));
	json_object_object_add(res, "name", json_object_new_string(n->ak_name));
	json_object_object_add(res, "public_pem", json_object_new_string(n->ak_pem));
	admin_reply_ok(req, res);
	return 0;
}

static int cmd_quote(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_node *n = userdata;
	const char *nonce, *pcrs;
	char err[256];
	struct node_job *job;
	size_t len;

	if (admin_arg_string(req, args, "nonce", true, &nonce) < 0 || admin_arg_string(req, args, "pcrs", false, &pcrs) < 0)
		return 0;
	len = strlen(nonce);
	if (len % 2 || len < 2 * NODE_NONCE_MIN || len > 2 * TPM_NONCE_MAX) {
		admin_reply_error(req, "invalid", "nonce must be %d to %d bytes of hex", NODE_NONCE_MIN, TPM_NONCE_MAX);
		return 0;
	}
	if (!node_running(n, req))
		return 0;
	if (n->queued >= NODE_MAX_QUEUED) {
		admin_reply_error(req, "unavailable", "%u quotes are already waiting for the TPM; try again", n->queued);
		return 0;
	}
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->kind = NODE_JOB_QUOTE;
	job->sel = n->cfg.pcrs;
	if (hex_decode(nonce, job->nonce, sizeof(job->nonce)) != (ssize_t)(len / 2)) {
		free(job);
		admin_reply_error(req, "invalid", "nonce is not hex");
		return 0;
	}
	job->nonce_len = len / 2;
	if (pcrs && pcr_selection_parse(pcrs, &job->sel, err, sizeof(err)) < 0) {
		free(job);
		admin_reply_error(req, "invalid", "%s", err);
		return 0;
	}
	job->req = req;
	n->queued++;
	node_worker_submit(n, job);
	return 0;
}

static int cmd_refresh(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_node *n = userdata;

	if (node_running(n, req))
		schedule_self(n, req);
	return 0;
}

/* ---- status ---- */

static void node_status(void *userdata, json_object *out)
{
	struct kwid_node *n = userdata;
	json_object *ima = json_object_new_object();
	char pcrs[256];

	pcr_selection_format(&n->cfg.pcrs, pcrs, sizeof(pcrs));
	json_object_object_add(out, "evidence", json_object_new_string(n->state));
	json_object_object_add(out, "tcti", n->cfg.tcti ? json_object_new_string(n->cfg.tcti) : NULL);
	json_object_object_add(out, "pcrs", json_object_new_string(pcrs));
	json_object_object_add(out, "ak_name", n->ak_name ? json_object_new_string(n->ak_name) : NULL);
	json_object_object_add(out, "ek_certificate", json_object_new_boolean(n->ek_cert));
	json_object_object_add(out, "selectors", json_object_new_int64((int64_t)n->selectors.n));
	json_object_object_add(out, "quotes", json_object_new_int64((int64_t)n->quotes));
	json_object_object_add(out, "failures", json_object_new_int64((int64_t)n->failures));
	if (n->quotes) {
		json_object_object_add(out, "last_quote_age_s",
				       json_object_new_int64((int64_t)((now_real_ns() - n->last_quote_real_ns) / 1000000000ull)));
		char ms[32];
		snprintf(ms, sizeof(ms), "%.1f", (double)n->last_duration_ns / 1e6);
		json_object_object_add(out, "last_quote_ms", json_object_new_double_s((double)n->last_duration_ns / 1e6, ms));
	}
	json_object_object_add(ima, "log", n->cfg.ima_log ? json_object_new_string(n->cfg.ima_log) : NULL);
	json_object_object_add(ima, "policy", n->cfg.policy_path ? json_object_new_string(n->cfg.policy_path) : NULL);
	json_object_object_add(ima, "verified", json_object_new_boolean(n->ima_verified));
	json_object_object_add(ima, "entries", json_object_new_int64((int64_t)n->last.ima_entries));
	json_object_object_add(ima, "verified_entries", json_object_new_int64((int64_t)n->last.ima_verified));
	json_object_object_add(ima, "measured_digests", json_object_new_int64((int64_t)n->ima.n));
	json_object_object_add(ima, "policy_failures", json_object_new_int64((int64_t)n->last.policy_failed));
	json_object_object_add(out, "ima", ima);
}

/* ---- life cycle ---- */

static const struct admin_command commands[] = {
	{"node.ak", cmd_ak, NULL},
	{"node.quote", cmd_quote, NULL},
	{"node.refresh", cmd_refresh, NULL},
};

static int register_commands(struct kwid_node *n)
{
	struct admin_command cmds[ARRAY_SIZE(commands)];

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		cmds[i] = commands[i];
		cmds[i].userdata = n;
	}
	return admin_register(n->agent->admin, cmds, ARRAY_SIZE(cmds));
}

/* A missing TPM device does not appear later: say so and stay idle. */
static bool device_missing(struct kwid_node *n)
{
	const char *tcti = n->cfg.tcti;
	const char *path;

	if (!startswith(tcti, "device"))
		return false;
	path = startswith(tcti, "device:") ? tcti + strlen("device:") : "/dev/tpmrm0";
	if (access(path, R_OK | W_OK) == 0)
		return false;
	node_state(n, "unavailable (no TPM at %s: %s)", tcti, strerror(errno));
	return true;
}

/* Runs in the loop's first iteration, after start-up is over and the agent
 * has dropped its privileges: capabilities and the seccomp filter are per
 * thread, and a thread started earlier would keep everything. */
static void start_thread(void *userdata)
{
	struct kwid_node *n = userdata;
	int r;

	r = node_worker_start(n);
	if (r >= 0)
		r = loop_io_add(n->agent->loop, n->efd, EPOLLIN, on_done, n, &n->efd_io);
	if (r < 0) {
		log_error_errno(r, "node: cannot start the TPM worker thread");
		node_state(n, "unavailable (cannot start the TPM worker thread: %s)", strerror(-r));
		return;
	}
	schedule_self(n, NULL);
}

static int start_worker(struct kwid_node *n)
{
	int r;

	/* tpm2-tss logs its own errors to stderr; ours name the failure. */
	setenv("TSS2_LOG", "all+none", 0);
	r = loop_timer_new(n->agent->loop, on_timer, n, &n->timer);
	if (r < 0)
		return r;
	node_state(n, "pending (first quote in progress)");
	n->starting = true;
	return loop_defer(n->agent->loop, start_thread, n);
}

int node_new(struct kwid_agent *a, struct kwid_node **out)
{
	struct kwid_node *n = calloc(1, sizeof(*n));
	int r;

	if (!n)
		return -ENOMEM;
	n->agent = a;
	n->efd = -1;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	r = load_config(&n->cfg, a->cfg);
	if (r >= 0)
		r = agent_status_register(a, "node", node_status, n);
	if (r >= 0 && a->admin)
		r = register_commands(n);
	if (r >= 0) {
		if (!n->cfg.tcti)
			node_state(n, "unavailable (disabled: node.tcti is null)");
		else if (!device_missing(n))
			r = start_worker(n);
	}
	if (r < 0) {
		node_free(n);
		return r;
	}
	if (!n->starting)
		log_warn("node: running without node evidence: %s", n->state);
	*out = n;
	return 0;
}

void node_free(struct kwid_node *n)
{
	struct node_job *lists[2], *job, *next;

	if (!n)
		return;
	loop_defer_cancel(n->agent->loop, start_thread, n);
	node_worker_stop(n);
	lists[0] = n->todo;
	lists[1] = n->done;
	n->todo = n->done = NULL;
	for (size_t i = 0; i < 2; i++) {
		for (job = lists[i]; job; job = next) {
			next = job->next;
			if (job->req)
				admin_reply_error(job->req, "unavailable", "the agent is stopping");
			node_job_free(job);
		}
	}
	for (size_t i = 0; i < n->nwaiters; i++)
		admin_reply_error(n->waiters[i], "unavailable", "the agent is stopping");
	loop_io_free(n->efd_io);
	if (n->efd >= 0)
		close(n->efd);
	loop_timer_free(n->timer);
	selset_clear(&n->selectors);
	ima_digest_set_clear(&n->ima);
	node_snapshot_clear(&n->last);
	free(n->ak_pem);
	free(n->ak_name);
	free_config(&n->cfg);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	free(n);
}
