/* cmd_wlapi.c - kwidctl as a client of the SPIFFE Workload API: fetch
 * X.509-SVIDs (optionally written to files), JWT-SVIDs and bundles,
 * validate a JWT-SVID, and watch the X.509-SVID stream. These commands use
 * the public Workload API socket (--socket, else SPIFFE_ENDPOINT_SOCKET),
 * not the admin socket: they get exactly what the calling process gets. */
#include "kwid/grpc_client.h"
#include "kwid/grpc.h"
#include "kwidctl.h"

#include <getopt.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <time.h>

#include "workload.pb-c.h"

#define CALL_TIMEOUT_MS 30000

static int connect_api(struct kwidctl *ctx, struct grpc_client **out)
{
	int r = grpc_client_connect(ctx->api_socket, out);

	if (r < 0) {
		fprintf(stderr, "kwidctl: cannot connect to the Workload API at %s: %s\n", ctx->api_socket,
			strerror(-r));
		return KWIDCTL_UNREACHABLE;
	}
	return 0;
}

/* Map a call's outcome to an exit code, printing the error. */
static int call_result(const char *method, int r, int status, const char *message)
{
	if (r < 0) {
		fprintf(stderr, "kwidctl: %s: %s\n", method, strerror(-r));
		return KWIDCTL_UNREACHABLE;
	}
	if (status == GRPC_STATUS_OK || status == GRPC_STATUS_CANCELLED)
		return KWIDCTL_OK;
	fprintf(stderr, "kwidctl: %s: %s%s%s\n", method, grpc_status_name(status), message ? ": " : "",
		message ? message : "");
	return status == GRPC_STATUS_UNAVAILABLE ? KWIDCTL_UNREACHABLE : KWIDCTL_FAILED;
}

static int one_call(struct kwidctl *ctx, const char *method, const uint8_t *req, size_t len,
		    grpc_client_msg_fn fn, void *ud, int timeout_ms)
{
	struct grpc_client *c;
	_cleanup_free_ char *message = NULL;
	char path[128];
	int status = 0, r = connect_api(ctx, &c);

	if (r)
		return r;
	snprintf(path, sizeof(path), "/SpiffeWorkloadAPI/%s", method);
	r = grpc_client_call(c, path, req, len, fn, ud, timeout_ms, &status, &message);
	grpc_client_free(c);
	return call_result(method, r, status, message);
}

/* ---- certificates ---- */

/* PEM of concatenated DER certificates; *leaf (may be NULL) gets the first. */
static int der_to_pem(const uint8_t *der, size_t len, char **pem, size_t *pem_len, X509 **leaf)
{
	BIO *bio = BIO_new(BIO_s_mem());
	const unsigned char *p = der, *end = der + len;
	char *data;
	long n;

	if (!bio)
		return -ENOMEM;
	while (p < end) {
		X509 *x = d2i_X509(NULL, &p, end - p);
		if (!x) {
			BIO_free(bio);
			return -EBADMSG;
		}
		PEM_write_bio_X509(bio, x);
		if (leaf && !*leaf)
			*leaf = x;
		else
			X509_free(x);
	}
	n = BIO_get_mem_data(bio, &data);
	*pem = malloc((size_t)n + 1);
	if (*pem) {
		memcpy(*pem, data, (size_t)n);
		(*pem)[n] = '\0';
		*pem_len = (size_t)n;
	}
	BIO_free(bio);
	return *pem ? 0 : -ENOMEM;
}

static int key_to_pem(const uint8_t *der, size_t len, char **pem, size_t *pem_len)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	BIO *bio;
	char *data;
	long n;

	if (!p8)
		return -EBADMSG;
	bio = BIO_new(BIO_s_mem());
	if (!bio || !PEM_write_bio_PKCS8_PRIV_KEY_INFO(bio, p8)) {
		BIO_free(bio);
		PKCS8_PRIV_KEY_INFO_free(p8);
		return -ENOMEM;
	}
	PKCS8_PRIV_KEY_INFO_free(p8);
	n = BIO_get_mem_data(bio, &data);
	*pem = malloc((size_t)n + 1);
	if (*pem) {
		memcpy(*pem, data, (size_t)n);
		(*pem)[n] = '\0';
		*pem_len = (size_t)n;
	}
	OPENSSL_cleanse(data, (size_t)n);
	BIO_free(bio);
	return *pem ? 0 : -ENOMEM;
}

static void format_time(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

/* ---- fetch x509 / watch ---- */

struct x509_opts {
	const char *write_dir;
	bool json;
	long count; /* messages to print before stopping; 0: no limit */
	long seen;
	int error;
};

static int write_svid_files(const char *dir, size_t i, const X509SVID *s)
{
	_cleanup_free_ char *chain = NULL, *key = NULL, *bundle = NULL;
	size_t chain_len = 0, key_len = 0, bundle_len = 0;
	char name[64];
	int r;

	r = der_to_pem(s->x509_svid.data, s->x509_svid.len, &chain, &chain_len, NULL);
	if (r == 0)
		r = key_to_pem(s->x509_svid_key.data, s->x509_svid_key.len, &key, &key_len);
	if (r == 0)
		r = der_to_pem(s->bundle.data, s->bundle.len, &bundle, &bundle_len, NULL);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "svid.%zu.pem", i);
	r = write_file_atomic(dir, name, chain, chain_len, 0644);
	if (r == 0) {
		snprintf(name, sizeof(name), "svid.%zu.key", i);
		r = write_file_atomic(dir, name, key, key_len, 0600);
	}
	if (r == 0) {
		snprintf(name, sizeof(name), "bundle.%zu.pem", i);
		r = write_file_atomic(dir, name, bundle, bundle_len, 0644);
	}
	if (key)
		OPENSSL_cleanse(key, key_len);
	return r;
}

static json_object *svid_json(const X509SVID *s)
{
	json_object *o = json_object_new_object();
	_cleanup_free_ char *pem = NULL;
	size_t len;
	X509 *leaf = NULL;
	char nb[32] = "?", na[32] = "?";

	if (der_to_pem(s->x509_svid.data, s->x509_svid.len, &pem, &len, &leaf) == 0 && leaf) {
		format_time(X509_get0_notBefore(leaf), nb, sizeof(nb));
		format_time(X509_get0_notAfter(leaf), na, sizeof(na));
		X509_free(leaf);
	}
	json_object_object_add(o, "spiffe_id", json_object_new_string(s->spiffe_id));
	json_object_object_add(o, "hint", json_object_new_string(s->hint));
	json_object_object_add(o, "not_before", json_object_new_string(nb));
	json_object_object_add(o, "not_after", json_object_new_string(na));
	json_object_object_add(o, "chain_pem", json_object_new_string(pem ? pem : ""));
	return o;
}

static int on_x509(void *ud, const uint8_t *msg, size_t len)
{
	struct x509_opts *o = ud;
	X509SVIDResponse *resp = x509_svidresponse__unpack(NULL, len, msg);
	json_object *out, *arr;
	char now[32];
	time_t t = time(NULL);

	if (!resp) {
		fprintf(stderr, "kwidctl: malformed X509SVIDResponse\n");
		o->error = KWIDCTL_FAILED;
		return 1;
	}
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	out = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; i < resp->n_svids; i++) {
		json_object_array_add(arr, svid_json(resp->svids[i]));
		if (o->write_dir) {
			int r = write_svid_files(o->write_dir, i, resp->svids[i]);
			if (r < 0) {
				fprintf(stderr, "kwidctl: cannot write SVID %zu to %s: %s\n", i, o->write_dir,
					strerror(-r));
				o->error = KWIDCTL_FAILED;
			}
		}
	}
	json_object_object_add(out, "received", json_object_new_string(now));
	json_object_object_add(out, "svids", arr);
	if (o->json) {
		printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		printf("%s update: %zu SVID(s)\n", now, resp->n_svids);
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *s = json_object_array_get_idx(arr, i);
			printf("  [%zu] %s  valid %s .. %s%s%s\n", i, jstr(s, "spiffe_id"), jstr(s, "not_before"),
			       jstr(s, "not_after"), *jstr(s, "hint") ? "  hint " : "", jstr(s, "hint"));
		}
		if (o->write_dir)
			printf("  written to %s (svid.N.pem, svid.N.key, bundle.N.pem)\n", o->write_dir);
	}
	fflush(stdout);
	json_object_put(out);
	x509_svidresponse__free_unpacked(resp, NULL);
	o->seen++;
	return o->error || (o->count > 0 && o->seen >= o->count);
}

static int x509_stream(struct kwidctl *ctx, struct x509_opts *o, int timeout_ms)
{
	X509SVIDRequest req = X509_SVIDREQUEST__INIT;
	uint8_t buf[16];
	size_t len = x509_svidrequest__pack(&req, buf);
	int r = one_call(ctx, "FetchX509SVID", buf, len, on_x509, o, timeout_ms);

	return o->error ? o->error : r;
}

static int cmd_fetch_x509(struct kwidctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"write", required_argument, NULL, 'w'}, {0}};
	struct x509_opts o = {.json = ctx->json, .count = 1};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'w')
			return kwidctl_usage("fetch x509");
		o.write_dir = optarg;
	}
	if (optind != argc)
		return kwidctl_usage("fetch x509");
	if (o.write_dir) {
		int r = mkdir_p(o.write_dir, 0700);
		if (r < 0) {
			fprintf(stderr, "kwidctl: cannot create %s: %s\n", o.write_dir, strerror(-r));
			return KWIDCTL_FAILED;
		}
	}
	return x509_stream(ctx, &o, CALL_TIMEOUT_MS);
}

static int cmd_watch(struct kwidctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"count", required_argument, NULL, 'c'}, {0}};
	struct x509_opts o = {.json = ctx->json};
	uint64_t n;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'c' || parse_u64(optarg, 1, 1000000, &n) < 0)
			return kwidctl_usage("watch");
		o.count = (long)n;
	}
	if (optind != argc)
		return kwidctl_usage("watch");
	return x509_stream(ctx, &o, -1);
}

/* ---- fetch jwt ---- */

struct collect {
	uint8_t *msg;
	size_t len;
};

static int collect_one(void *ud, const uint8_t *msg, size_t len)
{
	struct collect *c = ud;

	free(c->msg);
	c->msg = malloc(len ? len : 1);
	if (!c->msg)
		return 1;
	memcpy(c->msg, msg, len);
	c->len = len;
	return 1; /* streams: the first message is enough */
}

static int cmd_fetch_jwt(struct kwidctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"audience", required_argument, NULL, 'a'},
		{"spiffe-id", required_argument, NULL, 's'},
		{0},
	};
	JWTSVIDRequest req = JWTSVIDREQUEST__INIT;
	char *aud[32];
	struct collect col = {0};
	JWTSVIDResponse *resp;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a' && req.n_audience < ARRAY_SIZE(aud))
			aud[req.n_audience++] = optarg;
		else if (c == 's')
			req.spiffe_id = optarg;
		else
			return kwidctl_usage("fetch jwt");
	}
	if (optind != argc || req.n_audience == 0)
		return kwidctl_usage("fetch jwt");
	req.audience = aud;
	len = jwtsvidrequest__get_packed_size(&req);
	buf = malloc(len ? len : 1);
	if (!buf)
		return KWIDCTL_FAILED;
	jwtsvidrequest__pack(&req, buf);
	r = one_call(ctx, "FetchJWTSVID", buf, len, collect_one, &col, CALL_TIMEOUT_MS);
	if (r)
		goto out;
	resp = jwtsvidresponse__unpack(NULL, col.len, col.msg);
	if (!resp) {
		fprintf(stderr, "kwidctl: malformed JWTSVIDResponse\n");
		r = KWIDCTL_FAILED;
		goto out;
	}
	if (ctx->json) {
		json_object *arr = json_object_new_array();
		for (size_t i = 0; i < resp->n_svids; i++) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "spiffe_id", json_object_new_string(resp->svids[i]->spiffe_id));
			json_object_object_add(o, "token", json_object_new_string(resp->svids[i]->svid));
			json_object_object_add(o, "hint", json_object_new_string(resp->svids[i]->hint));
			json_object_array_add(arr, o);
		}
		kwidctl_print_json(arr);
		json_object_put(arr);
	} else {
		for (size_t i = 0; i < resp->n_svids; i++)
			printf("%s\n%s\n", resp->svids[i]->spiffe_id, resp->svids[i]->svid);
	}
	jwtsvidresponse__free_unpacked(resp, NULL);
out:
	free(col.msg);
	return r;
}

/* ---- fetch bundle ---- */

static int print_x509_bundles(const struct collect *col, bool json)
{
	X509BundlesResponse *resp = x509_bundles_response__unpack(NULL, col->len, col->msg);
	json_object *out = json_object_new_object();

	if (!resp) {
		json_object_put(out);
		fprintf(stderr, "kwidctl: malformed X509BundlesResponse\n");
		return KWIDCTL_FAILED;
	}
	for (size_t i = 0; i < resp->n_bundles; i++) {
		_cleanup_free_ char *pem = NULL;
		size_t len;
		if (der_to_pem(resp->bundles[i]->value.data, resp->bundles[i]->value.len, &pem, &len, NULL) < 0)
			continue;
		if (json)
			json_object_object_add(out, resp->bundles[i]->key, json_object_new_string(pem));
		else
			printf("# %s\n%s", resp->bundles[i]->key, pem);
	}
	if (json)
		kwidctl_print_json(out);
	json_object_put(out);
	x509_bundles_response__free_unpacked(resp, NULL);
	return KWIDCTL_OK;
}

static int print_jwt_bundles(const struct collect *col)
{
	JWTBundlesResponse *resp = jwtbundles_response__unpack(NULL, col->len, col->msg);
	json_object *out = json_object_new_object();

	if (!resp) {
		json_object_put(out);
		fprintf(stderr, "kwidctl: malformed JWTBundlesResponse\n");
		return KWIDCTL_FAILED;
	}
	for (size_t i = 0; i < resp->n_bundles; i++) {
		_cleanup_free_ char *text = strndup((const char *)resp->bundles[i]->value.data,
						    resp->bundles[i]->value.len);
		json_object *jwks = text ? json_tokener_parse(text) : NULL;
		json_object_object_add(out, resp->bundles[i]->key, jwks ? jwks : json_object_new_string(text ? text : ""));
	}
	kwidctl_print_json(out);
	json_object_put(out);
	jwtbundles_response__free_unpacked(resp, NULL);
	return KWIDCTL_OK;
}

static int cmd_fetch_bundle(struct kwidctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"jwt", no_argument, NULL, 'j'}, {0}};
	struct collect col = {0};
	bool jwt = false;
	uint8_t empty[1];
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return kwidctl_usage("fetch bundle");
		jwt = true;
	}
	if (optind != argc)
		return kwidctl_usage("fetch bundle");
	r = one_call(ctx, jwt ? "FetchJWTBundles" : "FetchX509Bundles", empty, 0, collect_one, &col,
		     CALL_TIMEOUT_MS);
	if (r == 0 && !col.msg) {
		fprintf(stderr, "kwidctl: the stream ended without a bundle\n");
		r = KWIDCTL_FAILED;
	}
	if (r == 0)
		r = jwt ? print_jwt_bundles(&col) : print_x509_bundles(&col, ctx->json);
	free(col.msg);
	return r;
}

/* ---- validate jwt ---- */

static json_object *value_to_json(const Google__Protobuf__Value *v);

static json_object *struct_to_json(const Google__Protobuf__Struct *s)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; s && i < s->n_fields; i++)
		json_object_object_add(o, s->fields[i]->key, value_to_json(s->fields[i]->value));
	return o;
}

static json_object *value_to_json(const Google__Protobuf__Value *v)
{
	json_object *a;

	if (!v)
		return NULL;
	switch (v->kind_case) {
	case GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE:
		if (v->number_value == (double)(int64_t)v->number_value)
			return json_object_new_int64((int64_t)v->number_value);
		return json_object_new_double(v->number_value);
	case GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE:
		return json_object_new_string(v->string_value);
	case GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE:
		return json_object_new_boolean(v->bool_value);
	case GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE:
		return struct_to_json(v->struct_value);
	case GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE:
		a = json_object_new_array();
		for (size_t i = 0; v->list_value && i < v->list_value->n_values; i++)
			json_object_array_add(a, value_to_json(v->list_value->values[i]));
		return a;
	default:
		return NULL;
	}
}

static int cmd_validate_jwt(struct kwidctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"audience", required_argument, NULL, 'a'},
		{"token", required_argument, NULL, 't'},
		{0},
	};
	ValidateJWTSVIDRequest req = VALIDATE_JWTSVIDREQUEST__INIT;
	ValidateJWTSVIDResponse *resp;
	struct collect col = {0};
	_cleanup_free_ uint8_t *buf = NULL;
	json_object *out;
	size_t len;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a')
			req.audience = optarg;
		else if (c == 't')
			req.svid = optarg;
		else
			return kwidctl_usage("validate jwt");
	}
	if (optind != argc || !*req.audience || !*req.svid)
		return kwidctl_usage("validate jwt");
	len = validate_jwtsvidrequest__get_packed_size(&req);
	buf = malloc(len);
	if (!buf)
		return KWIDCTL_FAILED;
	validate_jwtsvidrequest__pack(&req, buf);
	r = one_call(ctx, "ValidateJWTSVID", buf, len, collect_one, &col, CALL_TIMEOUT_MS);
	if (r) {
		free(col.msg);
		return r;
	}
	resp = validate_jwtsvidresponse__unpack(NULL, col.len, col.msg);
	free(col.msg);
	if (!resp) {
		fprintf(stderr, "kwidctl: malformed ValidateJWTSVIDResponse\n");
		return KWIDCTL_FAILED;
	}
	out = json_object_new_object();
	json_object_object_add(out, "spiffe_id", json_object_new_string(resp->spiffe_id));
	json_object_object_add(out, "claims", struct_to_json(resp->claims));
	if (ctx->json)
		kwidctl_print_json(out);
	else
		printf("valid: %s\nclaims: %s\n", resp->spiffe_id,
		       json_object_to_json_string_ext(jget(out, "claims"), JSON_C_TO_STRING_PLAIN |
									      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	validate_jwtsvidresponse__free_unpacked(resp, NULL);
	return KWIDCTL_OK;
}

const struct kwidctl_command kwidctl_wlapi_commands[] = {
	{"fetch x509", cmd_fetch_x509, "[--json] [--write DIR]",
	 "X.509-SVIDs of this process from the Workload API (DIR: svid.N.pem, svid.N.key, bundle.N.pem)"},
	{"fetch jwt", cmd_fetch_jwt, "[--json] --audience A [--audience B...] [--spiffe-id ID]",
	 "JWT-SVIDs of this process for the audience(s)"},
	{"fetch bundle", cmd_fetch_bundle, "[--json] [--jwt]", "X.509 bundles as PEM, or JWT bundles (JWKS)"},
	{"validate jwt", cmd_validate_jwt, "[--json] --audience A --token T",
	 "validate a JWT-SVID through the Workload API"},
	{"watch", cmd_watch, "[--json] [--count N]", "print every X.509-SVID update the Workload API pushes"},
	{NULL, NULL, NULL, NULL},
};
