/* cmd_node.c - `kwidctl node ...`: fetch the AK public key and fresh node
 * evidence from the agent (which owns the TPM), and verify evidence
 * locally - the part a remote verifier runs, with no agent and no TPM. */
#include "kwidctl.h"
#include "kwid/node.h"

#include <getopt.h>
#include <libgen.h>

#define AK_PEM_MAX (64 * 1024)

/* Write text to path ("-": stdout), atomically, mode 0644: neither the AK
 * public key nor evidence is secret. */
static int write_out(const char *path, const char *text)
{
	_cleanup_free_ char *d = NULL, *b = NULL;
	int r;

	if (!path || streq(path, "-")) {
		fputs(text, stdout);
		return 0;
	}
	d = strdup(path);
	b = strdup(path);
	if (!d || !b)
		return -ENOMEM;
	r = write_file_atomic(dirname(d), basename(b), text, strlen(text), 0644);
	if (r < 0)
		fprintf(stderr, "kwidctl: cannot write %s: %s\n", path, strerror(-r));
	return r;
}

/* Options: --out, --nonce, --pcrs, --ak-pub, --policy. */
struct node_opts {
	const char *out, *nonce, *pcrs, *ak_pub, *policy;
};

static int parse_opts(const char *cmd, int argc, char **argv, struct node_opts *o)
{
	static const struct option opts[] = {
		{"out", required_argument, NULL, 'o'},	  {"nonce", required_argument, NULL, 'n'},
		{"pcrs", required_argument, NULL, 'p'},	  {"ak-pub", required_argument, NULL, 'a'},
		{"policy", required_argument, NULL, 'P'}, {0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->out = optarg;
			break;
		case 'n':
			o->nonce = optarg;
			break;
		case 'p':
			o->pcrs = optarg;
			break;
		case 'a':
			o->ak_pub = optarg;
			break;
		case 'P':
			o->policy = optarg;
			break;
		default:
			fprintf(stderr, "kwidctl: %s: unknown or incomplete option '%s'\n", cmd, argv[optind - 1]);
			return -1;
		}
	}
	return optind;
}

static int cmd_ak(struct kwidctl *ctx, int argc, char **argv)
{
	struct node_opts o;
	json_object *res;
	int r, i = parse_opts("node ak", argc, argv, &o);

	if (i < 0 || i != argc || o.nonce || o.pcrs || o.ak_pub || o.policy)
		return kwidctl_usage("node ak");
	r = kwidctl_call(ctx, "node.ak", NULL, &res);
	if (r)
		return r;
	if (ctx->json)
		kwidctl_print_json(res);
	else if (write_out(o.out, jstr(res, "public_pem") ? jstr(res, "public_pem") : "") < 0)
		r = KWIDCTL_FAILED;
	else if (o.out)
		printf("AK %s (%s) written to %s\n", jstr(res, "name"), jstr(res, "alg"), o.out);
	json_object_put(res);
	return r;
}

static int cmd_quote(struct kwidctl *ctx, int argc, char **argv)
{
	struct node_opts o;
	json_object *args, *res;
	int r, i = parse_opts("node quote", argc, argv, &o);

	if (i < 0 || i != argc || !o.nonce || o.ak_pub || o.policy)
		return kwidctl_usage("node quote");
	args = json_object_new_object();
	json_object_object_add(args, "nonce", json_object_new_string(o.nonce));
	if (o.pcrs)
		json_object_object_add(args, "pcrs", json_object_new_string(o.pcrs));
	r = kwidctl_call(ctx, "node.quote", args, &res);
	if (r)
		return r;
	if (write_out(o.out, json_object_to_json_string_ext(res, JSON_C_TO_STRING_PRETTY)) < 0 ||
	    (!o.out && fputc('\n', stdout) == EOF))
		r = KWIDCTL_FAILED;
	json_object_put(res);
	return r;
}

static int cmd_refresh(struct kwidctl *ctx, int argc, char **argv)
{
	json_object *res;
	int r;

	if (argc != 1)
		return kwidctl_usage("node refresh");
	r = kwidctl_call(ctx, "node.refresh", NULL, &res);
	if (r)
		return r;
	kwidctl_print_json(res);
	r = json_object_get_boolean(jget(res, "ok")) ? KWIDCTL_OK : KWIDCTL_FAILED;
	json_object_put(res);
	return r;
}

/* ---- node verify: no agent involved ---- */

struct verify_inputs {
	json_object *evidence;
	EVP_PKEY *ak;
	uint8_t nonce[TPM_NONCE_MAX];
	size_t nonce_len;
	struct ima_policy *policy;
};

static void inputs_clear(struct verify_inputs *in)
{
	json_object_put(in->evidence);
	EVP_PKEY_free(in->ak);
	ima_policy_free(in->policy);
}

static int load_inputs(const char *file, const struct node_opts *o, struct verify_inputs *in)
{
	_cleanup_free_ char *text = NULL, *pem = NULL;
	enum json_tokener_error jerr;
	char err[256];
	size_t len;
	int r;

	r = read_file(file, NODE_EVIDENCE_MAX_BYTES, &text, NULL);
	if (r < 0)
		return fprintf(stderr, "kwidctl: cannot read evidence %s: %s\n", file, strerror(-r)), -1;
	in->evidence = json_tokener_parse_verbose(text, &jerr);
	if (!in->evidence)
		return fprintf(stderr, "kwidctl: evidence %s is not JSON: %s\n", file, json_tokener_error_desc(jerr)), -1;
	r = read_file(o->ak_pub, AK_PEM_MAX, &pem, &len);
	if (r < 0)
		return fprintf(stderr, "kwidctl: cannot read AK public key %s: %s\n", o->ak_pub, strerror(-r)), -1;
	if (pkey_from_pem(pem, len, &in->ak) < 0)
		return fprintf(stderr, "kwidctl: %s is not a PEM public key\n", o->ak_pub), -1;
	len = strlen(o->nonce);
	if (len % 2 || len == 0 || len > 2 * TPM_NONCE_MAX ||
	    hex_decode(o->nonce, in->nonce, sizeof(in->nonce)) != (ssize_t)(len / 2))
		return fprintf(stderr, "kwidctl: --nonce must be 1 to %d bytes of hex\n", TPM_NONCE_MAX), -1;
	in->nonce_len = len / 2;
	if (o->policy && ima_policy_load(o->policy, &in->policy, err, sizeof(err)) < 0)
		return fprintf(stderr, "kwidctl: %s\n", err), -1;
	return 0;
}

static void print_verdict(const struct node_verify_result *res)
{
	char pcrs[256];

	if (!res->ok) {
		printf("FAILED: %s\n", res->failure);
		return;
	}
	pcr_selection_format(&res->pcrs.have, pcrs, sizeof(pcrs));
	printf("OK: quote signed by the AK, nonce matches, PCRs %s authenticated%s\n", pcrs,
	       res->pcrs_from_log ? " (IMA PCRs from the log: the PCR read raced an extend)" : "");
	printf("  TPM clock %llu ms, reset count %u, restart count %u\n", (unsigned long long)res->clock.clock,
	       res->clock.resetCount, res->clock.restartCount);
	if (res->ima_present)
		printf("  IMA log: %zu of %zu entries verified (%zu appended after the quote)\n", res->ima_matched,
		       res->ima->n, res->ima->n - res->ima_matched);
	else
		printf("  IMA log: none in the evidence\n");
	if (res->policy_checked)
		printf("  policy: %zu entries checked, %zu excluded, %zu failed\n", res->policy.checked,
		       res->policy.excluded, res->policy.failed);
}

static int cmd_verify(struct kwidctl *ctx, int argc, char **argv)
{
	struct verify_inputs in = {0};
	struct node_verify_result res;
	struct node_opts o;
	int r, i = parse_opts("node verify", argc, argv, &o);

	if (i < 0 || i + 1 != argc || !o.ak_pub || !o.nonce || o.out || o.pcrs)
		return kwidctl_usage("node verify");
	if (load_inputs(argv[i], &o, &in) < 0) {
		inputs_clear(&in);
		return KWIDCTL_FAILED;
	}
	r = node_evidence_verify(in.evidence, &(struct node_verify_opts){.ak = in.ak, .nonce = in.nonce,
							       .nonce_len = in.nonce_len, .policy = in.policy},
				 &res);
	if (r < 0 && r != -EBADMSG)
		snprintf(res.failure, sizeof(res.failure), "internal error: %s", strerror(-r));
	if (ctx->json) {
		json_object *j = node_verify_result_to_json(&res);
		kwidctl_print_json(j);
		json_object_put(j);
	} else {
		print_verdict(&res);
	}
	node_verify_result_clear(&res);
	inputs_clear(&in);
	return r == 0 ? KWIDCTL_OK : KWIDCTL_FAILED;
}

const struct kwidctl_command kwidctl_node_commands[] = {
	{"node ak", cmd_ak, "[--out FILE] [--json]", "the TPM attestation key's public key (PEM), for verifiers to pin"},
	{"node quote", cmd_quote, "--nonce HEX [--pcrs sha256:0,7,10] [--out FILE]",
	 "fresh node evidence: TPM quote over the nonce, PCR values, AK, IMA log (JSON)"},
	{"node verify", cmd_verify, "EVIDENCE --ak-pub FILE --nonce HEX [--policy FILE] [--json]",
	 "verify node evidence locally (no agent, no TPM): exit 0 only if every check holds"},
	{"node refresh", cmd_refresh, "", "quote and verify the host's own evidence now; print the result"},
	{NULL, NULL, NULL, NULL},
};
