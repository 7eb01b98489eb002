/* node_worker.c - the thread that owns the TPM. It runs one job at a time:
 * connect, load (or first create) the AK, quote, read the PCRs and the IMA
 * log, build the evidence document and, for the agent's own quotes,
 * verify it exactly as a remote verifier would. A TPM operation can take
 * hundreds of milliseconds and a 100,000-entry replay a good part of a
 * second; none of it blocks the event loop. Finished jobs go back to the
 * loop through an eventfd. */
#include "kwid/errbuf.h"
#include "kwid/log.h"
#include "node_internal.h"

/* The job failed: say why (job->message) and with which errno. */
#define job_fail(job, r, ...) ((job)->error = errbuf_set((r), (job)->message, sizeof((job)->message), __VA_ARGS__))

#include <openssl/rand.h>
#include <signal.h>
#include <sys/eventfd.h>

void node_snapshot_clear(struct node_snapshot *s)
{
	selset_clear(&s->selectors);
	ima_digest_set_clear(&s->ima);
	json_object_put(s->summary);
	memset(s, 0, sizeof(*s));
}

void node_job_free(struct node_job *job)
{
	if (!job)
		return;
	json_object_put(job->evidence);
	node_snapshot_clear(&job->snap);
	free(job->ak_pem);
	free(job->ak_name);
	free(job);
}

/* First use (or after a failure): the AK and the EK. */
static int worker_init(struct kwid_node *n, struct kwid_tpm *t, struct node_job *job)
{
	struct node_worker_state *w = &n->w;
	char err[TPM_ERR_MAX], name[2 * sizeof(w->ak.name) + 1];
	int r;

	if (w->ready)
		return 0;
	free(w->ek_pem);
	free(w->ek_cert);
	w->ek_pem = NULL;
	w->ek_cert = NULL;
	r = tpm_ak_ensure(t, n->cfg.ak_dir, n->cfg.ak_alg, &w->ak, err, sizeof(err));
	if (r < 0)
		return job_fail(job, r, "%s", err);
	r = tpm_ek_read(t, n->cfg.ak_alg, &w->ek_pem, &w->ek_cert, &w->ek_cert_len, err, sizeof(err));
	if (r < 0)
		log_warn("node: cannot read the EK (%s); evidence goes without it", err);
	w->ready = true;
	hex_encode(w->ak.name, w->ak.name_len, name);
	job->ak_pem = pkey_to_pem(w->ak.pkey);
	job->ak_name = strdup(name);
	job->ek_cert = w->ek_cert != NULL;
	log_info("node: attestation key %s (%s), EK certificate %s", name, n->cfg.ak_alg == TPM_AK_ECC ? "ECC P-256" : "RSA 2048",
		 w->ek_cert ? "present" : "absent");
	return 0;
}

static bool covers_ima_pcr(const struct kwid_pcr_selection *sel)
{
	for (size_t b = 0; b < KWID_DIGEST__COUNT; b++)
		if (sel->mask[b] & (1u << IMA_PCR))
			return true;
	return false;
}

/* The raw IMA log, or NULL when there is none (IMA off, not configured, or
 * the quote does not cover PCR 10 so that it could not be verified). */
static uint8_t *read_ima_log(struct kwid_node *n, const struct kwid_pcr_selection *sel, size_t *len)
{
	char *data = NULL;
	int r;

	if (!n->cfg.ima_log || !covers_ima_pcr(sel))
		return NULL;
	r = read_file(n->cfg.ima_log, IMA_LOG_MAX_BYTES, &data, len);
	if (r == -ENOENT)
		return NULL;
	if (r < 0) {
		log_warn("node: cannot read the IMA log %s: %s", n->cfg.ima_log, strerror(-r));
		return NULL;
	}
	return (uint8_t *)data;
}

/* Verify our own evidence like a remote verifier, and keep what the
 * attestor needs. */
static void self_verify(struct kwid_node *n, json_object *ev, const struct node_job *job, struct node_snapshot *s)
{
	struct node_verify_opts o = {.ak = n->w.ak.pkey, .nonce = job->nonce, .nonce_len = job->nonce_len,
				     .policy = n->cfg.policy};
	struct node_verify_result res;
	int r;

	r = node_evidence_verify(ev, &o, &res);
	s->ok = r == 0;
	snprintf(s->failure, sizeof(s->failure), "%s", r == -EBADMSG ? res.failure : r < 0 ? strerror(-r) : "");
	s->summary = node_verify_result_to_json(&res);
	s->ima_present = res.ima_present;
	s->ima_entries = res.ima ? res.ima->n : 0;
	s->ima_verified = res.ima_matched;
	s->policy_failed = res.policy.failed;
	if (s->ok) {
		r = node_pcr_selectors(&res.pcrs, res.ima_present ? res.ima_pcr_mask : 0, &s->selectors);
		if (r >= 0 && res.ima_present)
			r = ima_digest_set_build(res.ima, res.ima_matched, res.ima_pcr_mask, &s->ima);
		if (r < 0) {
			s->ok = false;
			snprintf(s->failure, sizeof(s->failure), "cannot derive node selectors: %s", strerror(-r));
		}
		selset_sort(&s->selectors);
	}
	node_verify_result_clear(&res);
}

static void run_job(struct kwid_node *n, struct node_job *job)
{
	_cleanup_(tpm_closep) struct kwid_tpm *t = NULL;
	_cleanup_free_ uint8_t *ima = NULL;
	struct tpm_quote *q = NULL;
	char err[TPM_ERR_MAX];
	size_t ima_len = 0;
	uint64_t t0 = now_mono_ns();
	json_object *ev;
	int r;

	if (job->kind == NODE_JOB_SELF) {
		job->nonce_len = 32;
		if (RAND_bytes(job->nonce, 32) != 1) {
			job_fail(job, -EIO, "no randomness for a nonce");
			return;
		}
	}
	r = tpm_open(n->cfg.tcti, &t, err, sizeof(err));
	if (r < 0) {
		job_fail(job, r, "%s", err);
		return;
	}
	if (worker_init(n, t, job) < 0)
		return;
	q = malloc(sizeof(*q));
	if (!q) {
		job_fail(job, -ENOMEM, "out of memory");
		return;
	}
	r = tpm_quote(t, &n->w.ak, job->nonce, job->nonce_len, &job->sel, q, err, sizeof(err));
	tpm_close(TAKE_PTR(t));
	if (r < 0) {
		free(q);
		n->w.ready = false; /* load the AK afresh next time: the TPM may have changed */
		tpm_ak_clear(&n->w.ak);
		job_fail(job, r, "%s", err);
		return;
	}
	ima = read_ima_log(n, &job->sel, &ima_len);
	ev = node_evidence_build(&(struct node_evidence_input){
		.quote = q, .ak = &n->w.ak, .nonce = job->nonce, .nonce_len = job->nonce_len,
		.ek_pem = n->w.ek_pem, .ek_cert = n->w.ek_cert, .ek_cert_len = n->w.ek_cert_len,
		.ima = ima, .ima_len = ima_len, .ima_path = n->cfg.ima_log, .ima_bank = n->cfg.ima_bank});
	free(q);
	if (job->kind == NODE_JOB_SELF) {
		self_verify(n, ev, job, &job->snap);
		json_object_put(ev);
	} else {
		job->evidence = ev;
	}
	job->duration_ns = now_mono_ns() - t0;
}

static void *worker_main(void *arg)
{
	struct kwid_node *n = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct node_job *job, **tail;
		uint64_t one = 1;

		pthread_mutex_lock(&n->lock);
		while (!n->stop && !n->todo)
			pthread_cond_wait(&n->cond, &n->lock);
		if (n->stop) {
			pthread_mutex_unlock(&n->lock);
			break;
		}
		job = n->todo;
		n->todo = job->next;
		job->next = NULL;
		pthread_mutex_unlock(&n->lock);

		run_job(n, job);

		pthread_mutex_lock(&n->lock);
		for (tail = &n->done; *tail; tail = &(*tail)->next)
			;
		*tail = job;
		pthread_mutex_unlock(&n->lock);
		if (write(n->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("node: cannot wake the event loop: %s", strerror(errno));
	}
	return NULL;
}

int node_worker_start(struct kwid_node *n)
{
	int r;

	n->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->efd < 0)
		return -errno;
	r = pthread_create(&n->thread, NULL, worker_main, n);
	if (r != 0)
		return -r;
	n->thread_started = true;
	return 0;
}

void node_worker_stop(struct kwid_node *n)
{
	if (n->thread_started) {
		pthread_mutex_lock(&n->lock);
		n->stop = true;
		pthread_cond_signal(&n->cond);
		pthread_mutex_unlock(&n->lock);
		pthread_join(n->thread, NULL);
		n->thread_started = false;
	}
	tpm_ak_clear(&n->w.ak);
	free(n->w.ek_pem);
	free(n->w.ek_cert);
	memset(&n->w, 0, sizeof(n->w));
}

void node_worker_submit(struct kwid_node *n, struct node_job *job)
{
	struct node_job **tail;

	job->next = NULL;
	pthread_mutex_lock(&n->lock);
	for (tail = &n->todo; *tail; tail = &(*tail)->next)
		;
	*tail = job;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

struct node_job *node_worker_take_done(struct kwid_node *n)
{
	struct node_job *list;

	pthread_mutex_lock(&n->lock);
	list = n->done;
	n->done = NULL;
	pthread_mutex_unlock(&n->lock);
	return list;
}
