/* authority_admin.c - the authority on the admin socket: "bundle.show"
 * (PEM roots or the full SPIFFE JWKS), "svid.mint" (an X.509-SVID or
 * JWT-SVID for any workload SPIFFE ID of the trust domain, for tests and
 * SREs; the admin socket is root-only) and "svid.show" (an entry's current
 * X.509-SVID from the cache, without key; asking counts as use, like a
 * Workload API fetch). */
#include "authority_internal.h"
#include "kwid/admin.h"
#include "kwid/agent.h"
#include "kwid/entries.h"
#include "kwid/jwt.h"
#include "kwid/log.h"
#include "kwid/spiffe_id.h"
#include "kwid/x509_build.h"

#include <openssl/pem.h>

#define MINT_TTL_MAX (366 * 86400)

/* ---- bundle.show ---- */

static int cmd_bundle_show(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_authority *au = userdata;
	const char *format = NULL;
	json_object *res;
	char *pem = NULL;

	if (admin_arg_string(req, args, "format", false, &format) < 0)
		return 0;
	if (!format)
		format = "pem";
	res = json_object_new_object();
	json_object_object_add(res, "format", json_object_new_string(format));
	json_object_object_add(res, "trust_domain", json_object_new_string(au->td));
	json_object_object_add(res, "sequence", json_object_new_int64((int64_t)au->sequence));
	if (streq(format, "pem")) {
		if (authority_x509_bundle_pem(au, &pem) < 0) {
			json_object_put(res);
			admin_reply_error(req, "internal", "cannot encode the X.509 bundle");
			return 0;
		}
		json_object_object_add(res, "pem", json_object_new_string(pem));
		free(pem);
	} else if (streq(format, "jwks")) {
		json_object *b = authority_bundle_jwks(au);
		if (!b) {
			json_object_put(res);
			admin_reply_error(req, "internal", "cannot encode the JWKS bundle");
			return 0;
		}
		json_object_object_add(res, "jwks", b);
	} else {
		json_object_put(res);
		admin_reply_error(req, "invalid", "format must be pem or jwks, not '%s'", format);
		return 0;
	}
	admin_reply_ok(req, res);
	return 0;
}

/* ---- svid.mint ---- */

/* A string or an array of strings into a NULL-terminated vector of
 * borrowed pointers. */
static int arg_strings(struct admin_request *req, json_object *args, const char *key, size_t max,
		       const char ***out, size_t *n)
{
	json_object *v;
	const char **vec;

	*out = NULL;
	*n = 0;
	if (!json_object_object_get_ex(args, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		vec = calloc(2, sizeof(*vec));
		if (!vec)
			return -ENOMEM;
		vec[0] = json_object_get_string(v);
		*out = vec;
		*n = 1;
		return 0;
	}
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > max) {
		admin_reply_error(req, "invalid", "'%s' must be a string or an array of at most %zu strings", key, max);
		return -EINVAL;
	}
	vec = calloc(json_object_array_length(v) + 1, sizeof(*vec));
	if (!vec)
		return -ENOMEM;
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		json_object *s = json_object_array_get_idx(v, i);
		if (!json_object_is_type(s, json_type_string)) {
			free(vec);
			admin_reply_error(req, "invalid", "'%s' must hold strings only", key);
			return -EINVAL;
		}
		vec[i] = json_object_get_string(s);
	}
	*out = vec;
	*n = json_object_array_length(v);
	return 0;
}

static char *chain_pem(const uint8_t *der, size_t len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	const unsigned char *p = der, *end = der + len;
	char *data, *out = NULL;
	long n;

	while (bio && p < end) {
		X509 *x = d2i_X509(NULL, &p, (long)(end - p));
		int ok = x && PEM_write_bio_X509(bio, x);
		X509_free(x);
		if (!ok) {
			BIO_free(bio);
			return NULL;
		}
	}
	if (bio && (n = BIO_get_mem_data(bio, &data)) > 0)
		out = strndup(data, (size_t)n);
	BIO_free(bio);
	return out;
}

static char *key_pem(const uint8_t *der, size_t len)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data, *out = NULL;
	long n;

	if (bio && PEM_write_bio(bio, "PRIVATE KEY", "", der, (long)len) > 0 && (n = BIO_get_mem_data(bio, &data)) > 0)
		out = strndup(data, (size_t)n);
	BIO_free(bio);
	return out;
}

static void reply_x509(struct admin_request *req, struct kwid_authority *au, const char *id, int64_t ttl,
		       const char **dns, size_t ndns)
{
	struct x509_svid_request r = {.spiffe_id = id, .dns = dns, .ndns = ndns, .ttl_s = (uint32_t)ttl};
	struct kwid_x509_svid *s = NULL;
	char *chain = NULL, *key = NULL, *bundle = NULL;
	json_object *res;
	int e;

	for (size_t i = 0; i < ndns; i++) {
		const char *why = NULL;
		if (entry_dns_name_validate(dns[i], &why) < 0)
			return admin_reply_error(req, "invalid", "'%s' is not a DNS name fit for a certificate: %s",
						 dns[i], why ? why : "?");
	}
	e = authority_mint_x509(au, &r, &s);
	if (e < 0)
		return admin_reply_error(req, e == -EINVAL ? "invalid" : "unavailable", "cannot mint an X.509-SVID: %s",
					 strerror(-e));
	chain = chain_pem(s->chain_der, s->chain_len);
	key = key_pem(s->key_pkcs8_der, s->key_len);
	if (!chain || !key || authority_x509_bundle_pem(au, &bundle) < 0) {
		admin_reply_error(req, "internal", "cannot encode the minted X.509-SVID");
		goto out;
	}
	res = json_object_new_object();
	json_object_object_add(res, "type", json_object_new_string("x509"));
	json_object_object_add(res, "spiffe_id", json_object_new_string(id));
	json_object_object_add(res, "not_before", json_object_new_int64(s->not_before));
	json_object_object_add(res, "not_after", json_object_new_int64(s->not_after));
	json_object_object_add(res, "svid_pem", json_object_new_string(chain));
	json_object_object_add(res, "key_pem", json_object_new_string(key));
	json_object_object_add(res, "bundle_pem", json_object_new_string(bundle));
	log_info("admin: minted an X.509-SVID for %s valid until %" PRId64, id, s->not_after);
	admin_reply_ok(req, res);
out:
	if (key)
		explicit_bzero(key, strlen(key));
	free(key);
	free(chain);
	free(bundle);
	x509_svid_unref(s);
}

static void reply_jwt(struct admin_request *req, struct kwid_authority *au, const char *id, int64_t ttl,
		      const char **aud, size_t naud)
{
	char *token = NULL;
	json_object *res;
	int e;

	if (naud == 0)
		return admin_reply_error(req, "invalid", "a JWT-SVID needs at least one audience");
	e = authority_mint_jwt(au, id, aud, naud, (uint32_t)ttl, &token);
	if (e < 0)
		return admin_reply_error(req, e == -EINVAL || e == -E2BIG ? "invalid" : "unavailable",
					 "cannot mint a JWT-SVID: %s (audiences: 1..%d of 1..%d bytes)", strerror(-e),
					 JWT_MAX_AUDIENCES, JWT_MAX_AUDIENCE_LEN);
	res = json_object_new_object();
	json_object_object_add(res, "type", json_object_new_string("jwt"));
	json_object_object_add(res, "spiffe_id", json_object_new_string(id));
	json_object_object_add(res, "token", json_object_new_string(token));
	log_info("admin: minted a JWT-SVID for %s", id);
	free(token);
	admin_reply_ok(req, res);
}

static int cmd_svid_mint(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_authority *au = userdata;
	const char *id = NULL, *type = NULL, *why = NULL;
	_cleanup_free_ const char **dns = NULL, **aud = NULL;
	size_t ndns = 0, naud = 0;
	int64_t ttl = 0;

	if (admin_arg_string(req, args, "spiffe_id", true, &id) < 0 ||
	    admin_arg_string(req, args, "type", false, &type) < 0 ||
	    admin_arg_int(req, args, "ttl", false, 1, MINT_TTL_MAX, &ttl) < 0 ||
	    arg_strings(req, args, "dns", CERT_MAX_DNS, &dns, &ndns) < 0 ||
	    arg_strings(req, args, "audience", JWT_MAX_AUDIENCES, &aud, &naud) < 0)
		return 0;
	if (spiffe_id_validate(id, &why) < 0) {
		admin_reply_error(req, "invalid", "'%s' is not a SPIFFE ID: %s", id, why ? why : "?");
		return 0;
	}
	if (!spiffe_id_is_workload_in(id, au->td)) {
		admin_reply_error(req, "invalid", "'%s' is not a workload SPIFFE ID of trust domain %s", id, au->td);
		return 0;
	}
	if (!type || streq(type, "x509"))
		reply_x509(req, au, id, ttl, dns, ndns);
	else if (streq(type, "jwt"))
		reply_jwt(req, au, id, ttl, aud, naud);
	else
		admin_reply_error(req, "invalid", "type must be x509 or jwt, not '%s'", type);
	return 0;
}

/* ---- svid.show: the SVID cache's current X.509-SVID of an entry ---- */

static int cmd_svid_show(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_authority *au = userdata;
	struct kwid_agent *a = au->agent;
	const struct kwid_entry *e;
	struct kwid_x509_svid *s = NULL;
	const char *id = NULL;
	json_object *res;
	char *chain;
	int r;

	if (admin_arg_string(req, args, "entry_id", true, &id) < 0)
		return 0;
	if (!a->entries || !a->svids) {
		admin_reply_error(req, "unavailable", "no registration entries or SVID cache in this agent");
		return 0;
	}
	e = entries_get(a->entries, id);
	if (!e) {
		admin_reply_error(req, "not_found", "no entry '%s'", id);
		return 0;
	}
	r = svid_cache_x509(a->svids, e, &s);
	if (r < 0) {
		admin_reply_error(req, "unavailable", "cannot get an X.509-SVID for entry %s: %s", id, strerror(-r));
		return 0;
	}
	chain = chain_pem(s->chain_der, s->chain_len);
	if (!chain) {
		x509_svid_unref(s);
		admin_reply_error(req, "internal", "cannot encode the X.509-SVID");
		return 0;
	}
	res = json_object_new_object();
	json_object_object_add(res, "entry_id", json_object_new_string(id));
	json_object_object_add(res, "spiffe_id", json_object_new_string(s->spiffe_id));
	json_object_object_add(res, "not_before", json_object_new_int64(s->not_before));
	json_object_object_add(res, "not_after", json_object_new_int64(s->not_after));
	json_object_object_add(res, "svid_pem", json_object_new_string(chain));
	free(chain);
	x509_svid_unref(s);
	admin_reply_ok(req, res);
	return 0;
}

int au_admin_register(struct kwid_authority *au)
{
	const struct admin_command cmds[] = {
		{"bundle.show", cmd_bundle_show, au},
		{"svid.mint", cmd_svid_mint, au},
		{"svid.show", cmd_svid_show, au},
	};

	return admin_register(au->agent->admin, cmds, ARRAY_SIZE(cmds));
}
