/* kubelet.h - facts only the kubelet knows about a pod (its service
 * account and labels), for the k8s attestor.
 *
 * The kubelet's pod list (GET https://<node>:10250/pods, a v1 PodList) is
 * fetched over TLS on a worker thread, never on the attestation path, and
 * kept as one immutable snapshot sorted by pod UID: replaced by every
 * successful fetch, dropped when no fetch succeeded for max_age_s.
 * Fetches run every refresh_s, and sooner (at most once a second) when an
 * attestation meets a pod the snapshot cannot answer for. A changed answer
 * is announced with KWID_CHANGE_POD_FACTS.
 *
 * Trust: the kubelet's answer is bound to the pod UID the kernel's cgroup
 * path names; nothing a pod says about itself is read. */
#ifndef KWID_KUBELET_H
#define KWID_KUBELET_H

#include <json-c/json.h>
#include <stdint.h>

#include "kwid/cgroup_path.h"
#include "kwid/runtime_state.h"
#include "kwid/selectors.h"

struct kwid_agent;
struct kwid_config;

/* ---- the PodList and its parser (kubelet_pods.c) ---- */

#define KWID_KUBELET_NAME_MAX 253   /* namespace, pod and service account names */
#define KWID_KUBELET_LABELS_MAX 256 /* labels kept per pod (the first ones) */

struct kwid_kubelet_pod {
	char uid[KWID_POD_UID_MAX + 1]; /* canonical, as cgroup_path.c writes it */
	char *ns, *name;		/* NULL when the kubelet did not say */
	char *service_account;		/* spec.serviceAccountName, or NULL */
	struct kwid_kv *labels;		/* sorted by key, unique */
	size_t nlabels;
};

/* What a parse left out, for the status section. */
struct kwid_kubelet_parse_stats {
	uint64_t pods_refused;	   /* no or malformed metadata.uid */
	uint64_t uids_conflicting; /* listed twice with different facts: dropped */
	uint64_t labels_refused;   /* non-string, ':' or NUL in the key, NUL in the value, beyond the limit */
	uint64_t names_refused;	   /* malformed namespace, name or service account */
};

struct kwid_kubelet_pods {
	struct kwid_kubelet_pod *v; /* sorted by uid, unique */
	size_t n;
	struct kwid_kubelet_parse_stats stats;
};

void kubelet_pods_clear(struct kwid_kubelet_pods *p);

/* Parse a PodList of exactly len bytes (JSON, depth-bounded) holding at
 * most max_pods items. 0, or -EINVAL/-E2BIG/-ENOMEM with *why (static
 * text). Items are kept only with a well-formed metadata.uid; a UID
 * listed twice with different facts is dropped (never guessed). */
int kubelet_pods_parse(const char *json, size_t len, size_t max_pods, struct kwid_kubelet_pods *out,
		       const char **why);

/* The pod with this canonical uid, or NULL. */
const struct kwid_kubelet_pod *kubelet_pods_find(const struct kwid_kubelet_pods *p, const char *uid);

/* "k8s:pod-uid:<uid>" of every pod whose facts differ between a and b
 * (either may be NULL: no pods), sorted. */
int kubelet_pods_diff(const struct kwid_kubelet_pods *a, const struct kwid_kubelet_pods *b,
		      struct kwid_selector_set *out);

/* ---- fetching (kubelet_fetch.c, worker thread) ---- */

struct kwid_kubelet_target {
	char *url;	  /* as configured, for messages */
	char *host;	  /* name or address, without brackets */
	char *port;	  /* decimal */
	char *path;	  /* "/pods" unless the URL names another */
	char *host_header;
	bool host_is_ip;
	char *ca_file;	  /* NULL only with skip_verify */
	char *token_file; /* NULL: no Authorization header */
	bool skip_verify;
	uint64_t connect_timeout_ms, timeout_ms;
	size_t max_response_bytes;
};

void kubelet_target_clear(struct kwid_kubelet_target *t);
/* Split "https://host[:port][/path]" into t (port 10250, path "/pods" by
 * default). -EINVAL with *why for anything else (http://, userinfo,
 * queries, fragments, bytes outside printable ASCII). */
int kubelet_url_parse(const char *url, struct kwid_kubelet_target *t, const char **why);

/* GET the target: TLS (the configured CA, host name or IP checked unless
 * skip_verify), the bearer token read from token_file now, bounded size
 * and time. Returns the response body (*body, malloc'd, NUL-terminated)
 * of an HTTP 200, or -errno with err filled. Gives up with -ECANCELED as
 * soon as cancel_fd (or -1) becomes readable. */
int kubelet_http_get(const struct kwid_kubelet_target *t, int cancel_fd, char **body, size_t *body_len,
		     char *err, size_t errlen);

/* ---- the client (kubelet.c) ---- */

struct kwid_kubelet_config {
	const char *url; /* NULL: no kubelet client */
	const char *ca_file;
	const char *token_file;
	bool skip_verify;
	uint64_t refresh_s, max_age_s;
	uint64_t connect_timeout_ms, timeout_ms;
	uint64_t max_response_bytes, max_pods;
};

/* attestors.kubelet.*, checked (an https URL, a CA file unless
 * skip_verify). cfg->url NULL when the client is off. */
int kubelet_config_read(const struct kwid_config *c, struct kwid_kubelet_config *cfg);

struct kwid_kubelet;

/* Start the client on a's loop; its worker thread starts on the loop's
 * first iteration (after the privilege drop) and fetches at once. */
int kubelet_new(struct kwid_agent *a, const struct kwid_kubelet_config *cfg, struct kwid_kubelet **out);
void kubelet_free(struct kwid_kubelet *k);

enum kwid_kubelet_answer {
	KWID_KUBELET_FOUND,	 /* *pod is the kubelet's answer */
	KWID_KUBELET_PENDING,	 /* a fetch that will tell is under way or scheduled */
	KWID_KUBELET_NOT_LISTED, /* the kubelet, asked after the process started, does not list the pod */
	KWID_KUBELET_FAILED,	 /* no usable answer: the last fetch failed (*why) */
};

/* What the kubelet said about pod uid, for a process that started at
 * proc_start_ns (CLOCK_BOOTTIME). Never blocks; may schedule a fetch
 * (rate-limited). *pod is valid until the loop runs again. *why (for
 * PENDING, NOT_LISTED and FAILED) is valid until then too. */
enum kwid_kubelet_answer kubelet_lookup(struct kwid_kubelet *k, const char *uid, uint64_t proc_start_ns,
					const struct kwid_kubelet_pod **pod, const char **why);

/* {"state": "ok"|"error"|"starting", "url", "tls_verify", "pods_cached",
 * "fetches", "failures", "last_fetch_unix", "last_success_unix",
 * "last_error", ...}; {"state": "off"} for k == NULL. */
void kubelet_status(struct kwid_kubelet *k, json_object *out);

#endif
