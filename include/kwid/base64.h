/* base64.h - base64 (RFC 4648 section 4, padded) and base64url (section 5,
 * unpadded, as JOSE uses it). Decoding is strict: no padding, whitespace or
 * non-canonical trailing bits in base64url, so that one value has exactly
 * one encoding. */
#ifndef KWID_BASE64_H
#define KWID_BASE64_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Encoded length without the terminating NUL. */
static inline size_t base64url_len(size_t n) { return (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0); }
static inline size_t base64_len(size_t n) { return (n + 2) / 3 * 4; }

/* Write the encoding of in[0..n) plus a NUL into out (len()+1 bytes). */
void base64url_encode(const uint8_t *in, size_t n, char *out);
void base64_encode(const uint8_t *in, size_t n, char *out);
/* malloc'd NUL-terminated encodings (NULL on ENOMEM). */
char *base64url_encode_alloc(const uint8_t *in, size_t n);
char *base64_encode_alloc(const uint8_t *in, size_t n);

/* Decode base64url text s[0..n) into out (room for n*3/4 bytes).
 * Returns the decoded length or -EINVAL. */
ssize_t base64url_decode(const char *s, size_t n, uint8_t *out, size_t outcap);

#endif
