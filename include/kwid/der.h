/* der.h - a tiny DER writer for the certificates and keys the authority
 * produces itself (X.509-SVIDs, local CA certificates, PKCS#8 keys).
 *
 * Only what kwid emits is covered: definite lengths up to 64 KiB, nesting
 * up to DER_MAX_DEPTH. Errors are sticky: after the first failure every
 * call does nothing and der_finish() reports it, so encoders need not check
 * each step. Parsing is left to OpenSSL. */
#ifndef KWID_DER_H
#define KWID_DER_H

#include <stdint.h>
#include <stddef.h>

#define DER_MAX_DEPTH 12
#define DER_MAX_LEN 65535

/* ASN.1 tags used by kwid. */
#define DER_BOOLEAN 0x01
#define DER_INTEGER 0x02
#define DER_BIT_STRING 0x03
#define DER_OCTET_STRING 0x04
#define DER_NULL 0x05
#define DER_OID 0x06
#define DER_UTF8STRING 0x0c
#define DER_UTCTIME 0x17
#define DER_GENERALIZEDTIME 0x18
#define DER_SEQUENCE 0x30
#define DER_SET 0x31
#define DER_CONTEXT(n) (0x80 | (n))	     /* [n] IMPLICIT, primitive */
#define DER_CONTEXT_CONS(n) (0xa0 | (n)) /* [n], constructed */

struct der {
	uint8_t *buf;
	size_t len, cap;
	size_t open[DER_MAX_DEPTH]; /* offsets of the open constructed elements */
	unsigned depth;
	int err; /* 0 or the first -errno */
};

void der_init(struct der *d);
/* Free the buffer (wiped: it may hold key material). */
void der_clear(struct der *d);

/* Open a constructed element; close it with der_end(). */
void der_begin(struct der *d, uint8_t tag);
void der_end(struct der *d);
/* A primitive element with the given content. */
void der_put(struct der *d, uint8_t tag, const void *data, size_t len);
/* Bytes that are already DER (constants, embedded certificates). */
void der_put_raw(struct der *d, const void *data, size_t len);
/* INTEGER from an unsigned big-endian magnitude (minimal encoding). */
void der_put_uint(struct der *d, const uint8_t *be, size_t len);
/* BIT STRING with no unused bits. */
void der_put_bits(struct der *d, const void *data, size_t len);
/* UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5). */
void der_put_time(struct der *d, int64_t unix_s);

/* 0 and the finished encoding (ownership passes to the caller), or the
 * sticky error (-ENOMEM, -E2BIG, -EINVAL for unbalanced begin/end). */
int der_finish(struct der *d, uint8_t **out, size_t *outlen);

#endif
