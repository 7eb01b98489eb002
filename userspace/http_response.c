/* http_response.c - strict parser of one HTTP/1.1 response (see
 * kwid/http_response.h). Nothing is trusted: every length is checked
 * before it is used, sizes are bounded before they are added. */
#include "kwid/http_response.h"
#include "kwid/util.h"

#include <strings.h>

static int bad(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -EBADMSG;
}

/* The CRLF ending the line at p, or NULL when [p, end) holds none. */
static const char *line_end(const char *p, const char *end)
{
	return end - p >= 2 ? memmem(p, (size_t)(end - p), "\r\n", 2) : NULL;
}

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int parse_status_line(const char *p, const char *eol, struct http_response *out, const char **why)
{
	size_t n = 0;

	if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
		return bad(why, "malformed status line");
	out->status = 0;
	for (int i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return bad(why, "malformed status code");
		out->status = out->status * 10 + (p[i] - '0');
	}
	if (out->status < 100 || (eol - p > 12 && p[12] != ' '))
		return bad(why, "malformed status code");
	for (p += 13; p < eol && n + 1 < sizeof(out->reason); p++)
		out->reason[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	out->reason[n] = '\0';
	return 0;
}

struct framing {
	bool have_length, chunked;
	uint64_t length;
};

static int parse_length(const char *v, size_t vlen, struct framing *f, const char **why)
{
	uint64_t n = 0;

	if (vlen == 0 || vlen > 19)
		return bad(why, "malformed Content-Length");
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return bad(why, "malformed Content-Length");
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (f->have_length && f->length != n)
		return bad(why, "conflicting Content-Length fields");
	f->have_length = true;
	f->length = n;
	return 0;
}

/* One "name: value" field line [p, eol). */
static int parse_field(const char *p, const char *eol, struct framing *f, const char **why)
{
	const char *colon = p, *v, *vend = eol;

	while (colon < eol && is_tchar(*colon))
		colon++;
	if (colon == p || colon == eol || *colon != ':')
		return bad(why, "malformed header field");
	for (const char *q = colon + 1; q < eol; q++)
		if ((unsigned char)*q < 0x20 && *q != '\t')
			return bad(why, "control character in a header field");
	v = colon + 1;
	while (v < vend && (*v == ' ' || *v == '\t'))
		v++;
	while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
		vend--;
	if ((size_t)(colon - p) == 14 && strncasecmp(p, "Content-Length", 14) == 0)
		return parse_length(v, (size_t)(vend - v), f, why);
	if ((size_t)(colon - p) == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
		if (f->chunked || vend - v != 7 || strncasecmp(v, "chunked", 7) != 0)
			return bad(why, "unsupported Transfer-Encoding");
		f->chunked = true;
	}
	return 0;
}

/* Status line and fields; *body_start is where the body begins. */
static int parse_head(const char *buf, size_t len, bool at_eof, struct http_response *out, struct framing *f,
		      size_t *body_start, const char **why)
{
	const char *end = buf + MIN(len, (size_t)HTTP_HEAD_MAX), *p = buf, *eol;
	int fields = 0, r;

	eol = line_end(p, end);
	if (!eol)
		goto incomplete;
	r = parse_status_line(p, eol, out, why);
	if (r < 0)
		return r;
	for (p = eol + 2;; p = eol + 2) {
		eol = line_end(p, end);
		if (!eol)
			goto incomplete;
		if (eol == p)
			break;
		if (*p == ' ' || *p == '\t')
			return bad(why, "folded header field");
		if (++fields > HTTP_FIELDS_MAX)
			return bad(why, "too many header fields");
		r = parse_field(p, eol, f, why);
		if (r < 0)
			return r;
	}
	if (f->have_length && f->chunked)
		return bad(why, "both Content-Length and chunked");
	*body_start = (size_t)(eol + 2 - buf);
	return 0;
incomplete:
	if (len >= HTTP_HEAD_MAX)
		return bad(why, "response header too large");
	return at_eof ? bad(why, "connection ended inside the response header") : -EAGAIN;
}

/* A chunk-size line "HEX[;ext]": its value, bounded by max. */
static int chunk_size(const char *p, const char *eol, size_t max, size_t *out, const char **why)
{
	uint64_t n = 0;
	const char *q = p;

	for (; q < eol && hex_digit_value(*q) >= 0; q++) {
		if (n > max / 16)
			return -EFBIG;
		n = n * 16 + (uint64_t)hex_digit_value(*q);
		if (n > max)
			return -EFBIG;
	}
	if (q == p || (q < eol && *q != ';'))
		return bad(why, "malformed chunk size");
	*out = (size_t)n;
	return 0;
}

/* Walk the chunks of [p, end): *total is the decoded size. With decode,
 * the data is moved together to p (only after a walk without decode
 * succeeded: the walk itself cannot fail then). */
static int walk_chunks(char *p, const char *end, size_t max, bool decode, size_t *total, const char **why)
{
	char *w = p;
	size_t sum = 0;

	for (;;) {
		const char *eol = line_end(p, end);
		size_t n;
		int r;

		if (!eol)
			return -EAGAIN;
		r = chunk_size(p, eol, max - sum, &n, why);
		if (r < 0)
			return r;
		p = (char *)eol + 2;
		if (n == 0)
			break;
		if ((size_t)(end - p) < n + 2)
			return -EAGAIN;
		if (p[n] != '\r' || p[n + 1] != '\n')
			return bad(why, "chunk data not followed by CRLF");
		if (decode)
			memmove(w, p, n);
		w += n;
		sum += n;
		p += n + 2;
	}
	/* Trailer fields, then the empty line that ends the message. */
	for (;;) {
		const char *eol = line_end(p, end);

		if (!eol)
			return -EAGAIN;
		if (eol == p)
			break;
		if ((size_t)(eol - p) > HTTP_HEAD_MAX)
			return bad(why, "trailer field too large");
		p = (char *)eol + 2;
	}
	if (p + 2 != end)
		return bad(why, "data after the chunked body");
	*total = sum;
	return 0;
}

static int parse_body(char *body, size_t avail, bool at_eof, size_t max_body, const struct framing *f,
		      struct http_response *out, const char **why)
{
	size_t total;
	int r;

	out->body = body;
	out->framed = f->have_length || f->chunked;
	if (f->have_length) {
		if (f->length > max_body)
			return -EFBIG;
		if (avail < f->length)
			return at_eof ? bad(why, "connection ended before Content-Length bytes") : -EAGAIN;
		if (avail > f->length)
			return bad(why, "data after the body");
		out->body_len = (size_t)f->length;
		return 0;
	}
	if (f->chunked) {
		r = walk_chunks(body, body + avail, max_body, false, &total, why);
		if (r == -EAGAIN && at_eof)
			return bad(why, "connection ended inside the chunked body");
		if (r < 0)
			return r;
		(void)walk_chunks(body, body + avail, max_body, true, &total, why);
		out->body_len = total;
		return 0;
	}
	if (avail > max_body)
		return -EFBIG;
	if (!at_eof)
		return -EAGAIN;
	out->body_len = avail;
	return 0;
}

int http_response_parse(char *buf, size_t len, bool at_eof, size_t max_body, struct http_response *out,
			const char **why)
{
	struct framing f = {0};
	size_t start = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = parse_head(buf, len, at_eof, out, &f, &start, why);
	if (r < 0)
		return r;
	if (out->status < 200)
		return bad(why, "interim (1xx) response");
	if (out->status == 204 || out->status == 304) {
		out->body = buf + start;
		out->framed = true;
		return start == len ? 0 : bad(why, "data after a response without body");
	}
	return parse_body(buf + start, len - start, at_eof, max_body, &f, out, why);
}
