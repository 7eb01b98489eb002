/* ima.h - the kernel's IMA measurement log: parse the binary format
 * (binary_runtime_measurements and its per-bank variants), replay it into
 * PCR values, check it against a runtime policy, and collect the file
 * digests of the entries a quote vouches for.
 *
 * Everything here works on untrusted bytes and needs no TPM: the agent and
 * `kwidctl node verify` (the remote verifier) share it.
 *
 * Record layout (integers little-endian as the kernel writes them on
 * x86/arm64 and always with ima_canonical_fmt; big-endian on request):
 *   u32 pcr | template digest (bank size) | u32 name len | name |
 *   [u32 data len, except for the "ima" template] | template data
 * Template data of every template but "ima" is a run of (u32 len, bytes)
 * fields; the template digest is H(template data). For "ima" the data is
 * a 20-byte digest and (u32 len, name without NUL), and the digest is
 * H(digest20 || name zero-padded to 256 bytes). An all-zero template
 * digest marks a violation, which the kernel extends as all-0xFF. */
#ifndef KWID_IMA_H
#define KWID_IMA_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "kwid/digest.h"
#include "kwid/util.h"

#define IMA_LOG_MAX_BYTES (64u << 20)	  /* a 100,000-entry log is ~15 MiB */
#define IMA_TEMPLATE_NAME_MAX 255	  /* TCG_EVENT_NAME_LEN_MAX */
#define IMA_TEMPLATE_DATA_MAX (1u << 20)  /* ima-buf certificates, dm tables: KiBs */
#define IMA_NAME_MAX 4096		  /* n-ng: PATH_MAX including the NUL */
#define IMA_OLD_NAME_MAX 255		  /* n in the "ima" template */
#define IMA_PCR_LIMIT 64		  /* entries name PCRs below this */
#define IMA_PCR 10			  /* CONFIG_IMA_MEASURE_PCR_IDX everywhere */
#define IMA_ERR_MAX 256

enum ima_template_kind {
	IMA_TEMPLATE_IMA,     /* d | n */
	IMA_TEMPLATE_NG,      /* d-ng | n-ng | ...: ima-ng, ima-sig, ima-buf, ima-modsig, evm-sig */
	IMA_TEMPLATE_NGV2,    /* d-ngv2 | n-ng | ...: ima-ngv2, ima-sigv2 */
	IMA_TEMPLATE_UNKNOWN, /* replayed, never interpreted */
};

struct ima_entry {
	uint32_t pcr;
	size_t offset;			/* of the record in the log */
	const uint8_t *template_digest; /* log->bank's size */
	const char *template_name;	/* not NUL-terminated */
	uint32_t template_name_len;
	const uint8_t *template_data;
	uint32_t template_data_len;
	enum ima_template_kind kind;
	bool violation;			/* all-zero template digest */
	bool is_buf;			/* ima-buf: the name is not a file */
	/* Known templates only (else empty/NULL/0). */
	char digest_type[8];		/* "ima" or "verity" for d-ngv2, else "" */
	char file_algo[16];		/* "sha256" ("sha1" for the "ima" template) */
	int file_alg;			/* enum kwid_digest_alg of file_algo, or -1 */
	const uint8_t *file_digest;
	uint32_t file_digest_len;
	const char *path;		/* NUL-terminated; no embedded NUL */
	uint32_t path_len;
};

struct ima_log {
	uint8_t *buf;		     /* own copy of the bytes */
	size_t len;
	enum kwid_digest_alg bank;   /* algorithm of the template digests */
	struct ima_entry *entries;
	size_t n;
	char *names;		     /* NUL-terminated copies of "ima" template names */
};

#define IMA_LOG_BIG_ENDIAN (1u << 0)

/* Parse a whole log. bank is the template digest algorithm of the file
 * (SHA-1 for binary_runtime_measurements, the bank for the per-bank
 * files). -EINVAL (and err) for a malformed log, -EFBIG for one over
 * IMA_LOG_MAX_BYTES. The bytes are copied. */
int ima_log_parse(const uint8_t *data, size_t len, enum kwid_digest_alg bank, unsigned flags,
		  struct ima_log **out, char *err, size_t errlen);
void ima_log_free(struct ima_log *log);
DEFINE_CLEANUP_FUNC(struct ima_log, ima_log_free)

/* Template digest bank of a securityfs file name: "..._sha256" ->
 * SHA-256, no suffix or "_sha1" -> SHA-1. -EINVAL for other suffixes. */
int ima_log_bank_from_path(const char *path, enum kwid_digest_alg *out);

/* Printable form of an entry's path for messages: bytes outside 0x20..0x7e
 * as \xNN, truncated to outlen. */
void ima_path_escape(const struct ima_entry *e, char *out, size_t outlen);

/* ---- replay ---- */

/* How non-SHA-1 banks were extended from a SHA-1 log. Since Linux 5.8 a
 * bank gets H_bank(template data) (TEMPLATE); before, the SHA-1 template
 * digest zero-padded (PADDED_SHA1). Per-bank logs are always TEMPLATE. */
enum ima_extend_mode {
	IMA_EXTEND_TEMPLATE,
	IMA_EXTEND_PADDED_SHA1,
};

/* One PCR the replay computes. */
struct ima_replay_pcr {
	enum kwid_digest_alg bank;
	uint32_t pcr;
	uint8_t value[KWID_DIGEST_MAX];
};

/* Asked after 0 entries and after every entry that changed a replayed PCR;
 * true means the log, up to `count` entries, is what was quoted. */
typedef bool (*ima_replay_match_fn)(void *userdata, const struct ima_replay_pcr *pcrs, size_t npcrs,
				    size_t count);

struct ima_replay_result {
	size_t matched;		/* entries in the quoted prefix */
	size_t bad_entry;	/* index of an inconsistent entry, when -EBADMSG */
	char error[IMA_ERR_MAX];
};

/* Replay the log into pcrs[] (initial values: zero). Entries for PCRs not
 * in pcrs[] are skipped. 0: matched after res->matched entries (pcrs[]
 * then holds the values at that point); -EBADMSG: an entry's template
 * digest disagrees with its data; -ENOENT: no prefix matched (pcrs[] holds
 * the values after the whole log). */
int ima_replay(const struct ima_log *log, enum ima_extend_mode mode, struct ima_replay_pcr *pcrs,
	       size_t npcrs, ima_replay_match_fn match, void *userdata, struct ima_replay_result *res);

/* ---- what a verified log vouches for ---- */

/* Sorted SHA-256 file digests. */
struct ima_digest_set {
	uint8_t (*v)[32];
	size_t n;
};

/* Digests of entries [0, count) whose PCR is in pcr_mask, that are not
 * violations and whose file digest is a plain SHA-256 (not fs-verity). */
int ima_digest_set_build(const struct ima_log *log, size_t count, uint64_t pcr_mask,
			 struct ima_digest_set *out);
bool ima_digest_set_contains(const struct ima_digest_set *s, const uint8_t sha256[32]);
void ima_digest_set_clear(struct ima_digest_set *s);

/* ---- runtime policy (Keylime's format, see docs/NODE.md) ---- */

struct ima_policy {
	json_object *root;
	json_object *digests; /* path -> [hex, ...] */
	json_object *bufs;    /* "ima-buf": name -> [hex, ...], may be NULL */
	regex_t excludes;
	bool has_excludes;
};

struct ima_policy_failure {
	size_t entry;
	char path[256];	 /* escaped, truncated */
	char reason[96];
};

struct ima_policy_report {
	size_t checked, excluded, failed;
	struct ima_policy_failure *failures; /* at most IMA_POLICY_MAX_REPORTED */
	size_t nfailures;
};

#define IMA_POLICY_MAX_REPORTED 100
#define IMA_POLICY_MAX_BYTES (64u << 20)

/* Parse a policy document. -EINVAL and err on a malformed one. */
int ima_policy_parse(const char *text, struct ima_policy **out, char *err, size_t errlen);
int ima_policy_load(const char *path, struct ima_policy **out, char *err, size_t errlen);
void ima_policy_free(struct ima_policy *p);
DEFINE_CLEANUP_FUNC(struct ima_policy, ima_policy_free)

/* Check entries [0, count); entries whose PCR is outside pcr_mask were not
 * verified by the quote and fail. */
int ima_policy_check(const struct ima_policy *p, const struct ima_log *log, size_t count,
		     uint64_t pcr_mask, struct ima_policy_report *rep);
void ima_policy_report_clear(struct ima_policy_report *rep);

#endif
