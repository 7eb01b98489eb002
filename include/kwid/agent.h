/* agent.h - the agent's root object: configuration, event loop and the
 * parts wired together by main.c, plus the change notifications that carry
 * data one way (kernel events -> process table -> ... -> Workload API).
 *
 * Parts hold a pointer to the agent and reach each other only through the
 * interfaces in include/kwid/. */
#ifndef KWID_AGENT_H
#define KWID_AGENT_H

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

#include "kwid/config.h"
#include "kwid/loop.h"

struct kwid_admin;
struct kwid_tracker;
struct kwid_proc_table;
struct kwid_measurer;
struct kwid_attestors;
struct kwid_node;
struct kwid_entries;
struct kwid_authority;
struct kwid_svid_cache;
struct kwid_wlapi;

/* What changed. Subscribers get the kind and a kind-specific argument. */
enum kwid_change {
	KWID_CHANGE_PROC_EXEC = 1u << 0,     /* arg: const struct kwid_exec_id * (the new exec) */
	KWID_CHANGE_PROC_EXIT = 1u << 1,     /* arg: const struct kwid_exec_id * (the exec that ended) */
	KWID_CHANGE_PROC_CGROUP = 1u << 2,   /* arg: const struct kwid_exec_id * */
	KWID_CHANGE_MEASURED = 1u << 3,      /* arg: NULL; some measurement finished */
	KWID_CHANGE_ENTRIES = 1u << 4,       /* arg: NULL; entries created, deleted or reloaded */
	KWID_CHANGE_BUNDLE = 1u << 5,        /* arg: NULL; X.509 or JWT bundle changed */
	KWID_CHANGE_SVID_ROTATED = 1u << 6,  /* arg: const char *entry_id */
	KWID_CHANGE_NODE_EVIDENCE = 1u << 7, /* arg: NULL; node selectors changed */
	KWID_CHANGE_RESYNC = 1u << 8,	     /* arg: NULL; the table was repaired from /proc */
	/* arg: const struct kwid_selector_set * of "k8s:pod-uid:<uid>" (sorted)
	 * for the pods whose kubelet facts (k8s:sa, k8s:pod-label) changed, or
	 * NULL: any pod's may have. */
	KWID_CHANGE_POD_FACTS = 1u << 9,
};

typedef void (*kwid_change_fn)(void *userdata, enum kwid_change kind, const void *arg);

/* A section of `kwidctl status`: fill `out` (a JSON object). */
typedef void (*kwid_status_fn)(void *userdata, json_object *out);

struct kwid_subscriber {
	unsigned mask;
	kwid_change_fn fn;
	void *userdata;
};

struct kwid_status_section {
	const char *name;
	kwid_status_fn fn;
	void *userdata;
};

struct kwid_agent {
	struct kwid_config *cfg;
	struct kwid_loop *loop;
	uint64_t started_real_ns;

	struct kwid_admin *admin;
	struct kwid_tracker *tracker;
	struct kwid_proc_table *procs;
	struct kwid_measurer *measurer;
	struct kwid_attestors *attestors;
	struct kwid_node *node;
	struct kwid_entries *entries;
	struct kwid_authority *authority;
	struct kwid_svid_cache *svids;
	struct kwid_wlapi *wlapi;

	struct kwid_subscriber *subs;
	size_t nsubs, subs_cap;
	struct kwid_status_section *status;
	size_t nstatus, status_cap;
};

int agent_subscribe(struct kwid_agent *a, unsigned mask, kwid_change_fn fn, void *userdata);
void agent_unsubscribe(struct kwid_agent *a, kwid_change_fn fn, void *userdata);
/* Call every subscriber of `kind` synchronously, in subscription order. */
void agent_notify(struct kwid_agent *a, enum kwid_change kind, const void *arg);

int agent_status_register(struct kwid_agent *a, const char *name, kwid_status_fn fn, void *userdata);
/* Build the full status document (agent section plus every registered one). */
json_object *agent_status(struct kwid_agent *a);

void agent_free_subscriptions(struct kwid_agent *a);

#define KWID_VERSION "0.1.0"

#endif
