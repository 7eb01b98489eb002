/* base64.h - standard base64 (RFC 4648 section 4, with padding) for the
 * binary blobs of node evidence documents and JWKS x5c; base64url
 * (section 5, unpadded) as JOSE uses it. Decoding is strict: no
 * whitespace, correct padding, bounded output; base64url also refuses
 * padding and non-canonical trailing bits, so that one value has exactly
 * one encoding. */
#ifndef KWID_BASE64_H
#define KWID_BASE64_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* malloc'd NUL-terminated text, or NULL on allocation failure. */
char *base64_encode(const uint8_t *data, size_t len);
/* Decode text[0..len) into a malloc'd buffer of at most max bytes.
 * -EINVAL on malformed input, -EFBIG when the result would exceed max. */
int base64_decode(const char *text, size_t len, size_t max, uint8_t **out, size_t *outlen);

/* base64url: encoded length without the terminating NUL. */
static inline size_t base64url_len(size_t n) { return (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0); }
/* Write the encoding of in[0..n) plus a NUL into out (base64url_len()+1). */
void base64url_encode(const uint8_t *in, size_t n, char *out);
/* malloc'd NUL-terminated encoding (NULL on ENOMEM). */
char *base64url_encode_alloc(const uint8_t *in, size_t n);
/* Decode s[0..n) into out (room for outcap bytes): the decoded length, or
 * -EINVAL for anything but canonical unpadded base64url that fits. */
ssize_t base64url_decode(const char *s, size_t n, uint8_t *out, size_t outcap);

#endif
