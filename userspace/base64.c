/* base64.c - strict standard base64 (see kwid/base64.h), on top of
 * OpenSSL's block coder, which does the arithmetic but neither rejects
 * stray characters precisely nor reports the unpadded length; and strict
 * base64url for JOSE, written out (OpenSSL has no URL alphabet). */
#include "kwid/base64.h"
#include "kwid/util.h"

#include <openssl/evp.h>

char *base64_encode(const uint8_t *data, size_t len)
{
	size_t olen;
	char *out;

	if (len > (SIZE_MAX / 4) * 3 - 3 || len > INT32_MAX)
		return NULL;
	olen = 4 * ((len + 2) / 3);
	out = malloc(olen + 1);
	if (!out)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	out[olen] = '\0';
	return out;
}

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/';
}

int base64_decode(const char *text, size_t len, size_t max, uint8_t **out, size_t *outlen)
{
	size_t pad = 0, dlen;
	uint8_t *buf;
	int n;

	if (len % 4 != 0 || len > INT32_MAX)
		return -EINVAL;
	if (len && text[len - 1] == '=')
		pad = (len >= 2 && text[len - 2] == '=') ? 2 : 1;
	for (size_t i = 0; i < len - pad; i++)
		if (!is_b64(text[i]))
			return -EINVAL;
	dlen = len / 4 * 3 - pad;
	if (dlen > max)
		return -EFBIG;
	buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	n = len ? EVP_DecodeBlock(buf, (const unsigned char *)text, (int)len) : 0;
	if (n < 0 || (size_t)n != len / 4 * 3) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*outlen = dlen;
	return 0;
}

/* ---- base64url ---- */

static const char URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void base64url_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = URL[v >> 18];
		out[o++] = URL[(v >> 12) & 63];
		out[o++] = URL[(v >> 6) & 63];
		out[o++] = URL[v & 63];
	}
	if (n - i >= 1) {
		uint32_t v = (uint32_t)in[i] << 16 | (n - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = URL[v >> 18];
		out[o++] = URL[(v >> 12) & 63];
		if (n - i == 2)
			out[o++] = URL[(v >> 6) & 63];
	}
	out[o] = '\0';
}

char *base64url_encode_alloc(const uint8_t *in, size_t n)
{
	char *s = malloc(base64url_len(n) + 1);

	if (s)
		base64url_encode(in, n, s);
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
