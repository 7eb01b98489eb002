/* base64.c - base64 and strict base64url (see kwid/base64.h). */
#include "kwid/base64.h"
#include "kwid/util.h"

static const char STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t encode(const char *alpha, bool pad, const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alpha[v >> 18];
		out[o++] = alpha[(v >> 12) & 63];
		out[o++] = alpha[(v >> 6) & 63];
		out[o++] = alpha[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = alpha[v >> 18];
		out[o++] = alpha[(v >> 12) & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alpha[v >> 18];
		out[o++] = alpha[(v >> 12) & 63];
		out[o++] = alpha[(v >> 6) & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

void base64url_encode(const uint8_t *in, size_t n, char *out)
{
	encode(URL, false, in, n, out);
}

void base64_encode(const uint8_t *in, size_t n, char *out)
{
	encode(STD, true, in, n, out);
}

char *base64url_encode_alloc(const uint8_t *in, size_t n)
{
	char *s = malloc(base64url_len(n) + 1);

	if (s)
		base64url_encode(in, n, s);
	return s;
}

char *base64_encode_alloc(const uint8_t *in, size_t n)
{
	char *s = malloc(base64_len(n) + 1);

	if (s)
		base64_encode(in, n, s);
	return s;
}

static int url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

ssize_t base64url_decode(const char *s, size_t n, uint8_t *out, size_t outcap)
{
	size_t o = 0, rem = n % 4;
	uint32_t acc = 0;

	if (rem == 1 || (n / 4) * 3 + (rem ? rem - 1 : 0) > outcap)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int v = url_value(s[i]);
		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	if (rem == 2) {
		if (acc & 0x0f) /* non-canonical trailing bits */
			return -EINVAL;
		out[o++] = (uint8_t)(acc >> 4);
	} else if (rem == 3) {
		if (acc & 0x03)
			return -EINVAL;
		out[o++] = (uint8_t)(acc >> 10);
		out[o++] = (uint8_t)(acc >> 2);
	}
	return (ssize_t)o;
}
