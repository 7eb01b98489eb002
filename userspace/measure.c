/* measure.c - SHA-256 of executed files, once per file version (see
 * kwid/measure.h).
 *
 * A cache keyed by struct kwid_file_key holds one measurement per file
 * version. Hashing runs on worker threads: a job carries copies of what it
 * needs (key, what to open), never a pointer the loop may change, and its
 * result comes back through an eventfd to the loop, which is the only
 * thread touching measurements. Unreferenced measurements stay in an LRU
 * of at most cache_entries; measurements that live images use are pinned.
 *
 * Sources, in order: /proc/<pid>/exe of the exec'ing process, of other
 * live processes with the same key, then the recorded path. Every source
 * is checked against the key before and after reading: a different inode
 * means "not this file here" (the process is gone or exec'd again; try the
 * next source), same inode with other times or size means the file changed
 * since exec (FAILED, -ESTALE), which is never hashed as if it were the
 * executed one. */
#include "kwid/loop.h"
#include "kwid/log.h"
#include "kwid/measure.h"
#include "kwid/siphash.h"
#include "kwid/tracker.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#define HASH_CHUNK (128 * 1024)
#define MAX_PID_SOURCES 4

struct kwid_measure_waiter {
	struct kwid_measure_waiter *next;
	struct meas_entry *e;
	measure_done_fn fn;
	void *userdata;
	bool deferred;	/* completion already scheduled through loop_defer */
	bool cancelled;
};

struct meas_entry {
	struct kwid_measurement m; /* first: struct kwid_measurement * converts back */
	struct kwid_measurer *ms;  /* NULL once the measurer is gone */
	struct meas_entry *hnext;
	struct meas_entry *lru_prev, *lru_next;
	bool in_cache, in_lru;
	bool by_path;		   /* a script: opened by path, not /proc/<pid>/exe */
	char *open_path;	   /* by_path: what to open first */
	char *path;		   /* fallback path (recorded), or NULL */
	pid_t tried[MAX_PID_SOURCES];
	unsigned ntried;
	struct kwid_measure_waiter *waiters;
};

struct measure_job {
	struct measure_job *next;
	struct meas_entry *e; /* the loop's; the worker never dereferences it */
	struct kwid_file_key key;
	char src[PATH_MAX];
	bool proc_exe;	     /* src is /proc/<pid>/exe: another inode = next source */
	pid_t pid;
	uint64_t max_bytes;
	/* results */
	int err;
	bool next_source;
	uint8_t sha256[32];
	uint64_t bytes, duration_ns;
};

struct kwid_measurer {
	struct kwid_loop *loop;
	struct kwid_measurer_config cfg;
	const EVP_MD *sha256;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct measure_job *queue_head, *queue_tail, *done;
	bool stopping;
	pthread_t *threads;
	unsigned nthreads;
	int efd;
	struct kwid_io *efd_io;

	struct siphash_key hkey;
	struct meas_entry **buckets;
	size_t nbuckets, count;
	struct meas_entry *lru_head, *lru_tail;
	size_t lru_count;
	size_t pending;

	measurer_done_fn done_fn;
	void *done_ud;
	measurer_find_pid_fn find_fn;
	void *find_ud;

	struct {
		uint64_t hits, misses, hashed, failed, retries, bytes, hash_ns, evicted;
	} stats;
};

#define entry_of(m) ((struct meas_entry *)(m))

const char *measure_state_to_string(enum kwid_measure_state s)
{
	switch (s) {
	case KWID_MEASURE_PENDING:
		return "pending";
	case KWID_MEASURE_DONE:
		return "done";
	case KWID_MEASURE_FAILED:
		return "failed";
	}
	return "unknown";
}

static bool same_inode(const struct kwid_file_key *a, const struct kwid_file_key *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/* ---- worker side: no access to anything but the job ---- */

static int hash_fd(const EVP_MD *md, int fd, uint64_t max, uint8_t out[32], uint64_t *bytes)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	_cleanup_free_ uint8_t *buf = malloc(HASH_CHUNK);
	unsigned outlen = 0;
	int r = 0;

	*bytes = 0;
	if (!ctx || !buf || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -ENOMEM;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		ssize_t n = read(fd, buf, HASH_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		*bytes += (uint64_t)n;
		if (*bytes > max) {
			r = -EFBIG;
			break;
		}
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			r = -EIO;
			break;
		}
	}
	if (r == 0 && (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != 32))
		r = -EIO;
	EVP_MD_CTX_free(ctx);
	return r;
}

/* Compare what is open with the exec-time key: 0, next source, or -ESTALE. */
static int check_against_key(struct measure_job *job, int fd)
{
	struct kwid_file_key now;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	file_key_from_stat(&st, &now);
	if (!same_inode(&now, &job->key)) {
		/* /proc/<pid>/exe shows another file: the pid exec'd again or
		 * was reused. A path that names another inode: replaced. */
		if (job->proc_exe)
			job->next_source = true;
		return -ESTALE;
	}
	return file_key_equal(&now, &job->key) ? 0 : -ESTALE;
}

static void job_run(const EVP_MD *md, struct measure_job *job)
{
	uint64_t start = now_mono_ns();
	_cleanup_close_ int fd = open(job->src, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int r;

	if (fd < 0) {
		r = -errno;
		if (job->proc_exe && (r == -ENOENT || r == -ESRCH))
			job->next_source = true;
		job->err = r;
		return;
	}
	r = check_against_key(job, fd);
	if (r == 0 && job->key.size > job->max_bytes)
		r = -EFBIG;
	if (r == 0)
		r = hash_fd(md, fd, job->max_bytes, job->sha256, &job->bytes);
	/* Changed while we read it? Then the digest is of nobody's file. */
	if (r == 0)
		r = check_against_key(job, fd);
	if (r == 0 && job->bytes != job->key.size)
		r = -ESTALE;
	job->err = r;
	job->duration_ns = now_mono_ns() - start;
}

static void *worker_main(void *arg)
{
	struct kwid_measurer *ms = arg;

	for (;;) {
		struct measure_job *job;
		uint64_t one = 1;

		pthread_mutex_lock(&ms->lock);
		while (!ms->queue_head && !ms->stopping)
			pthread_cond_wait(&ms->cond, &ms->lock);
		if (ms->stopping) {
			pthread_mutex_unlock(&ms->lock);
			return NULL;
		}
		job = ms->queue_head;
		ms->queue_head = job->next;
		if (!ms->queue_head)
			ms->queue_tail = NULL;
		pthread_mutex_unlock(&ms->lock);

		job_run(ms->sha256, job);

		pthread_mutex_lock(&ms->lock);
		job->next = ms->done;
		ms->done = job;
		pthread_mutex_unlock(&ms->lock);
		(void)!write(ms->efd, &one, sizeof(one));
	}
}

/* ---- loop side ---- */

static uint64_t key_hash(struct kwid_measurer *ms, const struct kwid_file_key *k)
{
	return siphash13(&ms->hkey, k, sizeof(*k));
}

static struct meas_entry *cache_find(struct kwid_measurer *ms, const struct kwid_file_key *k)
{
	for (struct meas_entry *e = ms->buckets[key_hash(ms, k) & (ms->nbuckets - 1)]; e; e = e->hnext)
		if (file_key_equal(&e->m.key, k))
			return e;
	return NULL;
}

static void cache_grow(struct kwid_measurer *ms)
{
	size_t n = ms->nbuckets * 2;
	struct meas_entry **nb;

	if (ms->count < ms->nbuckets || !(nb = calloc(n, sizeof(*nb))))
		return;
	for (size_t i = 0; i < ms->nbuckets; i++) {
		struct meas_entry *e = ms->buckets[i];
		while (e) {
			struct meas_entry *next = e->hnext;
			size_t b = key_hash(ms, &e->m.key) & (n - 1);
			e->hnext = nb[b];
			nb[b] = e;
			e = next;
		}
	}
	free(ms->buckets);
	ms->buckets = nb;
	ms->nbuckets = n;
}

static void cache_insert(struct kwid_measurer *ms, struct meas_entry *e)
{
	size_t b = key_hash(ms, &e->m.key) & (ms->nbuckets - 1);

	e->hnext = ms->buckets[b];
	ms->buckets[b] = e;
	e->in_cache = true;
	ms->count++;
	cache_grow(ms);
}

static void cache_unlink(struct kwid_measurer *ms, struct meas_entry *e)
{
	struct meas_entry **pp = &ms->buckets[key_hash(ms, &e->m.key) & (ms->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			ms->count--;
			break;
		}
	}
	e->in_cache = false;
}

static void lru_remove(struct kwid_measurer *ms, struct meas_entry *e)
{
	if (!e->in_lru)
		return;
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		ms->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		ms->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
	e->in_lru = false;
	ms->lru_count--;
}

static void entry_free(struct meas_entry *e)
{
	free(e->open_path);
	free(e->path);
	free(e);
}

static void lru_evict(struct kwid_measurer *ms)
{
	while (ms->lru_count > ms->cfg.cache_entries && ms->lru_head) {
		struct meas_entry *e = ms->lru_head;
		lru_remove(ms, e);
		cache_unlink(ms, e);
		ms->stats.evicted++;
		if (--e->m.refs == 0)
			entry_free(e);
	}
}

struct kwid_measurement *measurement_ref(struct kwid_measurement *m)
{
	struct meas_entry *e = entry_of(m);

	if (!m)
		return NULL;
	m->refs++;
	if (e->in_lru)
		lru_remove(e->ms, e);
	return m;
}

void measurement_unref(struct kwid_measurement *m)
{
	struct meas_entry *e = entry_of(m);

	if (!m)
		return;
	if (--m->refs == 0) {
		entry_free(e);
		return;
	}
	/* Only the cache holds it now: it may be evicted. */
	if (m->refs == 1 && e->in_cache && e->ms && m->state != KWID_MEASURE_PENDING) {
		struct kwid_measurer *ms = e->ms;
		e->lru_prev = ms->lru_tail;
		e->lru_next = NULL;
		if (ms->lru_tail)
			ms->lru_tail->lru_next = e;
		else
			ms->lru_head = e;
		ms->lru_tail = e;
		e->in_lru = true;
		ms->lru_count++;
		lru_evict(ms);
	}
}

static int job_submit(struct kwid_measurer *ms, struct meas_entry *e, pid_t pid, const char *src)
{
	struct measure_job *job = calloc(1, sizeof(*job));

	if (!job)
		return -ENOMEM;
	job->e = e;
	job->key = e->m.key;
	job->max_bytes = ms->cfg.max_bytes;
	job->pid = pid;
	if (pid > 0) {
		snprintf(job->src, sizeof(job->src), "/proc/%d/exe", (int)pid);
		job->proc_exe = true;
		if (e->ntried < MAX_PID_SOURCES)
			e->tried[e->ntried++] = pid;
	} else if (strscpy(job->src, src, sizeof(job->src)) < 0) {
		free(job);
		return -ENAMETOOLONG;
	}
	e->m.state = KWID_MEASURE_PENDING;
	e->m.refs++; /* the job's reference */
	if (e->in_lru)
		lru_remove(ms, e);
	ms->pending++;
	pthread_mutex_lock(&ms->lock);
	if (ms->queue_tail)
		ms->queue_tail->next = job;
	else
		ms->queue_head = job;
	ms->queue_tail = job;
	pthread_cond_signal(&ms->cond);
	pthread_mutex_unlock(&ms->lock);
	return 0;
}

static void entry_fail(struct meas_entry *e, int err)
{
	e->m.state = KWID_MEASURE_FAILED;
	e->m.error = err < 0 ? err : -EIO;
}

/* Start (or restart) measuring e from its first source. */
static void entry_start(struct kwid_measurer *ms, struct meas_entry *e, pid_t pid)
{
	int r;

	e->ntried = 0;
	if (e->by_path)
		r = job_submit(ms, e, 0, e->open_path);
	else if (pid > 0)
		r = job_submit(ms, e, pid, NULL);
	else if (e->path)
		r = job_submit(ms, e, 0, e->path);
	else
		r = -ENOENT;
	if (r < 0)
		entry_fail(e, r);
}

static bool tried_pid(const struct meas_entry *e, pid_t pid)
{
	for (unsigned i = 0; i < e->ntried; i++)
		if (e->tried[i] == pid)
			return true;
	return false;
}

/* The source of a finished job did not have the file: pick the next one.
 * Returns true when another job was submitted. */
static bool try_next_source(struct kwid_measurer *ms, struct meas_entry *e, const struct measure_job *job)
{
	if (job->proc_exe) {
		if (ms->find_fn && e->ntried < MAX_PID_SOURCES) {
			pid_t other = ms->find_fn(ms->find_ud, &e->m.key, job->pid);
			if (other > 0 && !tried_pid(e, other) && job_submit(ms, e, other, NULL) == 0)
				return true;
		}
		if (e->path && job_submit(ms, e, 0, e->path) == 0)
			return true;
		return false;
	}
	/* A script opened through /proc/<pid>/...: fall back to its path. */
	if (e->by_path && e->path && !streq(job->src, e->path) && job_submit(ms, e, 0, e->path) == 0)
		return true;
	return false;
}

static void fire_waiters(struct meas_entry *e)
{
	struct kwid_measure_waiter *w = e->waiters;

	e->waiters = NULL;
	while (w) {
		struct kwid_measure_waiter *next = w->next;
		w->fn(w->userdata, &e->m);
		measurement_unref(&e->m);
		free(w);
		w = next;
	}
}

static void job_finish(struct kwid_measurer *ms, struct measure_job *job)
{
	struct meas_entry *e = job->e;

	ms->pending--;
	if (job->err == 0) {
		e->m.state = KWID_MEASURE_DONE;
		e->m.error = 0;
		memcpy(e->m.sha256, job->sha256, sizeof(e->m.sha256));
		hex_encode(e->m.sha256, sizeof(e->m.sha256), e->m.sha256_hex);
		e->m.measured_ns = now_boot_ns();
		e->m.hash_duration_ns = job->duration_ns;
		ms->stats.hashed++;
		ms->stats.bytes += job->bytes;
		ms->stats.hash_ns += job->duration_ns;
		log_debug("measured %s (%" PRIu64 " bytes, %" PRIu64 " us): sha256 %s", job->src, job->bytes,
			  job->duration_ns / 1000, e->m.sha256_hex);
	} else if ((job->next_source || job->err == -ENOENT) && try_next_source(ms, e, job)) {
		ms->stats.retries++;
		measurement_unref(&e->m); /* the finished job's reference */
		return;
	} else {
		/* Out of sources after the process vanished: say so. */
		entry_fail(e, job->next_source ? -ESRCH : job->err);
		ms->stats.failed++;
		log_debug_errno(e->m.error, "cannot measure %s (ino %" PRIu64 ")", job->src, e->m.key.ino);
	}
	fire_waiters(e);
	measurement_unref(&e->m);
}

static void on_results(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct kwid_measurer *ms = userdata;
	struct measure_job *list, *rev = NULL;
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&ms->lock);
	list = ms->done;
	ms->done = NULL;
	pthread_mutex_unlock(&ms->lock);
	if (!list)
		return;
	while (list) { /* oldest first */
		struct measure_job *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev) {
		struct measure_job *next = rev->next;
		job_finish(ms, rev);
		free(rev);
		rev = next;
	}
	if (ms->done_fn)
		ms->done_fn(ms->done_ud);
}

static struct meas_entry *entry_new(struct kwid_measurer *ms, const struct kwid_file_key *key)
{
	struct meas_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->ms = ms;
	e->m.refs = 2; /* the cache's and the caller's */
	e->m.key = *key;
	e->m.state = KWID_MEASURE_PENDING;
	cache_insert(ms, e);
	return e;
}

/* A failure worth retrying when the same file version shows up again
 * (another process may let us read it); -EFBIG and -ESTALE are final. */
static bool retryable(const struct kwid_measurement *m)
{
	return m->state == KWID_MEASURE_FAILED && m->error != -EFBIG && m->error != -ESTALE;
}

struct kwid_measurement *measurer_get(struct kwid_measurer *ms, const struct kwid_file_key *key, pid_t pid,
				      const char *path)
{
	struct meas_entry *e = cache_find(ms, key);

	if (e) {
		ms->stats.hits++;
		measurement_ref(&e->m);
		if (!e->path && path)
			e->path = strdup(path);
		if (retryable(&e->m))
			entry_start(ms, e, pid);
		return &e->m;
	}
	ms->stats.misses++;
	e = entry_new(ms, key);
	if (!e)
		return NULL;
	e->path = path ? strdup(path) : NULL;
	entry_start(ms, e, pid);
	return &e->m;
}

struct kwid_measurement *measurer_get_path(struct kwid_measurer *ms, const char *open_path, const char *path)
{
	struct kwid_file_key key;
	struct meas_entry *e;
	struct stat st;

	if (stat(open_path, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	file_key_from_stat(&st, &key);
	e = cache_find(ms, &key);
	if (e) {
		ms->stats.hits++;
		measurement_ref(&e->m);
		if (retryable(&e->m)) {
			e->by_path = true;
			free(e->open_path);
			e->open_path = strdup(open_path);
			entry_start(ms, e, 0);
		}
		return &e->m;
	}
	ms->stats.misses++;
	e = entry_new(ms, &key);
	if (!e)
		return NULL;
	e->by_path = true;
	e->open_path = strdup(open_path);
	e->path = path ? strdup(path) : NULL;
	if (!e->open_path)
		entry_fail(e, -ENOMEM);
	else
		entry_start(ms, e, 0);
	return &e->m;
}

struct kwid_measurement *measurer_get_failed(struct kwid_measurer *ms, int error)
{
	struct meas_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->ms = ms;
	e->m.refs = 1;
	entry_fail(e, error);
	return &e->m;
}

/* ---- waiters ---- */

static void waiter_deferred(void *userdata)
{
	struct kwid_measure_waiter *w = userdata;

	if (!w->cancelled)
		w->fn(w->userdata, &w->e->m);
	measurement_unref(&w->e->m);
	free(w);
}

int measurer_wait(struct kwid_measurer *ms, struct kwid_measurement *m, measure_done_fn fn, void *userdata,
		  struct kwid_measure_waiter **out)
{
	struct kwid_measure_waiter *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->e = entry_of(m);
	w->fn = fn;
	w->userdata = userdata;
	measurement_ref(m);
	if (m->state != KWID_MEASURE_PENDING) {
		w->deferred = true;
		r = loop_defer(ms->loop, waiter_deferred, w);
		if (r < 0) {
			measurement_unref(m);
			free(w);
			return r;
		}
	} else {
		w->next = w->e->waiters;
		w->e->waiters = w;
	}
	if (out)
		*out = w;
	return 0;
}

void measurer_cancel(struct kwid_measure_waiter *w)
{
	struct kwid_measure_waiter **pp;

	if (!w)
		return;
	if (w->deferred) {
		w->cancelled = true; /* freed when the deferred call runs */
		return;
	}
	for (pp = &w->e->waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	measurement_unref(&w->e->m);
	free(w);
}

/* ---- checks at inspection / attestation time ---- */

int measurer_check_unchanged(const struct kwid_proc *p)
{
	char path[64];
	struct kwid_file_key now;
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)p->id.tgid);
	if (stat(path, &st) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	file_key_from_stat(&st, &now);
	return file_key_equal(&now, &p->image->file) ? 0 : -ESTALE;
}

int measurer_check_path(const struct kwid_image *img)
{
	struct kwid_file_key now;
	struct stat st;

	if (!img->path)
		return -ENODATA;
	if (stat(img->path, &st) < 0)
		return -errno;
	file_key_from_stat(&st, &now);
	return same_inode(&now, &img->file) ? 0 : -ESTALE;
}

/* ---- life cycle ---- */

static void start_workers(void *userdata)
{
	struct kwid_measurer *ms = userdata;

	for (unsigned i = 0; i < ms->cfg.workers; i++) {
		int r = -pthread_create(&ms->threads[i], NULL, worker_main, ms);
		if (r < 0) {
			log_error_errno(r, "measurer: cannot start hash worker %u of %u", i + 1,
					ms->cfg.workers);
			break;
		}
		ms->nthreads++;
	}
}

int measurer_new(struct kwid_loop *loop, const struct kwid_measurer_config *cfg, struct kwid_measurer **out)
{
	struct kwid_measurer *ms = calloc(1, sizeof(*ms));
	int r;

	if (!ms)
		return -ENOMEM;
	ms->loop = loop;
	ms->cfg = *cfg;
	if (ms->cfg.workers < 1)
		ms->cfg.workers = 1;
	ms->efd = -1;
	pthread_mutex_init(&ms->lock, NULL);
	pthread_cond_init(&ms->cond, NULL);
	siphash_key_random(&ms->hkey);
	ms->sha256 = EVP_sha256();
	ms->nbuckets = 256;
	ms->buckets = calloc(ms->nbuckets, sizeof(*ms->buckets));
	ms->threads = calloc(ms->cfg.workers, sizeof(pthread_t));
	if (!ms->buckets || !ms->threads) {
		r = -ENOMEM;
		goto fail;
	}
	ms->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ms->efd < 0) {
		r = -errno;
		goto fail;
	}
	r = loop_io_add(loop, ms->efd, EPOLLIN, on_results, ms, &ms->efd_io);
	if (r < 0)
		goto fail;
	/* Jobs queue up until the workers start in the loop's first
	 * iteration, after the agent dropped its privileges: capabilities and
	 * seccomp filters are per thread. */
	r = loop_defer(loop, start_workers, ms);
	if (r < 0)
		goto fail;
	*out = ms;
	return 0;
fail:
	measurer_free(ms);
	return log_error_errno(r, "cannot start the measurer");
}

void measurer_on_done(struct kwid_measurer *ms, measurer_done_fn fn, void *userdata)
{
	ms->done_fn = fn;
	ms->done_ud = userdata;
}

void measurer_set_finder(struct kwid_measurer *ms, measurer_find_pid_fn fn, void *userdata)
{
	ms->find_fn = fn;
	ms->find_ud = userdata;
}

int measurer_drain(struct kwid_measurer *ms, int timeout_ms)
{
	uint64_t deadline = now_mono_ns() + (uint64_t)timeout_ms * 1000000ull;

	while (ms->pending > 0) {
		if (now_mono_ns() > deadline)
			return -ETIMEDOUT;
		loop_run_once(ms->loop, 20);
	}
	return 0;
}

void measurer_status(struct kwid_measurer *ms, json_object *out)
{
	json_object_object_add(out, "cache_entries", json_object_new_int64((int64_t)ms->count));
	json_object_object_add(out, "cache_unreferenced", json_object_new_int64((int64_t)ms->lru_count));
	json_object_object_add(out, "cache_limit", json_object_new_int64((int64_t)ms->cfg.cache_entries));
	json_object_object_add(out, "cache_hits", json_object_new_int64((int64_t)ms->stats.hits));
	json_object_object_add(out, "cache_misses", json_object_new_int64((int64_t)ms->stats.misses));
	json_object_object_add(out, "hashed", json_object_new_int64((int64_t)ms->stats.hashed));
	json_object_object_add(out, "failed", json_object_new_int64((int64_t)ms->stats.failed));
	json_object_object_add(out, "source_retries", json_object_new_int64((int64_t)ms->stats.retries));
	json_object_object_add(out, "evicted", json_object_new_int64((int64_t)ms->stats.evicted));
	json_object_object_add(out, "pending", json_object_new_int64((int64_t)ms->pending));
	json_object_object_add(out, "bytes_hashed", json_object_new_int64((int64_t)ms->stats.bytes));
	json_object_object_add(out, "hash_ms_total", json_object_new_int64((int64_t)(ms->stats.hash_ns / 1000000)));
	json_object_object_add(out, "workers", json_object_new_int64((int64_t)ms->nthreads));
	json_object_object_add(out, "max_bytes", json_object_new_int64((int64_t)ms->cfg.max_bytes));
}

static void free_job_list(struct measure_job *j)
{
	while (j) {
		struct measure_job *next = j->next;
		measurement_unref(&j->e->m);
		free(j);
		j = next;
	}
}

void measurer_free(struct kwid_measurer *ms)
{
	if (!ms)
		return;
	loop_defer_cancel(ms->loop, start_workers, ms);
	pthread_mutex_lock(&ms->lock);
	ms->stopping = true;
	pthread_cond_broadcast(&ms->cond);
	pthread_mutex_unlock(&ms->lock);
	for (unsigned i = 0; i < ms->nthreads; i++)
		pthread_join(ms->threads[i], NULL);
	free_job_list(ms->queue_head);
	free_job_list(ms->done);
	loop_io_free(ms->efd_io);
	if (ms->efd >= 0)
		close(ms->efd);
	/* Drop the cache's references; measurements still held elsewhere
	 * live on, detached, until their last unref. */
	for (size_t i = 0; ms->buckets && i < ms->nbuckets; i++) {
		struct meas_entry *e = ms->buckets[i];
		while (e) {
			struct meas_entry *next = e->hnext;
			struct kwid_measure_waiter *w = e->waiters;
			e->in_cache = e->in_lru = false;
			e->ms = NULL;
			e->waiters = NULL;
			while (w) { /* nobody will complete them now */
				struct kwid_measure_waiter *wn = w->next;
				e->m.refs--;
				free(w);
				w = wn;
			}
			if (--e->m.refs == 0)
				entry_free(e);
			e = next;
		}
	}
	free(ms->buckets);
	free(ms->threads);
	pthread_mutex_destroy(&ms->lock);
	pthread_cond_destroy(&ms->cond);
	free(ms);
}
