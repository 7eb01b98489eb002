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

#endif
