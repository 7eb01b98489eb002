/* node_internal.h - what node.c (the agent part, on the event loop) and
 * node_worker.c (the thread that owns the TPM) share: the node object,
 * jobs and their results. Data crosses threads only inside a job, handed
 * over under the queue lock. */
#ifndef KWID_NODE_INTERNAL_H
#define KWID_NODE_INTERNAL_H

#include <pthread.h>

#include "kwid/node.h"

struct admin_request;
struct kwid_io;
struct kwid_timer;

#define NODE_MAX_WAITERS 16
#define NODE_MAX_QUEUED 16 /* jobs submitted and not yet finished */

enum node_job_kind {
	NODE_JOB_SELF,	/* quote with our own nonce, verify, derive selectors */
	NODE_JOB_QUOTE, /* quote with a verifier's nonce for kwidctl node quote */
};

/* What a verified self-quote yields, applied on the loop. */
struct node_snapshot {
	bool ok;
	char failure[NODE_FAILURE_MAX];
	struct kwid_selector_set selectors;
	struct ima_digest_set ima;
	bool ima_present;
	size_t ima_entries, ima_verified;
	size_t policy_failed;
	json_object *summary; /* node_verify_result_to_json() */
};

struct node_job {
	enum node_job_kind kind;
	struct admin_request *req; /* or NULL */
	uint8_t nonce[TPM_NONCE_MAX];
	size_t nonce_len;
	struct kwid_pcr_selection sel;
	/* results */
	int error;		      /* -errno when the TPM could not be used */
	char message[NODE_FAILURE_MAX];
	json_object *evidence;	      /* NODE_JOB_QUOTE */
	struct node_snapshot snap;    /* NODE_JOB_SELF */
	char *ak_pem, *ak_name;	      /* set when the worker (re)loaded the AK */
	bool ek_cert;
	uint64_t duration_ns;
	struct node_job *next;
};

/* Set at start, read-only afterwards (both threads read them). */
struct node_config {
	char *tcti;
	char *ak_dir;
	enum tpm_ak_alg ak_alg;
	struct kwid_pcr_selection pcrs;
	uint64_t interval_ns;
	uint64_t refresh_min_ns;
	char *ima_log;		/* NULL: no IMA */
	enum kwid_digest_alg ima_bank;
	char *policy_path;
	struct ima_policy *policy;
};

/* Private to the worker thread. */
struct node_worker_state {
	bool ready;
	struct tpm_ak ak;
	char *ek_pem;
	uint8_t *ek_cert;
	size_t ek_cert_len;
};

struct kwid_node {
	struct kwid_agent *agent;
	struct node_config cfg;

	/* worker thread and its queues */
	pthread_t thread;
	bool starting;		/* the thread starts once the agent dropped its privileges */
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct node_job *todo, *done;
	int efd;
	struct kwid_io *efd_io;
	struct node_worker_state w;

	/* loop side */
	struct kwid_timer *timer;
	bool self_pending;
	unsigned queued;		   /* jobs submitted, not yet finished */
	uint64_t next_due_mono_ns;	   /* when the armed timer fires */
	struct admin_request *waiters[NODE_MAX_WAITERS]; /* node.refresh requests answered by the next self-quote */
	size_t nwaiters;
	uint64_t last_self_mono_ns;
	char state[NODE_FAILURE_MAX + 32]; /* "verified", "unavailable (...)", ... */
	char *ak_pem, *ak_name;
	bool ek_cert;
	struct kwid_selector_set selectors;
	struct ima_digest_set ima;
	bool ima_verified;
	struct node_snapshot last;	   /* summary of the last self-verification */
	uint64_t last_quote_real_ns, last_duration_ns;
	uint64_t quotes, failures;
};

/* node_worker.c */
int node_worker_start(struct kwid_node *n);
void node_worker_stop(struct kwid_node *n);
/* Queue a job (the loop thread gives up ownership until it is done). */
void node_worker_submit(struct kwid_node *n, struct node_job *job);
/* Take the finished jobs (loop thread), oldest first. */
struct node_job *node_worker_take_done(struct kwid_node *n);
void node_job_free(struct node_job *job);
void node_snapshot_clear(struct node_snapshot *s);

#endif
