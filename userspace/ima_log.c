/* ima_log.c - parser of the kernel's binary IMA measurement log (see
 * kwid/ima.h for the layout). The bytes are untrusted: every length is
 * checked against what remains before it is used, every field of a known
 * template must tile its template data exactly, and the first
 * inconsistency ends the parse with a message naming the entry, its
 * offset and the rule broken. */
#include "kwid/ima.h"

#include <stdarg.h>

struct cursor {
	const uint8_t *p;
	size_t len, off;
	bool big_endian;
};

static bool take_u32(struct cursor *c, uint32_t *out)
{
	const uint8_t *b;

	if (c->len - c->off < 4)
		return false;
	b = c->p + c->off;
	if (c->big_endian)
		*out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	else
		*out = (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
	c->off += 4;
	return true;
}

static bool take_bytes(struct cursor *c, size_t n, const uint8_t **out)
{
	if (c->len - c->off < n)
		return false;
	*out = c->p + c->off;
	c->off += n;
	return true;
}

static int fail(char *err, size_t errlen, size_t index, size_t offset, const char *fmt, ...)
	_printf_(5, 6);
static int fail(char *err, size_t errlen, size_t index, size_t offset, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err && errlen) {
		n = snprintf(err, errlen, "entry %zu at offset %zu: ", index, offset);
		if (n >= 0 && (size_t)n < errlen) {
			va_start(ap, fmt);
			vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return -EINVAL;
}

static const struct {
	const char *name;
	enum ima_template_kind kind;
	bool is_buf;
} known_templates[] = {
	{"ima", IMA_TEMPLATE_IMA, false},	  {"ima-ng", IMA_TEMPLATE_NG, false},
	{"ima-sig", IMA_TEMPLATE_NG, false},	  {"ima-buf", IMA_TEMPLATE_NG, true},
	{"ima-modsig", IMA_TEMPLATE_NG, false},	  {"evm-sig", IMA_TEMPLATE_NG, false},
	{"ima-ngv2", IMA_TEMPLATE_NGV2, false},	  {"ima-sigv2", IMA_TEMPLATE_NGV2, false},
};

static void classify(struct ima_entry *e)
{
	e->kind = IMA_TEMPLATE_UNKNOWN;
	for (size_t i = 0; i < ARRAY_SIZE(known_templates); i++) {
		const char *n = known_templates[i].name;
		if (strlen(n) == e->template_name_len && memcmp(n, e->template_name, e->template_name_len) == 0) {
			e->kind = known_templates[i].kind;
			e->is_buf = known_templates[i].is_buf;
			return;
		}
	}
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Copy "name:" from p[0..n) into out (without the colon); returns the
 * bytes consumed including the colon, 0 when there is no short
 * lowercase-alphanumeric name before a colon. */
static size_t take_prefix(const uint8_t *p, size_t n, char *out, size_t outlen)
{
	for (size_t i = 0; i < n && i + 1 < outlen; i++) {
		if (p[i] == ':') {
			if (i == 0)
				return 0;
			memcpy(out, p, i);
			out[i] = '\0';
			return i + 1;
		}
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '_'))
			return 0;
	}
	return 0;
}

/* d-ng: "algo:" NUL digest; d-ngv2: "type:algo:" NUL digest. */
static int parse_digest_field(struct ima_entry *e, const uint8_t *f, uint32_t flen, bool v2, char *err,
			      size_t errlen, size_t index)
{
	size_t off = 0, n;
	enum kwid_digest_alg alg;

	if (v2) {
		n = take_prefix(f, flen, e->digest_type, sizeof(e->digest_type));
		if (!n || !(streq(e->digest_type, "ima") || streq(e->digest_type, "verity")))
			return fail(err, errlen, index, e->offset, "d-ngv2 field has no 'ima:' or 'verity:' prefix");
		off = n;
	}
	n = take_prefix(f + off, flen - off, e->file_algo, sizeof(e->file_algo));
	if (!n || off + n >= flen || f[off + n] != '\0')
		return fail(err, errlen, index, e->offset, "digest field has no 'algorithm:' NUL prefix");
	off += n + 1;
	e->file_digest = f + off;
	e->file_digest_len = flen - (uint32_t)off;
	e->file_alg = -1;
	if (digest_alg_from_name(e->file_algo, &alg) == 0) {
		if (e->file_digest_len != digest_info(alg)->size)
			return fail(err, errlen, index, e->offset, "%s digest of %u bytes, expected %zu",
				    e->file_algo, e->file_digest_len, digest_info(alg)->size);
		e->file_alg = (int)alg;
	} else if (e->file_digest_len == 0 || e->file_digest_len > KWID_DIGEST_MAX) {
		return fail(err, errlen, index, e->offset, "%s digest of %u bytes", e->file_algo,
			    e->file_digest_len);
	}
	return 0;
}

/* The template data of every template but "ima": (u32 len, bytes) fields
 * that tile it exactly. For known templates, interpret the first two. */
static int parse_fields(struct ima_entry *e, bool big_endian, char *err, size_t errlen, size_t index)
{
	struct cursor c = {.p = e->template_data, .len = e->template_data_len, .big_endian = big_endian};
	unsigned nfield = 0;
	int r;

	while (c.off < c.len) {
		const uint8_t *f;
		uint32_t flen;

		if (!take_u32(&c, &flen) || !take_bytes(&c, flen, &f))
			return fail(err, errlen, index, e->offset, "template field %u overruns the template data",
				    nfield);
		if (e->kind != IMA_TEMPLATE_UNKNOWN && nfield == 0) {
			r = parse_digest_field(e, f, flen, e->kind == IMA_TEMPLATE_NGV2, err, errlen, index);
			if (r < 0)
				return r;
		} else if (e->kind != IMA_TEMPLATE_UNKNOWN && nfield == 1) {
			if (flen == 0 || flen > IMA_NAME_MAX || f[flen - 1] != '\0' || memchr(f, '\0', flen - 1))
				return fail(err, errlen, index, e->offset,
					    "n-ng field is not a NUL-terminated name of 1..%d bytes", IMA_NAME_MAX);
			e->path = (const char *)f;
			e->path_len = flen - 1;
		}
		nfield++;
	}
	if (e->kind != IMA_TEMPLATE_UNKNOWN && nfield < 2)
		return fail(err, errlen, index, e->offset, "template %.*s needs a digest and a name field",
			    (int)e->template_name_len, e->template_name);
	return 0;
}

/* "ima": 20-byte digest, then (u32 len, name without NUL); no data length. */
static int parse_old_ima(struct cursor *c, struct ima_entry *e, char *err, size_t errlen, size_t index)
{
	size_t start = c->off;
	const uint8_t *d, *name;
	uint32_t nlen;

	if (!take_bytes(c, 20, &d) || !take_u32(c, &nlen))
		return fail(err, errlen, index, e->offset, "truncated 'ima' template data");
	if (nlen > IMA_OLD_NAME_MAX)
		return fail(err, errlen, index, e->offset, "'ima' template name of %u bytes exceeds %d", nlen,
			    IMA_OLD_NAME_MAX);
	if (!take_bytes(c, nlen, &name))
		return fail(err, errlen, index, e->offset, "truncated 'ima' template name");
	if (memchr(name, '\0', nlen))
		return fail(err, errlen, index, e->offset, "'ima' template name holds a NUL byte");
	e->template_data = c->p + start;
	e->template_data_len = (uint32_t)(c->off - start);
	strcpy(e->file_algo, "sha1");
	e->file_alg = KWID_DIGEST_SHA1;
	e->file_digest = d;
	e->file_digest_len = 20;
	e->path_len = nlen; /* path itself is set once the names are copied */
	return 0;
}

static int parse_entry(struct cursor *c, const struct ima_log *log, struct ima_entry *e, char *err,
		       size_t errlen, size_t index)
{
	size_t dsize = digest_info(log->bank)->size;
	const uint8_t *name;

	memset(e, 0, sizeof(*e));
	e->offset = c->off;
	e->file_alg = -1;
	if (!take_u32(c, &e->pcr))
		return fail(err, errlen, index, e->offset, "truncated record header");
	if (e->pcr >= IMA_PCR_LIMIT)
		return fail(err, errlen, index, e->offset, "PCR index %u is not below %d", e->pcr, IMA_PCR_LIMIT);
	if (!take_bytes(c, dsize, &e->template_digest))
		return fail(err, errlen, index, e->offset, "truncated %s template digest",
			    digest_info(log->bank)->name);
	e->violation = all_zero(e->template_digest, dsize);
	if (!take_u32(c, &e->template_name_len))
		return fail(err, errlen, index, e->offset, "truncated template name length");
	if (e->template_name_len > IMA_TEMPLATE_NAME_MAX)
		return fail(err, errlen, index, e->offset, "template name length %u exceeds %d",
			    e->template_name_len, IMA_TEMPLATE_NAME_MAX);
	if (!take_bytes(c, e->template_name_len, &name))
		return fail(err, errlen, index, e->offset, "truncated template name");
	e->template_name = (const char *)name;
	classify(e);
	if (e->kind == IMA_TEMPLATE_IMA)
		return parse_old_ima(c, e, err, errlen, index);
	if (!take_u32(c, &e->template_data_len))
		return fail(err, errlen, index, e->offset, "truncated template data length");
	if (e->template_data_len > IMA_TEMPLATE_DATA_MAX)
		return fail(err, errlen, index, e->offset, "template data length %u exceeds %u",
			    e->template_data_len, IMA_TEMPLATE_DATA_MAX);
	if (!take_bytes(c, e->template_data_len, &e->template_data))
		return fail(err, errlen, index, e->offset, "template data length %u overruns the log",
			    e->template_data_len);
	return parse_fields(e, c->big_endian, err, errlen, index);
}

/* Give the names of "ima" template entries a NUL terminator. */
static int copy_old_names(struct ima_log *log)
{
	size_t total = 0, off = 0;

	for (size_t i = 0; i < log->n; i++)
		if (log->entries[i].kind == IMA_TEMPLATE_IMA)
			total += log->entries[i].path_len + 1;
	if (!total)
		return 0;
	log->names = malloc(total);
	if (!log->names)
		return -ENOMEM;
	for (size_t i = 0; i < log->n; i++) {
		struct ima_entry *e = &log->entries[i];
		if (e->kind != IMA_TEMPLATE_IMA)
			continue;
		memcpy(log->names + off, e->template_data + 24, e->path_len);
		log->names[off + e->path_len] = '\0';
		e->path = log->names + off;
		off += e->path_len + 1;
	}
	return 0;
}

void ima_log_free(struct ima_log *log)
{
	if (!log)
		return;
	free(log->buf);
	free(log->entries);
	free(log->names);
	free(log);
}

int ima_log_parse(const uint8_t *data, size_t len, enum kwid_digest_alg bank, unsigned flags,
		  struct ima_log **out, char *err, size_t errlen)
{
	_cleanup_(ima_log_freep) struct ima_log *log = NULL;
	struct cursor c = {.len = len, .big_endian = flags & IMA_LOG_BIG_ENDIAN};
	size_t cap = 0;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!digest_info(bank))
		return -EINVAL;
	if (len > IMA_LOG_MAX_BYTES) {
		if (err)
			snprintf(err, errlen, "log of %zu bytes exceeds the %u-byte limit", len, IMA_LOG_MAX_BYTES);
		return -EFBIG;
	}
	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	log->bank = bank;
	log->len = len;
	log->buf = malloc(len ? len : 1);
	if (!log->buf)
		return -ENOMEM;
	if (len)
		memcpy(log->buf, data, len);
	c.p = log->buf;
	while (c.off < c.len) {
		if (log->n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct ima_entry *n = reallocarray_safe(log->entries, ncap, sizeof(*n));
			if (!n)
				return -ENOMEM;
			log->entries = n;
			cap = ncap;
		}
		r = parse_entry(&c, log, &log->entries[log->n], err, errlen, log->n);
		if (r < 0)
			return r;
		log->n++;
	}
	r = copy_old_names(log);
	if (r < 0)
		return r;
	*out = TAKE_PTR(log);
	return 0;
}

int ima_log_bank_from_path(const char *path, enum kwid_digest_alg *out)
{
	const char *base = strrchr(path, '/'), *us;

	base = base ? base + 1 : path;
	if (!startswith(base, "binary_runtime_measurements")) {
		*out = KWID_DIGEST_SHA1; /* a copy under another name: the legacy layout */
		return 0;
	}
	base += strlen("binary_runtime_measurements");
	if (!*base) {
		*out = KWID_DIGEST_SHA1;
		return 0;
	}
	us = base;
	if (*us != '_')
		return -EINVAL;
	return digest_alg_from_name(us + 1, out);
}

static void escape_bytes(const char *p, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < outlen; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
	}
	out[o] = '\0';
}

void ima_path_escape(const struct ima_entry *e, char *out, size_t outlen)
{
	char name[64];

	if (!outlen)
		return;
	if (e->path) {
		escape_bytes(e->path, e->path_len, out, outlen);
		return;
	}
	escape_bytes(e->template_name, e->template_name_len, name, sizeof(name));
	snprintf(out, outlen, "(%s entry)", name);
}
