/* main.c - kwid-agent: command line, configuration, start-up of the parts
 * in data-flow order, privilege drop, and the event loop. */
#include "kwid/admin.h"
#include "kwid/agent.h"
#include "kwid/attest.h"
#include "kwid/authority.h"
#include "kwid/entries.h"
#include "kwid/log.h"
#include "kwid/node.h"
#include "kwid/privs.h"
#include "kwid/wlapi.h"
#include "kwid/proc.h"
#include "kwid/spiffe_id.h"

#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kwid-agent [OPTIONS]\n"
		"\n"
		"  --config FILE        JSON configuration (default: the embedded one; see\n"
		"                       packaging/agent.json for every key and its default)\n"
		"  --trust-domain TD    SPIFFE trust domain (default example.org)\n"
		"  --socket PATH        Workload API socket (default /run/kwid/public/api.sock)\n"
		"  --admin-socket PATH  root-only admin socket (default /run/kwid/admin.sock)\n"
		"  --state-dir DIR      durable state (default /var/lib/kwid)\n"
		"  --log-level LEVEL    error, warn, info or debug (default info)\n"
		"  --tcti STRING        TPM access for node evidence (default device:/dev/tpmrm0)\n"
		"  --tracking-mode MODE auto (default), tp_btf, raw_tp, proc_connector or\n"
		"                       proc_poll (tracking.mode)\n"
		"  --probe              print the kernel features found and the mode that\n"
		"                       would be used, then exit\n"
		"  --json               with --probe: the same as one JSON object\n"
		"  --help, --version\n"
		"\nFlags override the configuration file; the file overrides the defaults.\n");
}

enum { OPT_CONFIG = 256, OPT_TD, OPT_SOCKET, OPT_ADMIN, OPT_STATE, OPT_LOG, OPT_PROBE, OPT_VERSION,
       OPT_TCTI, OPT_TRACKING_MODE, OPT_JSON };

struct cmdline {
	const char *config;
	bool probe;
	bool json;
	json_object *overrides;
};

static int parse_cmdline(int argc, char **argv, struct cmdline *cl)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, OPT_CONFIG},
		{"trust-domain", required_argument, NULL, OPT_TD},
		{"socket", required_argument, NULL, OPT_SOCKET},
		{"admin-socket", required_argument, NULL, OPT_ADMIN},
		{"state-dir", required_argument, NULL, OPT_STATE},
		{"log-level", required_argument, NULL, OPT_LOG},
		{"probe", no_argument, NULL, OPT_PROBE},
		{"json", no_argument, NULL, OPT_JSON},
		{"tcti", required_argument, NULL, OPT_TCTI},
		{"tracking-mode", required_argument, NULL, OPT_TRACKING_MODE},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{0},
	};
	int c;

	cl->overrides = json_object_new_object();
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char *key = NULL;

		switch (c) {
		case OPT_CONFIG:
			cl->config = optarg;
			break;
		case OPT_TD:
			key = "trust_domain";
			break;
		case OPT_SOCKET:
			key = "socket";
			break;
		case OPT_ADMIN:
			key = "admin_socket";
			break;
		case OPT_STATE:
			key = "state_dir";
			break;
		case OPT_LOG:
			key = "log_level";
			break;
		case OPT_PROBE:
			cl->probe = true;
			break;
		case OPT_JSON:
			cl->json = true;
			break;
		case OPT_TCTI: {
			json_object *node = json_object_new_object();
			json_object_object_add(node, "tcti", json_object_new_string(optarg));
			json_object_object_add(cl->overrides, "node", node);
			break;
		}
		case OPT_TRACKING_MODE: {
			json_object *t = json_object_new_object();
			json_object_object_add(t, "mode", json_object_new_string(optarg));
			json_object_object_add(cl->overrides, "tracking", t);
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("kwid-agent %s\n", KWID_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (key)
			json_object_object_add(cl->overrides, key, json_object_new_string(optarg));
	}
	if (optind < argc) {
		fprintf(stderr, "kwid-agent: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (cl->json && !cl->probe) {
		fprintf(stderr, "kwid-agent: --json goes with --probe\n");
		return -EINVAL;
	}
	return 0;
}

static void on_stop_signal(struct kwid_loop *l, int signo, void *userdata)
{
	log_info("received %s, stopping", strsignal(signo));
	loop_exit(l, 0);
}

static int prepare_state_dir(const char *dir)
{
	struct stat st;
	int r = mkdir_p(dir, 0700);

	if (r < 0)
		return log_error_errno(r, "cannot create state directory %s", dir);
	if (stat(dir, &st) < 0)
		return log_error_errno(-errno, "cannot stat state directory %s", dir);
	if ((st.st_mode & 077) && chmod(dir, 0700) < 0)
		return log_error_errno(-errno, "cannot restrict state directory %s to 0700", dir);
	return 0;
}

/* Start every part in data-flow order. Each part registers its admin
 * commands, status section and change subscriptions itself. */
static int agent_start(struct kwid_agent *a)
{
	int r;

	r = prepare_state_dir(a->cfg->state_dir);
	if (r < 0)
		return r;
	r = admin_new(a, &a->admin);
	if (r < 0)
		return r;
	/* kernel events -> process table -> measurer */
	r = tracking_start(a);
	if (r < 0)
		return r;
	r = node_new(a, &a->node);
	if (r < 0)
		return r;
	/* attestors (unix, container, k8s, systemd, lineage, node) */
	r = attestors_new(a, &a->attestors);
	if (r < 0)
		return r;
	/* entries -> authority -> SVID cache */
	r = entries_new(a, &a->entries);
	if (r < 0)
		return r;
	r = authority_new(a, &a->authority);
	if (r < 0)
		return r;
	r = svid_cache_new(a, a->authority, &a->svids);
	if (r < 0)
		return r;
	/* Workload API */
	r = wlapi_new(a, &a->wlapi);
	if (r < 0)
		return r;

	/* Start-up is over: keep only what the parts declared. */
	r = agent_status_register(a, "privileges", privs_status, NULL);
	if (r < 0)
		return r;
	return privs_apply();
}

static void agent_stop(struct kwid_agent *a)
{
	/* Reverse order of agent_start. */
	wlapi_free(a->wlapi);
	svid_cache_free(a->svids);
	authority_free(a->authority);
	entries_free(a->entries);
	a->entries = NULL;
	attestors_free(a->attestors);
	a->attestors = NULL;
	node_free(a->node);
	tracking_stop(a);
	admin_free(a->admin);
	agent_free_subscriptions(a);
}

int main(int argc, char **argv)
{
	struct cmdline cl = {0};
	struct kwid_agent agent = {0};
	_cleanup_free_ char *errmsg = NULL;
	const char *why;
	int r;

	if (parse_cmdline(argc, argv, &cl) < 0)
		return 2;
	r = config_load(cl.config, cl.overrides, &agent.cfg, &errmsg);
	json_object_put(cl.overrides);
	if (r < 0) {
		fprintf(stderr, "kwid-agent: %s\n", errmsg ? errmsg : strerror(-r));
		return 2;
	}
	if (spiffe_trust_domain_validate(agent.cfg->trust_domain, &why) < 0) {
		fprintf(stderr, "kwid-agent: invalid trust_domain \"%s\": %s\n", agent.cfg->trust_domain, why);
		config_free(agent.cfg);
		return 2;
	}
	log_set_level(agent.cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	umask(0077);

	if (cl.probe) {
		r = tracking_probe(agent.cfg, cl.json, stdout);
		config_free(agent.cfg);
		return r < 0 ? 1 : 0;
	}

	agent.started_real_ns = now_real_ns();
	r = loop_new(&agent.loop);
	if (r < 0) {
		log_error_errno(r, "cannot create event loop");
		goto out;
	}
	loop_signal_add(agent.loop, SIGINT, on_stop_signal, NULL);
	loop_signal_add(agent.loop, SIGTERM, on_stop_signal, NULL);

	log_info("kwid-agent %s starting: trust domain %s, config %s", KWID_VERSION,
		 agent.cfg->trust_domain, agent.cfg->source);
	r = agent_start(&agent);
	if (r < 0) {
		log_error("start-up failed, exiting");
		goto out_stop;
	}
	log_info("ready: admin socket %s, Workload API socket %s (SPIFFE_ENDPOINT_SOCKET=unix://%s)",
		 agent.cfg->admin_socket_path, agent.cfg->socket_path, agent.cfg->socket_path);
	r = loop_run(agent.loop);
out_stop:
	agent_stop(&agent);
out:
	loop_free(agent.loop);
	config_free(agent.cfg);
	return r < 0 ? 1 : 0;
}
