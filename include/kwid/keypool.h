/* keypool.h - fresh EC P-256 key pairs for X.509-SVIDs, fast.
 *
 * A key pair is generated the way OpenSSL's own EC key generation does it
 * (a private scalar drawn uniformly from [1, n) by the DRBG, the public
 * point by fixed-base scalar multiplication) but without building an
 * EVP_PKEY, whose provider round trips cost more than the arithmetic. The
 * PKCS#8 encoding is a fixed template.
 *
 * The pool keeps up to `size` pairs generated ahead of time by a worker
 * thread, so that a burst of mints on the event loop costs one signature
 * each. keypool_take() never waits for the worker: when the pool is empty
 * it generates on the caller's thread. Pool memory holds private keys: it is
 * wiped when a pair is handed out and when the pool is freed. */
#ifndef KWID_KEYPOOL_H
#define KWID_KEYPOOL_H

#include <stddef.h>
#include <stdint.h>

#define P256_PRIV_LEN 32
#define P256_PUB_LEN 65	 /* uncompressed point 04 || X || Y */
#define P256_PKCS8_LEN 138

struct kwid_keypair {
	uint8_t priv[P256_PRIV_LEN]; /* big-endian scalar */
	uint8_t pub[P256_PUB_LEN];
};

/* Per-thread generator state (group, scratch numbers). */
struct kwid_keygen;
int keygen_new(struct kwid_keygen **out);
void keygen_free(struct kwid_keygen *g);
int keygen_p256(struct kwid_keygen *g, struct kwid_keypair *out);

/* Unencrypted PKCS#8 DER (the Workload API's x509_svid_key), with the
 * public key included as OpenSSL writes it. */
void keypair_to_pkcs8(const struct kwid_keypair *kp, uint8_t out[P256_PKCS8_LEN]);
void keypair_wipe(struct kwid_keypair *kp);

struct kwid_keypool;
struct keypool_stats {
	size_t size, available;
	uint64_t taken_ready;  /* handed out from the pool */
	uint64_t taken_inline; /* generated on the caller's thread (pool empty) */
};

/* size 0: no worker thread, every pair is generated inline. The worker
 * starts with keypool_start(): call it once the agent has dropped its
 * privileges (capabilities and seccomp filters are per thread, and a thread
 * started before the drop would keep them); until then pairs are made
 * inline. */
int keypool_new(size_t size, struct kwid_keypool **out);
int keypool_start(struct kwid_keypool *p);
void keypool_free(struct kwid_keypool *p);
int keypool_take(struct kwid_keypool *p, struct kwid_keypair *out);
void keypool_stats(struct kwid_keypool *p, struct keypool_stats *out);

#endif
