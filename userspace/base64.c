/* base64.c - strict standard base64 (see kwid/base64.h), on top of
 * OpenSSL's block coder, which does the arithmetic but neither rejects
 * stray characters precisely nor reports the unpadded length. */
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
