/* keypool.c - a ring of pre-generated P-256 key pairs refilled by one
 * worker thread (see kwid/keypool.h). The worker starts refilling when the
 * pool drops to half and fills it up again, so that a steady trickle of
 * takes does not wake it for every pair. */
#include "kwid/keypool.h"
#include "kwid/log.h"
#include "kwid/util.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>

struct kwid_keypool {
	struct kwid_keygen *inline_gen; /* caller's thread */
	struct kwid_keypair *ring;	/* only while size > 0 */
	size_t size, head, count;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t worker;
	bool worker_running, stop, refilling;
	uint64_t taken_ready, taken_inline;
};

static void *worker_main(void *arg)
{
	struct kwid_keypool *p = arg;
	struct kwid_keygen *gen = NULL;
	struct kwid_keypair kp;

	if (keygen_new(&gen) < 0) {
		log_error("keypool: cannot create a key generator; pairs will be made inline");
		return NULL;
	}
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && !(p->refilling || p->count <= p->size / 2))
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->stop)
			break;
		p->refilling = true;
		pthread_mutex_unlock(&p->lock);
		int r = keygen_p256(gen, &kp);
		pthread_mutex_lock(&p->lock);
		if (r < 0) {
			p->refilling = false; /* try again on the next take */
			continue;
		}
		if (p->count < p->size) {
			p->ring[(p->head + p->count) % p->size] = kp;
			p->count++;
		}
		if (p->count == p->size)
			p->refilling = false;
	}
	pthread_mutex_unlock(&p->lock);
	keypair_wipe(&kp);
	keygen_free(gen);
	return NULL;
}

void keypool_free(struct kwid_keypool *p)
{
	if (!p)
		return;
	if (p->worker_running) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->worker, NULL);
	}
	if (p->ring) {
		OPENSSL_cleanse(p->ring, p->size * sizeof(*p->ring));
		free(p->ring);
	}
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	keygen_free(p->inline_gen);
	free(p);
}

/* The worker must never receive process signals: the event loop takes
 * them through a signalfd on the main thread. */
static int start_worker(struct kwid_keypool *p)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&p->worker, NULL, worker_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return r;
	p->worker_running = true;
	return 0;
}

int keypool_new(size_t size, struct kwid_keypool **out)
{
	struct kwid_keypool *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	r = keygen_new(&p->inline_gen);
	if (r < 0)
		goto fail;
	if (size > 0) {
		p->ring = calloc_array(size, sizeof(*p->ring));
		if (!p->ring) {
			r = -ENOMEM;
			goto fail;
		}
		p->size = size;
	}
	*out = p;
	return 0;
fail:
	keypool_free(p);
	return r;
}

int keypool_start(struct kwid_keypool *p)
{
	int r;

	if (p->size == 0 || p->worker_running)
		return 0;
	r = start_worker(p);
	if (r < 0)
		return log_error_errno(r, "keypool: cannot start the worker thread; key pairs are made inline");
	return 0;
}

int keypool_take(struct kwid_keypool *p, struct kwid_keypair *out)
{
	if (p->worker_running) {
		pthread_mutex_lock(&p->lock);
		if (p->count > 0) {
			struct kwid_keypair *slot = &p->ring[p->head];
			*out = *slot;
			OPENSSL_cleanse(slot, sizeof(*slot));
			p->head = (p->head + 1) % p->size;
			p->count--;
			p->taken_ready++;
			if (p->count <= p->size / 2 && !p->refilling)
				pthread_cond_signal(&p->wake);
			pthread_mutex_unlock(&p->lock);
			return 0;
		}
		p->taken_inline++;
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
	} else {
		p->taken_inline++;
	}
	return keygen_p256(p->inline_gen, out);
}

void keypool_stats(struct kwid_keypool *p, struct keypool_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = (struct keypool_stats){
		.size = p->size,
		.available = p->count,
		.taken_ready = p->taken_ready,
		.taken_inline = p->taken_inline,
	};
	pthread_mutex_unlock(&p->lock);
}
