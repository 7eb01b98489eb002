/* authority.c - the signing authority's life cycle: settings, start-up
 * (state directory, upstream material, persisted keys), the upstream reload
 * on SIGHUP, and shutdown. Rotation lives in authority_rotate.c, minting in
 * x509_svid.c and jwt_svid.c, persistence in authority_store.c, bundles in
 * bundle.c. */
#include "authority_internal.h"
#include "kwid/agent.h"
#include "kwid/log.h"
#include "kwid/spiffe_id.h"

#include <signal.h>
#include <sys/stat.h>

int64_t au_now(void)
{
	return (int64_t)(now_real_ns() / 1000000000ull);
}

struct au_key *au_active(struct au_keys *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->v[i]->t.state == KEY_ACTIVE)
			return ks->v[i];
	return NULL;
}

void au_key_free(struct au_key *k)
{
	if (!k)
		return;
	signer_clear(&k->signer);
	X509_free(k->cert);
	free(k->cert_der);
	free(k->subject_der);
	free(k->header_b64);
	free(k);
}

const char *au_kind_name(enum au_kind kind)
{
	return kind == AU_X509 ? "X.509 CA" : "JWT key";
}

/* ---- settings ---- */

static int get_u64(const struct kwid_config *cfg, const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	return config_get_u64(cfg, key, min, max, out);
}

static int load_settings(const struct kwid_config *cfg, struct authority_settings *s)
{
	uint64_t v[10];
	int r = 0;

	r = r ?: get_u64(cfg, "authority.x509_svid_ttl_s", 1, 366 * 86400, &v[0]);
	r = r ?: get_u64(cfg, "authority.jwt_svid_ttl_s", 1, 7 * 86400, &v[1]);
	r = r ?: get_u64(cfg, "authority.ca_ttl_s", 4, 20 * 366 * 86400ull, &v[2]);
	r = r ?: get_u64(cfg, "authority.jwt_key_ttl_s", 4, 366 * 86400, &v[3]);
	r = r ?: get_u64(cfg, "authority.rotate_at_percent", 10, 90, &v[4]);
	r = r ?: get_u64(cfg, "authority.propagation_delay_s", 0, 366 * 86400, &v[5]);
	r = r ?: get_u64(cfg, "authority.bundle_refresh_hint_s", 1, 86400, &v[6]);
	r = r ?: get_u64(cfg, "authority.backdate_s", 0, 3600, &v[7]);
	r = r ?: get_u64(cfg, "authority.keypool_size", 0, 4096, &v[8]);
	r = r ?: config_get_string(cfg, "authority.upstream.cert", &s->up_cert);
	r = r ?: config_get_string(cfg, "authority.upstream.key", &s->up_key);
	r = r ?: config_get_string(cfg, "authority.upstream.bundle", &s->up_bundle);
	if (r < 0)
		return r;
	s->x509_svid_ttl = (uint32_t)v[0];
	s->jwt_svid_ttl = (uint32_t)v[1];
	s->ca_ttl = (int64_t)v[2];
	s->jwt_key_ttl = (int64_t)v[3];
	s->rotate_pct = (unsigned)v[4];
	s->propagation = (int64_t)v[5];
	s->refresh_hint = (int64_t)v[6];
	s->backdate = (int64_t)v[7];
	s->keypool_size = (size_t)v[8];
	return 0;
}

/* A successor must become active while its predecessor still lives, and
 * credentials must fit into a key's life. */
static int check_settings(const struct authority_settings *s)
{
	bool local = !s->up_cert;
	int64_t jwt_left = s->jwt_key_ttl * (100 - s->rotate_pct) / 100;
	int64_t ca_left = s->ca_ttl * (100 - s->rotate_pct) / 100;

	if (!!s->up_cert != !!s->up_key || !!s->up_cert != !!s->up_bundle) {
		log_error("authority: authority.upstream needs all of cert, key and bundle (or none)");
		return -EINVAL;
	}
	if (s->propagation >= jwt_left || (local && s->propagation >= ca_left)) {
		log_error("authority: propagation_delay_s (%" PRId64 ") must be shorter than what is left of a "
			  "key's life after rotate_at_percent (JWT key: %" PRId64 " s%s%" PRId64 "%s)",
			  s->propagation, jwt_left, local ? ", CA: " : "", local ? ca_left : 0, local ? " s" : "");
		return -EINVAL;
	}
	if (s->jwt_svid_ttl >= s->jwt_key_ttl || (local && s->x509_svid_ttl >= s->ca_ttl)) {
		log_error("authority: SVID lifetimes must be shorter than the signing keys' (jwt_svid_ttl_s %u, "
			  "jwt_key_ttl_s %" PRId64 ", x509_svid_ttl_s %u, ca_ttl_s %" PRId64 ")",
			  s->jwt_svid_ttl, s->jwt_key_ttl, s->x509_svid_ttl, s->ca_ttl);
		return -EINVAL;
	}
	if (local && s->x509_svid_ttl > ca_left - s->propagation)
		log_warn("authority: x509_svid_ttl_s %u exceeds the CA life left at rotation; SVIDs minted "
			 "late in a CA's life are shortened to its expiry", s->x509_svid_ttl);
	return 0;
}

/* Runs in the loop's first iteration, after the agent dropped its
 * privileges, so the key-pool worker thread starts without them. */
static void start_keypool(void *userdata)
{
	struct kwid_authority *au = userdata;

	keypool_start(au->pool);
}

/* ---- upstream reload ---- */

static void on_sighup(struct kwid_loop *l, int signo, void *userdata)
{
	struct kwid_authority *au = userdata;
	struct au_upstream up = {0};
	struct au_key *k = NULL;
	uint8_t digest[32];

	log_info("authority: SIGHUP, reloading the upstream authority files");
	if (au_upstream_load(au, &up, &k) < 0) {
		log_error("authority: upstream files refused; keeping the current intermediate %s",
			  au->x509.n ? au->x509.v[0]->id : "(none)");
		return;
	}
	for (size_t i = 0; i < au->x509.n; i++)
		au_key_free(au->x509.v[i]);
	au->x509.v[0] = k;
	au->x509.n = 1;
	au_upstream_clear(&au->up);
	au->up = up;
	au->x509_generation++; /* the SVID cache re-mints on the next notification */
	if (au_bundle_digest(au, digest) == 0 && memcmp(digest, au->bundle_digest, sizeof(digest)) != 0) {
		memcpy(au->bundle_digest, digest, sizeof(digest));
		au->sequence++;
		if (au_store_save(au) < 0)
			au->stats.save_failures++;
	}
	agent_notify(au->agent, KWID_CHANGE_BUNDLE, NULL);
	log_info("authority: upstream intermediate %s in use (new SVIDs from now on)", k->id);
}

/* ---- life cycle ---- */

uint32_t authority_x509_svid_ttl(const struct kwid_authority *au)
{
	return au->set.x509_svid_ttl;
}

const char *authority_trust_domain(const struct kwid_authority *au)
{
	return au->td;
}

uint64_t authority_bundle_sequence(const struct kwid_authority *au)
{
	return au->sequence;
}

uint64_t authority_x509_generation(const struct kwid_authority *au)
{
	return au->x509_generation;
}

static int init_upstream(struct kwid_authority *au)
{
	struct au_key *k = NULL;
	int r = au_upstream_load(au, &au->up, &k);

	if (r < 0)
		return r;
	au->x509.v[0] = k;
	au->x509.n = 1;
	log_info("authority: upstream intermediate %s (chain of %zu bytes, %zu root(s)) signs X.509-SVIDs", k->id,
		 au->up.chain_len, au->up.nroots);
	return 0;
}

static int init_keys(struct kwid_authority *au)
{
	uint8_t digest[32];
	uint64_t seq;
	int r;

	if (au->upstream) {
		r = init_upstream(au);
		if (r < 0)
			return r;
	}
	r = au_store_load(au);
	if (r < 0)
		return r;
	seq = au->sequence;
	r = au_run_schedule(au);
	if (r < 0)
		return log_error_errno(r, "authority: cannot set up the signing keys");
	/* A bundle that changed while the agent was down (upstream files)
	 * still gets a new sequence number. */
	r = au_bundle_digest(au, digest);
	if (r < 0)
		return r;
	if (memcmp(digest, au->bundle_digest, sizeof(digest)) != 0 || au->sequence == 0) {
		memcpy(au->bundle_digest, digest, sizeof(digest));
		if (au->sequence == seq)
			au->sequence++;
		r = au_store_save(au);
		if (r < 0)
			return log_error_errno(r, "authority: cannot write %s/state.json", au->dir);
	}
	au_store_collect_garbage(au);
	return 0;
}

int authority_new(struct kwid_agent *a, struct kwid_authority **out)
{
	struct kwid_authority *au = calloc(1, sizeof(*au));
	const char *why = NULL;
	int r;

	if (!au)
		return -ENOMEM;
	au->agent = a;
	au->lock_fd = -1;
	r = load_settings(a->cfg, &au->set);
	if (r == 0)
		r = check_settings(&au->set);
	if (r < 0)
		goto fail;
	if (spiffe_trust_domain_validate(a->cfg->trust_domain, &why) < 0) {
		r = log_error_errno(-EINVAL, "authority: trust domain '%s' is invalid: %s", a->cfg->trust_domain,
				    why ? why : "?");
		goto fail;
	}
	strscpy(au->td, a->cfg->trust_domain, sizeof(au->td));
	snprintf(au->td_id, sizeof(au->td_id), "spiffe://%s", au->td);
	au->upstream = au->set.up_cert != NULL;
	if (asprintf(&au->dir, "%s/authority", a->cfg->state_dir) < 0) {
		au->dir = NULL;
		r = -ENOMEM;
		goto fail;
	}
	r = au_store_open(au);
	if (r < 0)
		goto fail;
	r = loop_timer_new(a->loop, au_on_timer, au, &au->timer);
	if (r < 0)
		goto fail;
	r = init_keys(au);
	if (r < 0)
		goto fail;
	r = keypool_new(au->set.keypool_size, &au->pool);
	if (r == 0)
		r = loop_defer(a->loop, start_keypool, au);
	if (r < 0)
		goto fail;
	r = agent_status_register(a, "authority", au_status, au);
	if (r == 0 && a->admin)
		r = au_admin_register(au);
	if (r == 0 && au->upstream)
		r = loop_signal_add(a->loop, SIGHUP, on_sighup, au);
	if (r < 0)
		goto fail;
	log_info("authority: trust domain %s, %s CA %s, JWT key %s, bundle sequence %" PRIu64, au->td,
		 au->upstream ? "upstream" : "local", au_active(&au->x509)->id, au_active(&au->jwt)->id, au->sequence);
	*out = au;
	return 0;
fail:
	authority_free(au);
	return r;
}

void authority_free(struct kwid_authority *au)
{
	if (!au)
		return;
	loop_timer_free(au->timer);
	keypool_free(au->pool);
	for (size_t i = 0; i < au->x509.n; i++)
		au_key_free(au->x509.v[i]);
	for (size_t i = 0; i < au->jwt.n; i++)
		au_key_free(au->jwt.v[i]);
	au_upstream_clear(&au->up);
	if (au->lock_fd >= 0)
		close(au->lock_fd);
	free(au->dir);
	free(au);
}
