/* wlapi_serve.c - what the Workload API core answers: every RPC attests
 * the exec bound to its connection (attest_start, which ends by confirming
 * that the same exec is still behind the caller's pidfd), matches entries
 * and encodes the response with protobuf-c. Streams are recomputed on
 * every change that concerns their caller and pushed only when the
 * encoded message differs. A connection whose bound exec exec'd another
 * binary or exited is retired: its streams end and it serves nothing more
 * (docs/WORKLOAD_API.md explains why a connection never follows an exec). */
#include "kwid/attest.h"

#include <fcntl.h>
#include "kwid/entries.h"
#include "kwid/log.h"
#include "kwid/measure.h"
#include "kwid/spiffe_id.h"
#include "kwid/svid.h"
#include "kwid/wlapi_core.h"

#include "workload.pb-c.h"

struct job;

struct wlapi_serve_conn {
	struct kwid_attestation *att; /* the newest attestation of the bound exec */
	bool att_measure_pending;     /* the binary's hash was not done when it ran */
	struct job *refresh;	      /* re-attestation for the streams, running */
	bool refresh_again;	      /* another change arrived meanwhile */
};

struct wlapi_serve_stream {
	struct job *job; /* the RPC's own attestation, running */
};

/* One attestation in flight, with its own duplicate of the caller's pidfd.
 * When its requester goes away while a change notification runs, the job
 * is orphaned instead of cancelled: notifications can come from inside
 * the attestors' final confirmation (tracker_sync), where cancelling would
 * free the operation they are running. An orphan's result is dropped. */
struct job {
	struct serve *sv;
	struct kwid_attest_op *op;
	int pidfd;
	void (*done)(void *owner, int err, struct kwid_attestation *att); /* NULL: orphaned */
	void *owner;
	struct job *next_orphan;
};

struct serve {
	struct kwid_wlapi *w;
	char td_id[sizeof("spiffe://") + SPIFFE_TD_MAX]; /* the bundle map key */
	unsigned notifying;				 /* inside on_change() */
	struct job *orphans;
	uint64_t attest_failures;
	uint64_t retired_exec, retired_exit;
};

static struct serve *serve_of(struct kwid_wlapi *w)
{
	return w->serve;
}

/* ---- encoding responses ---- */

static int pack(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n ? n : 1);

	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(m, buf);
	*out = buf;
	*len = n;
	return 0;
}

/* X509SVIDResponse for the matched entries. On failure *why says what
 * could not be minted. */
static int encode_x509_svids(struct kwid_wlapi *w, const struct kwid_entry *const *ents, size_t n, uint8_t **out,
			     size_t *len, char *why, size_t whylen)
{
	struct kwid_agent *a = w->agent;
	X509SVIDResponse resp = X509_SVIDRESPONSE__INIT;
	_cleanup_free_ X509SVID *svids = calloc_array(n, sizeof(*svids));
	_cleanup_free_ X509SVID **ptrs = calloc_array(n, sizeof(*ptrs));
	_cleanup_free_ struct kwid_x509_svid **held = calloc_array(n, sizeof(*held));
	_cleanup_free_ uint8_t *bundle = NULL;
	size_t bundle_len = 0, nheld = 0;
	int r;

	if (!svids || !ptrs || !held)
		return -ENOMEM;
	r = authority_x509_bundle_der(a->authority, &bundle, &bundle_len);
	if (r < 0) {
		snprintf(why, whylen, "no X.509 bundle: %s", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct kwid_x509_svid *s;
		bool dup_hint = false;

		r = svid_cache_x509(a->svids, ents[i], &s);
		if (r < 0) {
			snprintf(why, whylen, "cannot issue an X.509-SVID for %s: %s", ents[i]->spiffe_id, strerror(-r));
			goto out;
		}
		held[nheld++] = s;
		x509_svid__init(&svids[i]);
		svids[i].spiffe_id = s->spiffe_id;
		svids[i].x509_svid = (ProtobufCBinaryData){s->chain_len, s->chain_der};
		svids[i].x509_svid_key = (ProtobufCBinaryData){s->key_len, s->key_pkcs8_der};
		svids[i].bundle = (ProtobufCBinaryData){bundle_len, bundle};
		/* Non-empty hints are unique in a response: the first keeps it. */
		for (size_t j = 0; s->hint && j < i; j++)
			dup_hint |= streq(svids[j].hint, s->hint);
		svids[i].hint = s->hint && !dup_hint ? s->hint : (char *)protobuf_c_empty_string;
		ptrs[i] = &svids[i];
	}
	resp.n_svids = n;
	resp.svids = ptrs;
	r = pack(&resp.base, out, len);
out:
	for (size_t i = 0; i < nheld; i++)
		x509_svid_unref(held[i]);
	return r;
}

static int encode_x509_bundles(struct kwid_wlapi *w, uint8_t **out, size_t *len)
{
	X509BundlesResponse resp = X509_BUNDLES_RESPONSE__INIT;
	X509BundlesResponse__BundlesEntry e = X509_BUNDLES_RESPONSE__BUNDLES_ENTRY__INIT, *ep = &e;
	_cleanup_free_ uint8_t *der = NULL;
	size_t dlen;
	int r = authority_x509_bundle_der(w->agent->authority, &der, &dlen);

	if (r < 0)
		return r;
	e.key = serve_of(w)->td_id;
	e.value = (ProtobufCBinaryData){dlen, der};
	resp.n_bundles = 1;
	resp.bundles = &ep;
	return pack(&resp.base, out, len);
}

static int encode_jwt_bundles(struct kwid_wlapi *w, uint8_t **out, size_t *len)
{
	JWTBundlesResponse resp = JWTBUNDLES_RESPONSE__INIT;
	JWTBundlesResponse__BundlesEntry e = JWTBUNDLES_RESPONSE__BUNDLES_ENTRY__INIT, *ep = &e;
	_cleanup_free_ char *jwks = NULL;
	size_t jlen;
	int r = authority_jwt_bundle_jwks(w->agent->authority, &jwks, &jlen);

	if (r < 0)
		return r;
	e.key = serve_of(w)->td_id;
	e.value = (ProtobufCBinaryData){jlen, (uint8_t *)jwks};
	resp.n_bundles = 1;
	resp.bundles = &ep;
	return pack(&resp.base, out, len);
}

/* One JWT-SVID per identity (or for the one asked for), in match order. */
static void answer_jwt_svids(struct wlapi_stream *s, const struct kwid_entry *const *ents, size_t n)
{
	struct kwid_wlapi *w = s->conn->w;
	JWTSVIDResponse resp = JWTSVIDRESPONSE__INIT;
	_cleanup_free_ JWTSVID *svids = calloc_array(n, sizeof(*svids));
	_cleanup_free_ JWTSVID **ptrs = calloc_array(n, sizeof(*ptrs));
	_cleanup_free_ uint8_t *msg = NULL;
	size_t nsv = 0, len;
	int r = 0;

	if (!svids || !ptrs) {
		wlapi_stream_end(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		bool seen = false;

		if (s->rpc.spiffe_id && !streq(s->rpc.spiffe_id, ents[i]->spiffe_id))
			continue;
		for (size_t j = 0; j < nsv; j++)
			seen |= streq(svids[j].spiffe_id, ents[i]->spiffe_id);
		if (seen)
			continue;
		jwtsvid__init(&svids[nsv]);
		svids[nsv].spiffe_id = ents[i]->spiffe_id;
		svids[nsv].hint = ents[i]->hint ? ents[i]->hint : (char *)protobuf_c_empty_string;
		r = authority_mint_jwt(w->agent->authority, ents[i]->spiffe_id, (const char *const *)s->rpc.aud,
				       s->rpc.naud, ents[i]->jwt_svid_ttl, &svids[nsv].svid);
		if (r < 0) {
			wlapi_stream_end(s, GRPC_STATUS_UNAVAILABLE, "cannot issue a JWT-SVID for %s: %s",
					 ents[i]->spiffe_id, strerror(-r));
			break;
		}
		ptrs[nsv] = &svids[nsv];
		nsv++;
	}
	if (r == 0 && nsv == 0) {
		wlapi_stream_end(s, GRPC_STATUS_PERMISSION_DENIED, "no identity %s issued to the caller",
				 s->rpc.spiffe_id ? s->rpc.spiffe_id : "");
	} else if (r == 0) {
		resp.n_svids = nsv;
		resp.svids = ptrs;
		r = pack(&resp.base, &msg, &len);
		if (r < 0)
			wlapi_stream_end(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		else if (wlapi_stream_reply(s, msg, len) == 0)
			wlapi_stream_end(s, GRPC_STATUS_OK, NULL);
	}
	for (size_t i = 0; i < nsv; i++)
		free(svids[i].svid);
}

/* The first attestor that failed or answered without evidence still to
 * come (its evidence is missing), or NULL. */
static const struct kwid_attest_group *failed_group(const struct kwid_attestation *att)
{
	for (size_t i = 0; i < att->ngroups; i++)
		if (att->groups[i].error || att->groups[i].incomplete)
			return &att->groups[i];
	return NULL;
}

/* The current answer for a stream (or the unary FetchJWTSVID) from an
 * attestation: pushed when it differs from the last one; the stream ends
 * with PERMISSION_DENIED when the caller holds no identity. */
static void respond(struct wlapi_stream *s, const struct kwid_attestation *att)
{
	struct kwid_wlapi *w = s->conn->w;
	_cleanup_free_ const struct kwid_entry **ents = NULL;
	_cleanup_free_ uint8_t *msg = NULL;
	char why[512] = "";
	size_t n = 0, len = 0;
	int r;

	r = entries_match(w->agent->entries, &att->all, &ents, &n);
	if (r < 0) {
		wlapi_stream_end(s, GRPC_STATUS_UNAVAILABLE, "cannot match registration entries: %s", strerror(-r));
		return;
	}
	if (n == 0 && !(w->set.allow_unauthenticated_verifiers && s->rpc.method != WLAPI_FETCH_X509_SVID &&
			s->rpc.method != WLAPI_FETCH_JWT_SVID)) {
		const struct kwid_attest_group *g = failed_group(att);
		/* Evidence missing: the answer may change when it comes back, so
		 * say UNAVAILABLE (retry) rather than a final-looking no. */
		if (g && g->error)
			wlapi_stream_end(s, GRPC_STATUS_UNAVAILABLE, "no identity issued; the %s attestor failed: %s",
					 g->attestor, g->message ? g->message : strerror(-g->error));
		else if (g)
			wlapi_stream_end(s, GRPC_STATUS_UNAVAILABLE, "no identity issued yet; the %s attestor lacks "
					 "evidence: %s", g->attestor, g->message ? g->message : "incomplete");
		else
			wlapi_stream_end(s, GRPC_STATUS_PERMISSION_DENIED, "no identity issued");
		return;
	}
	switch (s->rpc.method) {
	case WLAPI_FETCH_JWT_SVID:
		answer_jwt_svids(s, (const struct kwid_entry *const *)ents, n);
		return;
	case WLAPI_FETCH_X509_SVID:
		r = encode_x509_svids(w, (const struct kwid_entry *const *)ents, n, &msg, &len, why, sizeof(why));
		break;
	case WLAPI_FETCH_X509_BUNDLES:
		r = encode_x509_bundles(w, &msg, &len);
		break;
	case WLAPI_FETCH_JWT_BUNDLES:
		r = encode_jwt_bundles(w, &msg, &len);
		break;
	}
	if (r < 0) {
		wlapi_stream_end(s, GRPC_STATUS_UNAVAILABLE, "%s", why[0] ? why : strerror(-r));
		return;
	}
	wlapi_stream_reply(s, msg, len);
}

/* ---- attestation jobs ---- */

static void job_free(struct job *j)
{
	if (j->pidfd >= 0)
		close(j->pidfd);
	free(j);
}

static void orphan_remove(struct serve *sv, struct job *j)
{
	for (struct job **pp = &sv->orphans; *pp; pp = &(*pp)->next_orphan) {
		if (*pp == j) {
			*pp = j->next_orphan;
			return;
		}
	}
}

static void on_job_done(void *userdata, int err, struct kwid_attestation *att)
{
	struct job *j = userdata;

	j->op = NULL;
	if (!j->done) {
		orphan_remove(j->sv, j);
		attestation_free(att);
	} else {
		j->done(j->owner, err, att);
	}
	job_free(j);
}

/* Attest the exec bound to c; done(owner, ...) runs later on the loop. */
static int job_start(struct wlapi_conn *c, void (*done)(void *, int, struct kwid_attestation *), void *owner,
		     struct job **out)
{
	struct job *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return -ENOMEM;
	j->sv = serve_of(c->w);
	j->done = done;
	j->owner = owner;
	j->pidfd = fcntl(c->pidfd, F_DUPFD_CLOEXEC, 3);
	if (j->pidfd < 0) {
		r = -errno;
		free(j);
		return r;
	}
	r = attest_start(c->w->agent->attestors, &c->exec, j->pidfd, on_job_done, j, &j->op);
	if (r < 0) {
		job_free(j);
		return r;
	}
	*out = j;
	return 0;
}

/* The requester is gone: cancel, or orphan while a notification runs. */
static void job_drop(struct job *j)
{
	if (!j)
		return;
	if (j->sv->notifying) {
		j->done = NULL;
		j->owner = NULL;
		j->next_orphan = j->sv->orphans;
		j->sv->orphans = j;
		return;
	}
	attest_cancel(j->op);
	job_free(j);
}

/* ---- attestation ---- */

static bool measure_pending(struct kwid_wlapi *w, const struct kwid_exec_id *id)
{
	const struct kwid_proc *p = proc_table_lookup_exec(w->agent->procs, id);

	return p && p->image && p->image->measurement && p->image->measurement->state == KWID_MEASURE_PENDING;
}

static void conn_keep_attestation(struct wlapi_conn *c, struct kwid_attestation *att)
{
	attestation_free(c->serve->att);
	c->serve->att = att;
	c->serve->att_measure_pending = measure_pending(c->w, &c->exec);
}

/* The exec bound to the connection is no longer what runs behind it. */
static void conn_lost_exec(struct wlapi_conn *c, int err)
{
	struct serve *sv = serve_of(c->w);

	if (err == -ESTALE) {
		sv->retired_exec++;
		wlapi_conn_retire(c, GRPC_STATUS_PERMISSION_DENIED,
				  "the process that opened this connection exec'd another binary; identities are "
				  "not carried across exec: open a new connection");
	} else {
		sv->retired_exit++;
		wlapi_conn_retire(c, GRPC_STATUS_UNAVAILABLE, "the process that opened this connection has exited");
	}
}

/* attest_start() found no such exec in the table: ask the tracker whether
 * the process exec'd or exited. */
static void exec_gone(struct wlapi_conn *c)
{
	int r = tracker_confirm_exec(c->w->agent->tracker, c->pidfd, &c->exec);

	if (r == -ESTALE || r == -ESRCH)
		conn_lost_exec(c, r);
}

static const char *attest_error_text(int err)
{
	switch (err) {
	case -ESRCH:
		return "the calling process is gone";
	case -ESTALE:
		return "the calling process exec'd another binary during attestation";
	default:
		return NULL;
	}
}

static void on_rpc_attested(void *userdata, int err, struct kwid_attestation *att)
{
	struct wlapi_stream *s = userdata;
	struct wlapi_conn *c = s->conn;
	const char *text = attest_error_text(err);

	s->serve->job = NULL;
	if (err < 0) {
		serve_of(c->w)->attest_failures++;
		/* This RPC could not be bound to a confirmed exec: UNAVAILABLE,
		 * never someone else's SVID. */
		if (text)
			wlapi_stream_end(s, GRPC_STATUS_UNAVAILABLE, "%s", text);
		else
			wlapi_stream_end(s, GRPC_STATUS_UNAVAILABLE, "attestation failed: %s", strerror(-err));
		if (err == -ESTALE || err == -ESRCH)
			conn_lost_exec(c, err);
		return;
	}
	conn_keep_attestation(c, att);
	respond(s, c->serve->att);
}

static const char *bind_error_text(int err)
{
	switch (err) {
	case -ESRCH:
		return "the calling process is gone";
	case -ENOENT:
		return "the calling process is not in the process table yet; retry";
	case -ESTALE:
		return "the calling process exec'd another binary after connecting; open a new connection";
	default:
		return NULL;
	}
}

static bool parts_ready(struct kwid_agent *a)
{
	return a->tracker && a->procs && a->attestors && a->entries && a->authority && a->svids;
}

void wlapi_serve_rpc(struct wlapi_stream *s)
{
	struct wlapi_conn *c = s->conn;
	struct kwid_agent *a = c->w->agent;
	const char *text;
	int r;

	if (!parts_ready(a)) {
		wlapi_stream_end(s, GRPC_STATUS_UNAVAILABLE, "the agent runs without workload attestation");
		return;
	}
	if (c->bind_error) {
		text = bind_error_text(c->bind_error);
		if (text)
			wlapi_stream_end(s, c->bind_error == -ESTALE ? GRPC_STATUS_PERMISSION_DENIED : GRPC_STATUS_UNAVAILABLE,
					 "%s", text);
		else
			wlapi_stream_end(s, GRPC_STATUS_UNAVAILABLE, "cannot identify the calling process: %s",
					 strerror(-c->bind_error));
		return;
	}
	s->serve = calloc(1, sizeof(*s->serve));
	if (!s->serve) {
		wlapi_stream_end(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	r = job_start(c, on_rpc_attested, s, &s->serve->job);
	if (r < 0) {
		serve_of(c->w)->attest_failures++;
		wlapi_stream_end(s, GRPC_STATUS_UNAVAILABLE, "%s",
				 r == -ESRCH ? "the calling process is gone" : strerror(-r));
		if (r == -ESRCH)
			exec_gone(c);
	}
}

void wlapi_serve_stream_free(struct wlapi_stream *s)
{
	if (!s->serve)
		return;
	job_drop(s->serve->job);
	free(s->serve);
	s->serve = NULL;
}

/* ---- connections ---- */

void wlapi_serve_conn_open(struct wlapi_conn *c)
{
	struct kwid_agent *a = c->w->agent;
	const struct kwid_proc *p;
	int r;

	c->serve = calloc(1, sizeof(*c->serve));
	if (!c->serve) {
		c->bind_error = -ENOMEM;
		return;
	}
	if (!parts_ready(a))
		return; /* every RPC says why */
	r = tracker_identify_peer(a->tracker, c->pidfd, c->peer.pid, &c->exec);
	if (r < 0) {
		c->bind_error = r;
		return;
	}
	/* The connection belongs to the exec that connected. An exec the
	 * kernel reports after the front accepted the connection cannot be
	 * that one (see docs/WORKLOAD_API.md for the window left before
	 * accept). */
	p = proc_table_lookup_exec(a->procs, &c->exec);
	if (p && p->exec_time_ns && c->accepted_boot_ns && p->exec_time_ns > c->accepted_boot_ns)
		c->bind_error = -ESTALE;
}

void wlapi_serve_conn_close(struct wlapi_conn *c)
{
	if (!c->serve)
		return;
	job_drop(c->serve->refresh);
	attestation_free(c->serve->att);
	free(c->serve);
	c->serve = NULL;
}

/* ---- stream updates ---- */

/* Streams whose first answer is out (their own attestation is done). */
static bool has_live_streams(const struct wlapi_conn *c)
{
	for (const struct wlapi_stream *s = c->streams; s; s = s->next)
		if (s->serve && !s->serve->job)
			return true;
	return false;
}

static void recompute_streams(struct wlapi_conn *c)
{
	struct wlapi_stream *s = c->streams, *next;

	if (!c->serve || !c->serve->att)
		return;
	for (; s; s = next) {
		next = s->next; /* respond() may end (free) s */
		if (s->serve && !s->serve->job && wlapi_method_is_stream(s->rpc.method))
			respond(s, c->serve->att);
	}
}

static void refresh_conn(struct wlapi_conn *c);

static void on_refresh_attested(void *userdata, int err, struct kwid_attestation *att)
{
	struct wlapi_conn *c = userdata;
	bool again = c->serve->refresh_again;

	c->serve->refresh = NULL;
	c->serve->refresh_again = false;
	if (err == -ESTALE || err == -ESRCH) {
		conn_lost_exec(c, err);
		return;
	}
	if (err < 0) {
		/* Keep serving what we had; the next change tries again. */
		serve_of(c->w)->attest_failures++;
		log_warn_errno(err, "wlapi: re-attesting pid %d for its streams failed", (int)c->exec.tgid);
		return;
	}
	conn_keep_attestation(c, att);
	recompute_streams(c);
	if (again)
		refresh_conn(c);
}

/* Re-attest the bound exec (its evidence changed) and recompute its
 * streams. One attestation per connection at a time. */
static void refresh_conn(struct wlapi_conn *c)
{
	int r;

	if (!c->serve || c->retired_status || !has_live_streams(c))
		return;
	if (c->serve->refresh) {
		c->serve->refresh_again = true;
		return;
	}
	r = job_start(c, on_refresh_attested, c, &c->serve->refresh);
	if (r == -ESRCH)
		exec_gone(c);
}

static bool same_process(const struct kwid_exec_id *a, const struct kwid_exec_id *b)
{
	return a->tgid == b->tgid && a->start_ns == b->start_ns;
}

/* Calls fn for every connection; fn may retire (not free) it. */
static void foreach_conn(struct kwid_wlapi *w, void (*fn)(struct wlapi_conn *c, const void *arg), const void *arg)
{
	for (struct idmap_node *n = w->conns.head; n; n = n->next)
		fn(container_of(n, struct wlapi_conn, node), arg);
}

static void on_proc_exec(struct wlapi_conn *c, const void *arg)
{
	const struct kwid_exec_id *id = arg;

	if (!c->bind_error && !c->retired_status && same_process(&c->exec, id) && !exec_id_equal(&c->exec, id))
		conn_lost_exec(c, -ESTALE);
}

static void on_proc_exit(struct wlapi_conn *c, const void *arg)
{
	if (!c->bind_error && !c->retired_status && exec_id_equal(&c->exec, arg))
		conn_lost_exec(c, -ESRCH);
}

static void on_proc_cgroup(struct wlapi_conn *c, const void *arg)
{
	if (!c->bind_error && exec_id_equal(&c->exec, arg))
		refresh_conn(c);
}

static void on_measured(struct wlapi_conn *c, const void *arg)
{
	if (!c->bind_error && c->serve && c->serve->att_measure_pending)
		refresh_conn(c);
}

static void on_evidence(struct wlapi_conn *c, const void *arg)
{
	if (!c->bind_error)
		refresh_conn(c);
}

/* Only connections whose caller is in one of the pods (the attestation
 * holds its k8s:pod-uid selector). */
static void on_pod_facts(struct wlapi_conn *c, const void *arg)
{
	const struct kwid_selector_set *pods = arg;
	bool mine = !pods;

	if (c->bind_error || !c->serve || !c->serve->att)
		return;
	for (size_t i = 0; !mine && i < pods->n; i++)
		mine = selset_contains(&c->serve->att->all, pods->v[i]);
	if (mine)
		refresh_conn(c);
}

static void on_entries_or_bundle(struct wlapi_conn *c, const void *arg)
{
	if (!c->bind_error && !c->retired_status)
		recompute_streams(c);
}

/* Only connections whose entries include the rotated one. */
static void on_rotated(struct wlapi_conn *c, const void *arg)
{
	const char *entry_id = arg;
	_cleanup_free_ const struct kwid_entry **ents = NULL;
	size_t n = 0;

	if (c->bind_error || c->retired_status || !c->serve || !c->serve->att)
		return;
	if (entry_id && entries_match(c->w->agent->entries, &c->serve->att->all, &ents, &n) == 0) {
		bool mine = false;
		for (size_t i = 0; i < n; i++)
			mine |= streq(ents[i]->id, entry_id);
		if (!mine)
			return;
	}
	recompute_streams(c);
}

static void send_jwt_keys(struct kwid_wlapi *w)
{
	struct serve *sv = serve_of(w);
	_cleanup_free_ char *jwks = NULL;
	json_object *doc, *keys;
	const char *text;
	size_t len;
	int r;

	if (!w->agent->authority || !w->front_ready)
		return;
	r = authority_jwt_bundle_jwks(w->agent->authority, &jwks, &len);
	if (r < 0) {
		log_warn_errno(r, "wlapi: no JWT bundle for the front");
		return;
	}
	keys = json_tokener_parse(jwks);
	if (!keys)
		return;
	doc = json_object_new_object();
	json_object_object_add(doc, sv->td_id, keys);
	text = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN, &len);
	wlapi_front_send(w, WLAPI_C_JWT_KEYS, text, len);
	json_object_put(doc);
}

static void on_change(void *userdata, enum kwid_change kind, const void *arg)
{
	struct kwid_wlapi *w = userdata;

	serve_of(w)->notifying++;
	switch (kind) {
	case KWID_CHANGE_PROC_EXEC:
		foreach_conn(w, on_proc_exec, arg);
		break;
	case KWID_CHANGE_PROC_EXIT:
		foreach_conn(w, on_proc_exit, arg);
		break;
	case KWID_CHANGE_PROC_CGROUP:
		foreach_conn(w, on_proc_cgroup, arg);
		break;
	case KWID_CHANGE_MEASURED:
		foreach_conn(w, on_measured, arg);
		break;
	case KWID_CHANGE_NODE_EVIDENCE:
	case KWID_CHANGE_RESYNC:
		foreach_conn(w, on_evidence, arg);
		break;
	case KWID_CHANGE_ENTRIES:
		foreach_conn(w, on_entries_or_bundle, arg);
		break;
	case KWID_CHANGE_BUNDLE:
		send_jwt_keys(w);
		foreach_conn(w, on_entries_or_bundle, arg);
		break;
	case KWID_CHANGE_SVID_ROTATED:
		foreach_conn(w, on_rotated, arg);
		break;
	case KWID_CHANGE_POD_FACTS:
		foreach_conn(w, on_pod_facts, arg);
		break;
	}
	serve_of(w)->notifying--;
}

#define CHANGES                                                                                          \
	(KWID_CHANGE_PROC_EXEC | KWID_CHANGE_PROC_EXIT | KWID_CHANGE_PROC_CGROUP | KWID_CHANGE_MEASURED | \
	 KWID_CHANGE_ENTRIES | KWID_CHANGE_BUNDLE | KWID_CHANGE_SVID_ROTATED | KWID_CHANGE_NODE_EVIDENCE |  \
	 KWID_CHANGE_RESYNC | KWID_CHANGE_POD_FACTS)

void wlapi_serve_front_ready(struct kwid_wlapi *w)
{
	send_jwt_keys(w);
}

void wlapi_serve_status(struct kwid_wlapi *w, json_object *out)
{
	struct serve *sv = serve_of(w);

	json_object_object_add(out, "attestation_failures", json_object_new_int64((int64_t)sv->attest_failures));
	json_object_object_add(out, "retired_on_exec", json_object_new_int64((int64_t)sv->retired_exec));
	json_object_object_add(out, "retired_on_exit", json_object_new_int64((int64_t)sv->retired_exit));
}

int wlapi_serve_init(struct kwid_wlapi *w)
{
	struct serve *sv = calloc(1, sizeof(*sv));
	int r;

	if (!sv)
		return -ENOMEM;
	sv->w = w;
	snprintf(sv->td_id, sizeof(sv->td_id), "spiffe://%s", w->agent->cfg->trust_domain);
	w->serve = sv;
	r = agent_subscribe(w->agent, CHANGES, on_change, w);
	if (r < 0)
		return r;
	if (!parts_ready(w->agent))
		log_warn("wlapi: started without %s%s%s%s%s: every RPC needing an identity answers UNAVAILABLE",
			 w->agent->tracker ? "" : "process tracking, ", w->agent->attestors ? "" : "attestors, ",
			 w->agent->entries ? "" : "entries, ", w->agent->authority ? "" : "authority, ",
			 w->agent->svids ? "" : "SVID cache");
	return 0;
}

void wlapi_serve_fini(struct kwid_wlapi *w)
{
	struct serve *sv = w->serve;

	if (!sv)
		return;
	agent_unsubscribe(w->agent, on_change, w);
	while (sv->orphans) {
		struct job *j = sv->orphans;
		sv->orphans = j->next_orphan;
		attest_cancel(j->op);
		job_free(j);
	}
	free(w->serve);
	w->serve = NULL;
}
