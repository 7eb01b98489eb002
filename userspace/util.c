/* util.c - implementations of the helpers declared in kwid/util.h. */
#include "kwid/util.h"

#include <stdarg.h>

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

void *reallocarray_safe(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, (n && size) ? n * size : 1);
}

int strscpy(char *dst, const char *src, size_t dstlen)
{
	size_t n;

	if (dstlen == 0)
		return -ENAMETOOLONG;
	n = strnlen(src, dstlen);
	if (n == dstlen) {
		memcpy(dst, src, dstlen - 1);
		dst[dstlen - 1] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int errmsg_set(char **msg, int r, const char *fmt, ...)
{
	va_list ap;
	char *n;

	if (!msg)
		return r;
	va_start(ap, fmt);
	if (vasprintf(&n, fmt, ap) < 0)
		n = NULL;
	va_end(ap);
	free(*msg);
	*msg = n;
	return r;
}

void errmsg_append(char **msg, const char *fmt, ...)
{
	_cleanup_free_ char *text = NULL;
	va_list ap;
	char *n;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (r < 0 || asprintf(&n, "%s%s%s", *msg ? *msg : "", *msg ? "; " : "", text) < 0)
		return;
	free(*msg);
	*msg = n;
}

bool endswith(const char *s, const char *suffix)
{
	size_t ls, lx;

	if (!s || !suffix)
		return false;
	ls = strlen(s);
	lx = strlen(suffix);
	return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

bool is_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

void hex_encode(const uint8_t *bin, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 0xf];
	}
	out[2 * len] = '\0';
}

int hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

ssize_t hex_decode(const char *hex, uint8_t *out, size_t outlen)
{
	size_t len = strlen(hex);

	if (len % 2 || len / 2 > outlen)
		return -EINVAL;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_digit_value(hex[2 * i]), lo = hex_digit_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (ssize_t)(len / 2);
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0' || end == s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_pid(const char *s, pid_t *out)
{
	uint64_t v;
	int r = parse_u64(s, 1, INT_MAX, &v);

	if (r < 0)
		return r;
	*out = (pid_t)v;
	return 0;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t now_boot_ns(void) { return clock_ns(CLOCK_BOOTTIME); }
uint64_t now_mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
uint64_t now_real_ns(void) { return clock_ns(CLOCK_REALTIME); }

int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *outlen)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	/* Read up to max+1 bytes: the extra byte tells a file of exactly max
	 * bytes from a longer one. */
	size_t len = 0, cap = MIN((size_t)4096, max + 1);

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;
			if (cap > max)
				return -EFBIG;
			cap = MIN(cap * 2, max + 1);
			nb = realloc(buf, cap + 1);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max)
		return -EFBIG;
	buf[len] = '\0';
	if (outlen)
		*outlen = len;
	*out = TAKE_PTR(buf);
	return 0;
}

ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

int write_file_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
	_cleanup_close_ int dfd = -1, fd = -1;
	char tmp[NAME_MAX + 1];
	int r;

	if (snprintf(tmp, sizeof(tmp), ".%s.tmp.%d", name, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0) {
		r = -errno;
		goto fail;
	}
	r = write_full(fd, data, len);
	if (r < 0)
		goto fail;
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (renameat(dfd, tmp, dfd, name) < 0) {
		r = -errno;
		goto fail;
	}
	if (fsync(dfd) < 0)
		return -errno;
	return 0;
fail:
	unlinkat(dfd, tmp, 0);
	return r;
}

int mkdir_parents(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	char *slash;
	int r = strscpy(buf, path, sizeof(buf));

	if (r < 0)
		return r;
	slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return 0;
	*slash = '\0';
	return mkdir_p(buf, mode);
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len;
	int r = strscpy(buf, path, sizeof(buf));

	if (r < 0)
		return r;
	len = strlen(buf);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) == 0) {
			/* mkdir() applies the umask; the caller asked for `mode`. */
			if (chmod(buf, mode) < 0)
				return -errno;
		} else if (errno != EEXIST) {
			return -errno;
		}
		if (i < len)
			buf[i] = '/';
	}
	return 0;
}

dev_t kernel_dev_to_user(uint32_t kdev)
{
	return makedev(kdev >> 20, kdev & 0xfffff);
}
