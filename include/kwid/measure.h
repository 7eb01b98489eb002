/* measure.h - SHA-256 of executed files, once per file version.
 *
 * The measurer keeps a bounded cache keyed by struct kwid_file_key (dev,
 * ino, mtime, ctime, size). Hashing runs on worker threads and reads the
 * bytes through the running process's own /proc/<pid>/exe, checking that
 * the opened file is the one the kernel recorded at exec; a file that
 * changed between exec and hashing is not hashed as if it were the
 * executed one (state FAILED, error -ESTALE). Results are applied on the
 * event-loop thread; callers never block on a hash. */
#ifndef KWID_MEASURE_H
#define KWID_MEASURE_H

#include <stdint.h>

#include "kwid/proc.h"

struct kwid_loop;
struct kwid_measurer;

enum kwid_measure_state {
	KWID_MEASURE_PENDING,
	KWID_MEASURE_DONE,
	KWID_MEASURE_FAILED,
};

struct kwid_measurement {
	unsigned refs;
	struct kwid_file_key key;
	enum kwid_measure_state state;
	int error;		 /* -errno when FAILED (-ESTALE: changed since exec, -EFBIG: too large) */
	uint8_t sha256[32];
	char sha256_hex[65];	 /* valid when DONE */
	uint64_t measured_ns;	 /* CLOCK_BOOTTIME when hashed */
	uint64_t hash_duration_ns;
};

struct kwid_measure_waiter;
typedef void (*measure_done_fn)(void *userdata, const struct kwid_measurement *m);

/* Call fn (on the loop, never from inside this call) once m is no longer
 * PENDING. *out (may be NULL) allows cancelling. */
int measurer_wait(struct kwid_measurer *ms, struct kwid_measurement *m, measure_done_fn fn,
		  void *userdata, struct kwid_measure_waiter **out);
void measurer_cancel(struct kwid_measure_waiter *w);

/* Has the executed file changed since exec? Compares a fresh fstat of
 * /proc/<pid>/exe with the image's file key (no read of the contents).
 * 0: unchanged; -ESTALE: modified or replaced; other -errno: cannot tell. */
int measurer_check_unchanged(const struct kwid_proc *p);

/* ---- added by the tracker (owner of this header's implementation) ---- */

const char *measure_state_to_string(enum kwid_measure_state s);

/* Does the image's recorded path still name the executed file? 0: yes;
 * -ESTALE: it names another file now (replaced on disk); -ENOENT: gone;
 * other -errno: cannot tell (no path recorded: -ENODATA). */
int measurer_check_path(const struct kwid_image *img);

struct kwid_measurer_config {
	unsigned workers;	/* hashing threads (>= 1) */
	size_t cache_entries;	/* unreferenced measurements kept (LRU) */
	uint64_t max_bytes;	/* larger files fail with -EFBIG */
};

/* Called on the loop after each batch of finished measurements. */
typedef void (*measurer_done_fn)(void *userdata);
/* Find another live process (not `exclude`) running file version `key`,
 * to read its /proc/<pid>/exe when the first one is gone. */
typedef pid_t (*measurer_find_pid_fn)(void *userdata, const struct kwid_file_key *key, pid_t exclude);

int measurer_new(struct kwid_loop *loop, const struct kwid_measurer_config *cfg, struct kwid_measurer **out);
void measurer_free(struct kwid_measurer *ms);
void measurer_on_done(struct kwid_measurer *ms, measurer_done_fn fn, void *userdata);
void measurer_set_finder(struct kwid_measurer *ms, measurer_find_pid_fn fn, void *userdata);

/* The measurement of the executable file version `key`, run by `pid`:
 * a new reference. A known version (hashed or being hashed) is shared;
 * otherwise hashing starts at once on a worker, reading
 * /proc/<pid>/exe, then other processes with the same key, then `path`
 * (may be NULL), always checking the key. NULL only on -ENOMEM. */
struct kwid_measurement *measurer_get(struct kwid_measurer *ms, const struct kwid_file_key *key, pid_t pid,
				      const char *path);
/* A script (or any file named by path): `open_path` is what is opened
 * (e.g. /proc/<pid>/root/<path>), `path` the fallback. The key is taken
 * from stat(open_path) now. NULL when the file cannot be stat'ed. */
struct kwid_measurement *measurer_get_path(struct kwid_measurer *ms, const char *open_path, const char *path);
/* A measurement that is FAILED from the start (unknown executable). */
struct kwid_measurement *measurer_get_failed(struct kwid_measurer *ms, int error);

struct kwid_measurement *measurement_ref(struct kwid_measurement *m);
void measurement_unref(struct kwid_measurement *m);

/* Block (for tests and start-up tools only) until nothing is pending or
 * timeout_ms passes, running the loop. Returns 0 or -ETIMEDOUT. */
int measurer_drain(struct kwid_measurer *ms, int timeout_ms);

void measurer_status(struct kwid_measurer *ms, json_object *out);

#endif
