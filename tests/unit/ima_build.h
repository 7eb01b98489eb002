/* ima_build.h - builds IMA logs in the kernel's binary format for tests,
 * and computes what the kernel would extend, with plain one-shot OpenSSL
 * digests (independent of the replay code under test). */
#ifndef KWID_TEST_IMA_BUILD_H
#define KWID_TEST_IMA_BUILD_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IB_MAX_ENTRIES 256

struct ima_build {
	uint8_t *buf;
	size_t len, cap;
	bool sha256_log;	/* template digests of 32 bytes (per-bank log) */
	bool big_endian;
	size_t n;
	size_t offsets[IB_MAX_ENTRIES]; /* record offsets */
	uint8_t sha1[IB_MAX_ENTRIES][20];   /* what goes into each bank */
	uint8_t sha256[IB_MAX_ENTRIES][32];
	uint32_t pcr[IB_MAX_ENTRIES];
};

static inline void ib_put(struct ima_build *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 256;
		b->buf = realloc(b->buf, b->cap);
	}
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static inline void ib_u32(struct ima_build *b, uint32_t v)
{
	uint8_t x[4];

	for (int i = 0; i < 4; i++)
		x[b->big_endian ? 3 - i : i] = (uint8_t)(v >> (8 * i));
	ib_put(b, x, 4);
}

static inline void ib_le32(uint8_t *p, uint32_t v, bool be)
{
	for (int i = 0; i < 4; i++)
		p[be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
}

static inline void ib_sha(const char *alg, const void *p, size_t n, uint8_t *out)
{
	EVP_Digest(p, n, out, NULL, strcmp(alg, "sha1") == 0 ? EVP_sha1() : EVP_sha256(), NULL);
}

/* Record header and template data; the template digests are the hashes
 * of hashed[0..hlen) unless violation. */
static inline void ib_record(struct ima_build *b, uint32_t pcr, const char *tmpl, const uint8_t *data, size_t dlen,
		      const uint8_t *hashed, size_t hlen, bool violation, bool with_len)
{
	size_t i = b->n++;

	b->offsets[i] = b->len;
	b->pcr[i] = pcr;
	ib_sha("sha1", hashed, hlen, b->sha1[i]);
	ib_sha("sha256", hashed, hlen, b->sha256[i]);
	ib_u32(b, pcr);
	if (violation) {
		uint8_t zero[32] = {0};
		ib_put(b, zero, b->sha256_log ? 32 : 20);
		memset(b->sha1[i], 0xff, 20);
		memset(b->sha256[i], 0xff, 32);
	} else {
		ib_put(b, b->sha256_log ? b->sha256[i] : b->sha1[i], b->sha256_log ? 32 : 20);
	}
	ib_u32(b, (uint32_t)strlen(tmpl));
	ib_put(b, tmpl, strlen(tmpl));
	if (with_len)
		ib_u32(b, (uint32_t)dlen);
	ib_put(b, data, dlen);
}

/* d-ng | n-ng [| sig] with a file digest of algorithm alg. */
static inline void ib_add_ng(struct ima_build *b, uint32_t pcr, const char *tmpl, const char *alg, const uint8_t *digest,
		      size_t dlen, const char *path, bool violation, const uint8_t *sig, size_t siglen)
{
	uint8_t data[8192];
	size_t o = 0, alen = strlen(alg), plen = strlen(path) + 1;

	ib_le32(data + o, (uint32_t)(alen + 2 + dlen), b->big_endian);
	o += 4;
	memcpy(data + o, alg, alen);
	data[o + alen] = ':';
	data[o + alen + 1] = '\0';
	memcpy(data + o + alen + 2, digest, dlen);
	o += alen + 2 + dlen;
	ib_le32(data + o, (uint32_t)plen, b->big_endian);
	o += 4;
	memcpy(data + o, path, plen);
	o += plen;
	if (strcmp(tmpl, "ima-sig") == 0) {
		ib_le32(data + o, (uint32_t)siglen, b->big_endian);
		o += 4;
		memcpy(data + o, sig, siglen);
		o += siglen;
	}
	ib_record(b, pcr, tmpl, data, o, data, o, violation, true);
}

/* The legacy "ima" template: d (20 bytes) | n (u32 len, name, no NUL);
 * the template hash covers digest || name padded to 256 bytes. */
static inline void ib_add_old(struct ima_build *b, uint32_t pcr, const uint8_t digest[20], const char *name)
{
	uint8_t data[300] = {0}, hashed[276] = {0};
	size_t nlen = strlen(name);

	memcpy(data, digest, 20);
	ib_le32(data + 20, (uint32_t)nlen, b->big_endian);
	memcpy(data + 24, name, nlen);
	memcpy(hashed, digest, 20);
	memcpy(hashed + 20, name, nlen);
	ib_record(b, pcr, "ima", data, 24 + nlen, hashed, 276, false, false);
}

/* Expected PCR value after the first count entries for pcr. */
static inline void ib_expect(const struct ima_build *b, size_t count, uint32_t pcr, bool sha256, uint8_t *out)
{
	size_t size = sha256 ? 32 : 20;
	uint8_t buf[64];

	memset(out, 0, size);
	for (size_t i = 0; i < count; i++) {
		if (b->pcr[i] != pcr)
			continue;
		memcpy(buf, out, size);
		memcpy(buf + size, sha256 ? b->sha256[i] : b->sha1[i], size);
		ib_sha(sha256 ? "sha256" : "sha1", buf, 2 * size, out);
	}
}

static inline void ib_free(struct ima_build *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

#endif
