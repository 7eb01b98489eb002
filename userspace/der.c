/* der.c - a tiny DER writer (see kwid/der.h): constructed elements are
 * written with a one-byte length placeholder that der_end() widens when the
 * content turns out longer than 127 bytes. */
#include "kwid/der.h"
#include "kwid/util.h"

#include <string.h>
#include <time.h>

void der_init(struct der *d)
{
	*d = (struct der){0};
}

void der_clear(struct der *d)
{
	if (d->buf) {
		explicit_bzero(d->buf, d->cap);
		free(d->buf);
	}
	der_init(d);
}

static int reserve(struct der *d, size_t more)
{
	size_t ncap;
	uint8_t *nb;

	if (d->err)
		return d->err;
	if (more > DER_MAX_LEN || d->len + more > DER_MAX_LEN + 8)
		return d->err = -E2BIG;
	if (d->len + more <= d->cap)
		return 0;
	ncap = d->cap ? d->cap : 512;
	while (ncap < d->len + more)
		ncap *= 2;
	nb = malloc(ncap);
	if (!nb)
		return d->err = -ENOMEM;
	if (d->buf) {
		memcpy(nb, d->buf, d->len);
		explicit_bzero(d->buf, d->cap); /* never leave key bytes behind in freed memory */
		free(d->buf);
	}
	d->buf = nb;
	d->cap = ncap;
	return 0;
}

static void put_len(struct der *d, size_t len)
{
	if (len < 0x80) {
		d->buf[d->len++] = (uint8_t)len;
	} else if (len < 0x100) {
		d->buf[d->len++] = 0x81;
		d->buf[d->len++] = (uint8_t)len;
	} else {
		d->buf[d->len++] = 0x82;
		d->buf[d->len++] = (uint8_t)(len >> 8);
		d->buf[d->len++] = (uint8_t)len;
	}
}

void der_begin(struct der *d, uint8_t tag)
{
	if (d->depth == DER_MAX_DEPTH && !d->err)
		d->err = -EINVAL;
	if (reserve(d, 2) < 0)
		return;
	d->open[d->depth++] = d->len;
	d->buf[d->len++] = tag;
	d->buf[d->len++] = 0; /* placeholder, fixed by der_end() */
}

void der_end(struct der *d)
{
	size_t start, content, clen, extra;

	if (d->err)
		return;
	if (d->depth == 0) {
		d->err = -EINVAL;
		return;
	}
	start = d->open[--d->depth];
	content = start + 2;
	clen = d->len - content;
	if (clen > DER_MAX_LEN) {
		d->err = -E2BIG;
		return;
	}
	if (clen < 0x80) {
		d->buf[start + 1] = (uint8_t)clen;
		return;
	}
	extra = clen < 0x100 ? 1 : 2;
	if (reserve(d, extra) < 0)
		return;
	memmove(d->buf + content + extra, d->buf + content, clen);
	d->len = start + 1;
	put_len(d, clen);
	d->len += clen;
}

void der_put(struct der *d, uint8_t tag, const void *data, size_t len)
{
	if (reserve(d, len + 4) < 0)
		return;
	d->buf[d->len++] = tag;
	put_len(d, len);
	if (len)
		memcpy(d->buf + d->len, data, len);
	d->len += len;
}

void der_put_raw(struct der *d, const void *data, size_t len)
{
	if (reserve(d, len) < 0)
		return;
	memcpy(d->buf + d->len, data, len);
	d->len += len;
}

void der_put_uint(struct der *d, const uint8_t *be, size_t len)
{
	uint8_t zero = 0;

	while (len > 1 && be[0] == 0) {
		be++;
		len--;
	}
	if (len == 0) {
		be = &zero;
		len = 1;
	}
	if (be[0] & 0x80) {
		if (reserve(d, len + 5) < 0)
			return;
		d->buf[d->len++] = DER_INTEGER;
		put_len(d, len + 1);
		d->buf[d->len++] = 0;
		memcpy(d->buf + d->len, be, len);
		d->len += len;
		return;
	}
	der_put(d, DER_INTEGER, be, len);
}

void der_put_bits(struct der *d, const void *data, size_t len)
{
	if (reserve(d, len + 5) < 0)
		return;
	d->buf[d->len++] = DER_BIT_STRING;
	put_len(d, len + 1);
	d->buf[d->len++] = 0; /* no unused bits */
	memcpy(d->buf + d->len, data, len);
	d->len += len;
}

void der_put_time(struct der *d, int64_t unix_s)
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	char s[32];
	int n;

	if (!gmtime_r(&t, &tm)) {
		if (!d->err)
			d->err = -ERANGE;
		return;
	}
	if (tm.tm_year >= 50 && tm.tm_year < 150) {
		n = snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ", tm.tm_year % 100, tm.tm_mon + 1,
			     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		der_put(d, DER_UTCTIME, s, (size_t)n);
	} else if (tm.tm_year >= -1900 + 1 && tm.tm_year <= 9999 - 1900) {
		n = snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
			     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		der_put(d, DER_GENERALIZEDTIME, s, (size_t)n);
	} else if (!d->err) {
		d->err = -ERANGE;
	}
}

int der_finish(struct der *d, uint8_t **out, size_t *outlen)
{
	int r = d->err;

	if (!r && d->depth)
		r = -EINVAL;
	if (!r && d->len == 0)
		r = -EINVAL;
	if (r < 0) {
		der_clear(d);
		return r;
	}
	*out = d->buf;
	*outlen = d->len;
	der_init(d);
	return 0;
}
