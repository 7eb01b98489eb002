/* attestor_util.c - selector escaping and trusted bounded file reads for
 * the attestors (see kwid/attestor_util.h). */
#include "kwid/attestor_util.h"

#include "kwid/cgroup_path.h"

#include <fcntl.h>
#include <stdarg.h>

ssize_t selector_escape(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		bool enc = *p <= 0x20 || *p == 0x7f || *p == '%';
		size_t need = enc ? 3 : 1;

		if (o + need >= outlen)
			return -ENAMETOOLONG;
		if (enc) {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
	}
	if (o >= outlen)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return (ssize_t)o;
}

int sel_add(struct kwid_selector_set *out, const char *type, const char *key, const char *value)
{
	char k[KWID_SELECTOR_MAX + 1], v[KWID_SELECTOR_MAX + 1];
	ssize_t r;

	if (!value || !*value)
		return -EINVAL;
	r = selector_escape(value, v, sizeof(v));
	if (r < 0)
		return r;
	if (!key)
		return selset_addf(out, "%s:%s", type, v);
	r = selector_escape(key, k, sizeof(k));
	if (r < 0)
		return r;
	if (strlen(type) + strlen(k) + strlen(v) + 2 > KWID_SELECTOR_MAX)
		return -ENAMETOOLONG;
	return selset_addf(out, "%s:%s:%s", type, k, v);
}

int sel_add_label(struct kwid_selector_set *out, const char *type, const char *key, const char *value)
{
	char k[KWID_SELECTOR_MAX + 1];

	if (*value)
		return sel_add(out, type, key, value);
	if (selector_escape(key, k, sizeof(k)) < 0 || strlen(type) + strlen(k) + 2 > KWID_SELECTOR_MAX)
		return -ENAMETOOLONG;
	return selset_addf(out, "%s:%s:", type, k);
}

int read_trusted_file_at(int dirfd, const char *path, size_t max, bool root_only, char **out, size_t *outlen,
			 struct stat *st)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat s;
	size_t len = 0;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (fstat(fd, &s) < 0)
		return -errno;
	if (!S_ISREG(s.st_mode))
		return -EPERM;
	if (root_only && (s.st_uid != 0 || (s.st_mode & 022)))
		return -EPERM;
	if ((uint64_t)s.st_size > max)
		return -EFBIG;
	buf = malloc((size_t)s.st_size + 1);
	if (!buf)
		return -ENOMEM;
	/* Read exactly what fstat announced, plus one byte to notice growth. */
	for (;;) {
		ssize_t n = read(fd, buf + len, (size_t)s.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)s.st_size)
			return -EAGAIN; /* the file grew while we read it */
	}
	buf[len] = '\0';
	if (st)
		*st = s;
	if (outlen)
		*outlen = len;
	*out = TAKE_PTR(buf);
	return 0;
}

bool stat_same_version(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

void attest_note(const struct kwid_attest_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (!ctx->note || !ctx->note_size)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx->note, ctx->note_size, fmt, ap);
	va_end(ap);
}

void attest_note_append(const struct kwid_attest_ctx *ctx, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!ctx->note || !ctx->note_size)
		return;
	used = strnlen(ctx->note, ctx->note_size - 1);
	if (used > 0 && used + 2 < ctx->note_size) {
		memcpy(ctx->note + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(ctx->note + used, ctx->note_size - used, fmt, ap);
	va_end(ap);
}

void attest_incomplete(const struct kwid_attest_ctx *ctx)
{
	if (ctx->incomplete)
		*ctx->incomplete = true;
}

int attest_cgroup_facts(const struct kwid_attest_ctx *ctx, bool need_container,
			const struct kwid_cgroup_path_info **out)
{
	*out = NULL;
	if (!ctx->cgroup) {
		attest_note(ctx, "cgroup membership refused: %s", ctx->cgroup_why ? ctx->cgroup_why : "not read");
		return ctx->cgroup_error ? ctx->cgroup_error : -ENODATA;
	}
	if (need_container && ctx->cgroup->info.container_error) {
		attest_note(ctx, "container refused: %s (cgroup %s)", ctx->cgroup->info.container_why,
			    ctx->cgroup->path);
		return ctx->cgroup->info.container_error;
	}
	*out = &ctx->cgroup->info;
	return 0;
}
