/* authority_store.c - the authority's durable state in <state_dir>/authority:
 * state.json (key list, rotation times, bundle sequence) and one PKCS#8
 * PEM file per private key (plus the certificate of each local CA). Every
 * file is mode 0600 and written atomically; the directory is 0700 and
 * locked so that two agents never share it. Key files are written before
 * state.json names them, and unlinked after it stops naming them. */
#include "authority_internal.h"
#include "kwid/config.h"
#include "kwid/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <sys/file.h>
#include <sys/stat.h>

#define STATE_FILE "state.json"
#define STATE_VERSION 1

static const char *prefix(enum au_kind kind)
{
	return kind == AU_X509 ? "x509" : "jwt";
}

/* Ids end up in file names: hex for CA key ids, base64url for kids. */
static bool id_ok(enum au_kind kind, const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= AU_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
		bool b64u = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			    c == '_';
		if (kind == AU_X509 ? !hex : !b64u)
			return false;
	}
	return true;
}

int au_store_open(struct kwid_authority *au)
{
	struct stat st;
	int r = mkdir_p(au->dir, 0700);

	if (r < 0)
		return log_error_errno(r, "authority: cannot create %s", au->dir);
	if (stat(au->dir, &st) < 0)
		return log_error_errno(-errno, "authority: cannot stat %s", au->dir);
	if (st.st_uid != geteuid())
		return log_error_errno(-EPERM, "authority: %s belongs to uid %u, not to the agent's uid %u", au->dir,
				       (unsigned)st.st_uid, (unsigned)geteuid());
	if ((st.st_mode & 077) && chmod(au->dir, 0700) < 0)
		return log_error_errno(-errno, "authority: cannot restrict %s to 0700", au->dir);
	au->lock_fd = openat(AT_FDCWD, au->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (au->lock_fd < 0)
		return log_error_errno(-errno, "authority: cannot open %s", au->dir);
	if (flock(au->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return log_error_errno(-errno, "authority: %s is in use by another agent", au->dir);
	return 0;
}

/* ---- key files ---- */

static int write_pem(struct kwid_authority *au, const char *name, int (*fn)(BIO *, const void *), const void *obj)
{
	BIO *bio = BIO_new(BIO_s_secmem()); /* wiped when freed */
	char *data;
	long len;
	int r;

	if (!bio)
		return -ENOMEM;
	if (!fn(bio, obj)) {
		BIO_free(bio);
		return -EIO;
	}
	len = BIO_get_mem_data(bio, &data);
	r = write_file_atomic(au->dir, name, data, (size_t)len, 0600);
	BIO_free(bio);
	return r;
}

static int pem_key(BIO *bio, const void *pkey)
{
	return PEM_write_bio_PrivateKey(bio, (EVP_PKEY *)pkey, NULL, NULL, 0, NULL, NULL);
}

static int pem_cert(BIO *bio, const void *cert)
{
	return PEM_write_bio_X509(bio, (X509 *)cert);
}

int au_store_write_key(struct kwid_authority *au, const struct au_key *k)
{
	char name[AU_ID_MAX + 16];
	int r;

	if (k->kind == AU_X509) {
		snprintf(name, sizeof(name), "x509-%s.crt", k->id);
		r = write_pem(au, name, pem_cert, k->cert);
		if (r < 0)
			return r;
	}
	snprintf(name, sizeof(name), "%s-%s.key", prefix(k->kind), k->id);
	return write_pem(au, name, pem_key, k->signer.key);
}

void au_store_remove_key(struct kwid_authority *au, const struct au_key *k)
{
	char path[PATH_MAX];

	if (au->upstream && k->kind == AU_X509)
		return; /* the operator's files, not ours */
	snprintf(path, sizeof(path), "%s/%s-%s.key", au->dir, prefix(k->kind), k->id);
	unlink(path);
	if (k->kind == AU_X509) {
		snprintf(path, sizeof(path), "%s/x509-%s.crt", au->dir, k->id);
		unlink(path);
	}
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1; /* never prompt on a terminal */
}

EVP_PKEY *au_parse_private_key(char *data, size_t len)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;

	BIO_free(bio);
	explicit_bzero(data, len);
	free(data);
	return k;
}

static int read_pem_file(struct kwid_authority *au, const char *name, char **data, size_t *len)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", au->dir, name);
	if (stat(path, &st) == 0 && (st.st_mode & 077)) {
		log_warn("authority: %s was readable by others (mode %03o); restricting it to 0600", path,
			 (unsigned)(st.st_mode & 0777));
		chmod(path, 0600);
	}
	return read_file(path, AU_MAX_FILE, data, len);
}

static int load_key_file(struct kwid_authority *au, enum au_kind kind, const char *id, EVP_PKEY **out)
{
	char name[AU_ID_MAX + 16];
	char *data = NULL;
	size_t len = 0;
	int r;

	snprintf(name, sizeof(name), "%s-%s.key", prefix(kind), id);
	r = read_pem_file(au, name, &data, &len);
	if (r < 0)
		return log_error_errno(r, "authority: cannot read %s/%s", au->dir, name);
	*out = au_parse_private_key(data, len);
	if (!*out)
		return log_error_errno(-EINVAL, "authority: %s/%s holds no usable private key", au->dir, name);
	return 0;
}

static int load_cert_file(struct kwid_authority *au, const char *id, X509 **out)
{
	char name[AU_ID_MAX + 16];
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	BIO *bio;
	int r;

	snprintf(name, sizeof(name), "x509-%s.crt", id);
	r = read_pem_file(au, name, &data, &len);
	if (r < 0)
		return log_error_errno(r, "authority: cannot read %s/%s", au->dir, name);
	bio = BIO_new_mem_buf(data, (int)len);
	*out = bio ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	if (!*out)
		return log_error_errno(-EINVAL, "authority: %s/%s holds no certificate", au->dir, name);
	return 0;
}

/* ---- state.json ---- */

static json_object *times_to_json(const struct au_key *k)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(k->id));
	json_object_object_add(o, "state", json_object_new_string(key_state_name(k->t.state)));
	json_object_object_add(o, "created", json_object_new_int64(k->t.created));
	json_object_object_add(o, "activate_at", json_object_new_int64(k->t.activate_at));
	json_object_object_add(o, "not_after", json_object_new_int64(k->t.not_after));
	json_object_object_add(o, "signed_until", json_object_new_int64(k->signed_until_saved));
	return o;
}

static json_object *keys_to_json(const struct au_keys *ks)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < ks->n; i++)
		json_object_array_add(a, times_to_json(ks->v[i]));
	return a;
}

int au_store_save(struct kwid_authority *au)
{
	json_object *s = json_object_new_object();
	char digest[65];
	const char *text;
	size_t len;
	int r;

	hex_encode(au->bundle_digest, sizeof(au->bundle_digest), digest);
	json_object_object_add(s, "version", json_object_new_int(STATE_VERSION));
	json_object_object_add(s, "trust_domain", json_object_new_string(au->td));
	json_object_object_add(s, "sequence", json_object_new_int64((int64_t)au->sequence));
	json_object_object_add(s, "bundle_digest", json_object_new_string(digest));
	json_object_object_add(s, "x509", au->upstream ? json_object_new_array() : keys_to_json(&au->x509));
	json_object_object_add(s, "jwt", keys_to_json(&au->jwt));
	text = json_object_to_json_string_length(s, JSON_C_TO_STRING_PRETTY, &len);
	r = text ? write_file_atomic(au->dir, STATE_FILE, text, len, 0600) : -ENOMEM;
	json_object_put(s);
	return r;
}

static int get_i64(json_object *o, const char *key, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -EINVAL;
	*out = json_object_get_int64(v);
	return 0;
}

static int parse_state(const char *s, enum key_state *out)
{
	if (streq(s, "next"))
		*out = KEY_NEXT;
	else if (streq(s, "active"))
		*out = KEY_ACTIVE;
	else if (streq(s, "retired"))
		*out = KEY_RETIRED;
	else
		return -EINVAL;
	return 0;
}

static int load_one(struct kwid_authority *au, enum au_kind kind, json_object *o, struct au_key **out)
{
	json_object *v;
	const char *id = NULL;
	struct key_times t = {0};
	int64_t signed_until = 0;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	struct au_key *k;
	int r;

	if (json_object_object_get_ex(o, "id", &v) && json_object_is_type(v, json_type_string))
		id = json_object_get_string(v);
	if (!id || !id_ok(kind, id) || !json_object_object_get_ex(o, "state", &v) ||
	    parse_state(json_object_get_string(v), &t.state) < 0 || get_i64(o, "created", &t.created) < 0 ||
	    get_i64(o, "activate_at", &t.activate_at) < 0 || get_i64(o, "not_after", &t.not_after) < 0 ||
	    get_i64(o, "signed_until", &signed_until) < 0)
		return log_error_errno(-EINVAL, "authority: %s/" STATE_FILE " has a malformed %s key entry", au->dir,
				       prefix(kind));
	r = load_key_file(au, kind, id, &pkey);
	if (r == 0 && kind == AU_X509)
		r = load_cert_file(au, id, &cert);
	if (r < 0)
		goto fail;
	r = kind == AU_X509 ? au_x509_key_from(TAKE_PTR(pkey), TAKE_PTR(cert), &k) : au_jwt_key_from(TAKE_PTR(pkey), &k);
	if (r < 0) {
		log_error_errno(r, "authority: %s key %s in %s is unusable", prefix(kind), id, au->dir);
		goto fail;
	}
	if (!streq(k->id, id)) {
		log_error("authority: %s key file for %s holds another key (%s); refusing to guess", prefix(kind), id,
			  k->id);
		au_key_free(k);
		return -EINVAL;
	}
	k->t = t;
	k->t.signed_until = signed_until;
	k->signed_until_saved = signed_until;
	*out = k;
	return 0;
fail:
	EVP_PKEY_free(pkey);
	X509_free(cert);
	return r;
}

static int load_list(struct kwid_authority *au, enum au_kind kind, json_object *state, struct au_keys *ks)
{
	json_object *arr;
	size_t n;

	if (!json_object_object_get_ex(state, prefix(kind), &arr) || !json_object_is_type(arr, json_type_array))
		return log_error_errno(-EINVAL, "authority: %s/" STATE_FILE " has no '%s' list", au->dir, prefix(kind));
	n = json_object_array_length(arr);
	if (n > AU_MAX_KEYS)
		return log_error_errno(-EINVAL, "authority: %s/" STATE_FILE " lists %zu %s keys (at most %d)", au->dir,
				       n, prefix(kind), AU_MAX_KEYS);
	if (kind == AU_X509 && au->upstream) {
		if (n)
			log_warn("authority: an upstream authority is configured; the local CA(s) in %s are no "
				 "longer published", au->dir);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		int r = load_one(au, kind, json_object_array_get_idx(arr, i), &ks->v[ks->n]);
		if (r < 0)
			return r;
		ks->n++;
	}
	return 0;
}

int au_store_load(struct kwid_authority *au)
{
	_cleanup_free_ char *text = NULL, *errmsg = NULL;
	char path[PATH_MAX];
	json_object *st = NULL, *v;
	int64_t version = 0, seq = 0;
	int r;

	snprintf(path, sizeof(path), "%s/" STATE_FILE, au->dir);
	r = read_file(path, AU_MAX_FILE, &text, NULL);
	if (r == -ENOENT) {
		log_info("authority: no state in %s yet: creating the trust domain's keys", au->dir);
		return 0;
	}
	if (r < 0)
		return log_error_errno(r, "authority: cannot read %s", path);
	r = config_parse_text(text, path, &st, &errmsg);
	if (r < 0)
		return log_error_errno(r, "authority: %s", errmsg ? errmsg : path);
	r = -EINVAL;
	if (get_i64(st, "version", &version) < 0 || version != STATE_VERSION) {
		log_error("authority: %s has version %" PRId64 ", this agent reads version %d", path, version,
			  STATE_VERSION);
		goto out;
	}
	if (!json_object_object_get_ex(st, "trust_domain", &v) || !streq(json_object_get_string(v), au->td)) {
		log_error("authority: %s belongs to trust domain '%s', the agent is configured for '%s'; move the "
			  "directory away to start a new trust domain",
			  au->dir, v ? json_object_get_string(v) : "?", au->td);
		goto out;
	}
	if (get_i64(st, "sequence", &seq) < 0 || seq < 0 || !json_object_object_get_ex(st, "bundle_digest", &v) ||
	    hex_decode(json_object_get_string(v), au->bundle_digest, sizeof(au->bundle_digest)) != 32) {
		log_error("authority: %s has no valid sequence or bundle_digest", path);
		goto out;
	}
	au->sequence = (uint64_t)seq;
	r = load_list(au, AU_X509, st, &au->x509);
	if (r == 0)
		r = load_list(au, AU_JWT, st, &au->jwt);
	if (r == 0)
		log_info("authority: loaded %zu CA and %zu JWT key(s) from %s, bundle sequence %" PRIu64,
			 au->upstream ? 0 : au->x509.n, au->jwt.n, au->dir, au->sequence);
out:
	json_object_put(st);
	return r;
}

/* ---- garbage: key files no key refers to (crash between writes, keys
 * removed while a file could not be unlinked) ---- */

static bool referenced(struct kwid_authority *au, const char *name)
{
	char want[AU_ID_MAX + 16];
	const struct au_keys *sets[] = {&au->x509, &au->jwt};

	for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
		for (size_t i = 0; i < sets[s]->n; i++) {
			const struct au_key *k = sets[s]->v[i];
			if (au->upstream && k->kind == AU_X509)
				continue;
			snprintf(want, sizeof(want), "%s-%s.key", prefix(k->kind), k->id);
			if (streq(name, want))
				return true;
			snprintf(want, sizeof(want), "x509-%s.crt", k->id);
			if (k->kind == AU_X509 && streq(name, want))
				return true;
		}
	}
	return false;
}

void au_store_collect_garbage(struct kwid_authority *au)
{
	DIR *d = opendir(au->dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		bool ours = ((startswith(n, "x509-") || startswith(n, "jwt-")) &&
			     (endswith(n, ".key") || endswith(n, ".crt"))) ||
			    (n[0] == '.' && strstr(n, ".tmp."));
		if (!ours || referenced(au, n))
			continue;
		if (unlinkat(dirfd(d), n, 0) == 0)
			log_info("authority: removed stale %s/%s", au->dir, n);
	}
	closedir(d);
}
