/* base64.h - standard base64 (RFC 4648 section 4, with padding) for the
 * binary blobs of node evidence documents. Decoding is strict: no
 * whitespace, correct padding, bounded output. */
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

#endif
