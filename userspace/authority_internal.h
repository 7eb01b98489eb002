/* authority_internal.h - what the files of the authority share: the key
 * and authority objects. Not an interface for other parts (see
 * kwid/authority.h and kwid/svid.h). */
#ifndef KWID_AUTHORITY_INTERNAL_H
#define KWID_AUTHORITY_INTERNAL_H

#include <inttypes.h>
#include <openssl/x509.h>

#include "kwid/authority.h"
#include "kwid/keypool.h"
#include "kwid/keyset.h"
#include "kwid/signer.h"
#include "kwid/util.h"

#define AU_MAX_KEYS 8	    /* per kind: active, next and retired ones */
#define AU_ID_MAX 64
#define AU_RETRY_S 30	    /* after a failed rotation step */
#define AU_TIMER_MAX_S 60   /* re-check at least this often (wall clock jumps) */
#define AU_MAX_UPSTREAM_CERTS 16
#define AU_MAX_FILE (1u << 20)

enum au_kind { AU_X509, AU_JWT };

struct au_key {
	enum au_kind kind;
	struct key_times t;
	int64_t signed_until_saved; /* persisted upper bound of t.signed_until */
	char id[AU_ID_MAX];	    /* X.509: hex key identifier; JWT: kid (RFC 7638 thumbprint) */
	struct kwid_signer signer;
	/* X.509 CA */
	X509 *cert;
	uint8_t *cert_der, *subject_der;
	size_t cert_len, subject_len;
	uint8_t key_id[64]; /* subject key identifier, the AKI of what it signs */
	size_t key_id_len;
	/* JWT */
	char *header_b64;
};

struct au_keys {
	struct au_key *v[AU_MAX_KEYS];
	size_t n;
};

struct authority_settings {
	uint32_t x509_svid_ttl, jwt_svid_ttl;
	int64_t ca_ttl, jwt_key_ttl;
	unsigned rotate_pct;
	int64_t propagation, refresh_hint, backdate;
	size_t keypool_size;
	const char *up_cert, *up_key, *up_bundle; /* into the config; NULL: local CA */
};

/* Upstream authority material (fixed by the files). */
struct au_upstream {
	uint8_t *chain_der; /* the signing certificate and further intermediates */
	size_t chain_len;
	int64_t chain_not_after; /* earliest notAfter of the chain */
	X509 **roots;
	size_t nroots;
	uint8_t *roots_der;
	size_t roots_len;
};

struct authority_stats {
	uint64_t x509_minted, jwt_minted, jwt_validated, jwt_refused;
	uint64_t rotations, save_failures;
};

struct kwid_authority {
	struct kwid_agent *agent;
	struct authority_settings set;
	char td[256];
	char td_id[256 + 16]; /* spiffe://<td> */
	char *dir;	      /* <state_dir>/authority */
	int lock_fd;
	bool upstream;
	struct au_upstream up;
	struct au_keys x509, jwt;
	uint64_t sequence;
	uint64_t x509_generation;
	uint8_t bundle_digest[32];
	struct kwid_keypool *pool;
	struct kwid_timer *timer;
	struct authority_stats stats;
};

/* authority.c */
struct au_key *au_active(struct au_keys *ks);
void au_key_free(struct au_key *k);
const char *au_kind_name(enum au_kind kind);
int64_t au_now(void);

/* authority_rotate.c */
/* Apply every rotation step due now and arm the timer for the next one;
 * KWID_CHANGE_BUNDLE when the bundle changed. */
int au_run_schedule(struct kwid_authority *au);
void au_on_timer(struct kwid_timer *t, void *userdata);
/* Record that k signed something valid until exp; persists a new upper
 * bound when exp passes the saved one. */
void au_note_signed(struct kwid_authority *au, struct au_key *k, int64_t exp);

/* authority_store.c: state.json and key files in au->dir */
int au_store_open(struct kwid_authority *au);
int au_store_load(struct kwid_authority *au);
int au_store_save(struct kwid_authority *au);
int au_store_write_key(struct kwid_authority *au, const struct au_key *k);
void au_store_remove_key(struct kwid_authority *au, const struct au_key *k);
void au_store_collect_garbage(struct kwid_authority *au);
/* PEM private key (unencrypted; never prompts); wipes and frees data. */
EVP_PKEY *au_parse_private_key(char *data, size_t len);

/* ca_local.c / ca_upstream.c / jwt_key.c: new keys */
int64_t au_asn1_time(const ASN1_TIME *t); /* unix seconds, 0 if unreadable */
int au_ca_local_create(struct kwid_authority *au, int64_t now, struct au_key **out);
int au_x509_key_from(EVP_PKEY *pkey, X509 *cert, struct au_key **out); /* takes both references */
int au_upstream_load(struct kwid_authority *au, struct au_upstream *up, struct au_key **key);
void au_upstream_clear(struct au_upstream *up);
int au_jwt_key_create(struct kwid_authority *au, int64_t now, struct au_key **out);
int au_jwt_key_from(EVP_PKEY *pkey, struct au_key **out); /* takes the reference */

/* bundle.c */
int au_bundle_digest(struct kwid_authority *au, uint8_t out[32]);

/* authority_admin.c, authority_status.c */
int au_admin_register(struct kwid_authority *au);
void au_status(void *userdata, json_object *out);

#endif
