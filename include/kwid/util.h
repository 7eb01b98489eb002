/* util.h - small helpers shared by every part of kwid: cleanup attributes,
 * bounded string handling, clocks and atomic file writes.
 *
 * Conventions (systemd style): functions return 0 (or a count) on success
 * and -errno on failure; callers propagate. Variables declared with the
 * _cleanup_*_ attributes are released on every exit path. */
#ifndef KWID_UTIL_H
#define KWID_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _must_check_ __attribute__((warn_unused_result))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership out of a _cleanup_ variable: returns the value and clears
 * the variable so the cleanup does nothing. */
#define TAKE_PTR(p)                         \
	({                                  \
		__typeof__(p) _tmp_ = (p);  \
		(p) = NULL;                 \
		_tmp_;                      \
	})
#define TAKE_FD(fd)                     \
	({                              \
		int _tmp_ = (fd);       \
		(fd) = -1;              \
		_tmp_;                  \
	})

/* Define a cleanup function "name##p" for a type freed by "func(T *)". */
#define DEFINE_CLEANUP_FUNC(type, func)                 \
	static inline void func##p(type **p)            \
	{                                               \
		if (*p)                                 \
			func(*p);                       \
	}

/* Allocation that aborts on failure would hide memory pressure from the
 * caller; kwid returns -ENOMEM instead. These helpers only add overflow
 * checks. */
static inline void *calloc_array(size_t n, size_t size)
{
	return calloc(n ? n : 1, size ? size : 1);
}
void *reallocarray_safe(void *p, size_t n, size_t size);

/* Copy at most dstlen-1 bytes and always terminate. Returns -ENAMETOOLONG
 * if src did not fit (dst then holds a truncated copy). */
int strscpy(char *dst, const char *src, size_t dstlen);

/* Returns true when s is non-NULL and starts with prefix. */
static inline bool startswith(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}
bool endswith(const char *s, const char *suffix);
static inline bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}
static inline bool streq_ptr(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Error messages for callers (char **errmsg out-parameters): replace *msg
 * (when msg != NULL) with the formatted text and return r, so a failure
 * path reads: return errmsg_set(errmsg, -EINVAL, "...", ...). */
int errmsg_set(char **msg, int r, const char *fmt, ...) _printf_(3, 4);
/* Append "; <formatted text>" to *msg, or start it. */
void errmsg_append(char **msg, const char *fmt, ...) _printf_(2, 3);

/* true when every byte of s[0..len) is a lowercase hex digit. */
bool is_lower_hex(const char *s, size_t len);
/* Lowercase hex of bin[0..len) into out (2*len+1 bytes). */
void hex_encode(const uint8_t *bin, size_t len, char *out);
/* Value of one hex digit (either case), or -1. */
int hex_digit_value(char c);
/* Decode hex (either case) into out; returns bytes written or -EINVAL. */
ssize_t hex_decode(const char *hex, uint8_t *out, size_t outlen);

/* Parse a decimal number into the given range. -EINVAL on junk, -ERANGE
 * outside [min,max]. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int parse_pid(const char *s, pid_t *out);

/* Clocks. boot_ns is CLOCK_BOOTTIME, the clock BPF's start_boottime and
 * bpf_ktime_get_boot_ns() use. */
uint64_t now_boot_ns(void);
uint64_t now_mono_ns(void);
uint64_t now_real_ns(void);

/* Read a whole small file (at most max bytes; -EFBIG if larger) into a
 * NUL-terminated malloc'd buffer. dirfd may be AT_FDCWD. */
int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *outlen);
static inline int read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	return read_file_at(-100 /* AT_FDCWD */, path, max, out, outlen);
}

/* Write data to dir/name atomically: a temporary file in the same
 * directory, fsync, rename over name, fsync of the directory. The file gets
 * exactly `mode` (umask ignored). */
int write_file_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode);

/* mkdir -p with the given mode for directories it creates. An existing
 * directory is left as it is. */
int mkdir_p(const char *path, mode_t mode);
/* mkdir_p of the directory that holds `path` (nothing for "/x" or "x"). */
int mkdir_parents(const char *path, mode_t mode);

/* Full read/write loops that retry on EINTR and short transfers. */
ssize_t read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);

/* Convert a kernel-internal dev_t (major << 20 | minor, as BPF sees
 * s_dev) into the userspace encoding stat() returns. */
dev_t kernel_dev_to_user(uint32_t kdev);

#endif
