/* cmd_svid.c - `kwidctl svid mint`: an X.509-SVID or JWT-SVID for any
 * workload SPIFFE ID of the trust domain, straight from the authority (for
 * tests and break-glass use; the admin socket is root-only). With --out
 * the credentials go to files of mode 0600 instead of stdout.
 * `kwidctl svid show`: what the SVID cache holds for an entry. */
#include "kwidctl.h"

#include <getopt.h>
#include <limits.h>

static int write_secret(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	int r;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	r = write_file_atomic(dir, name, text, strlen(text), 0600);
	if (r < 0)
		fprintf(stderr, "kwidctl: cannot write %s: %s\n", path, strerror(-r));
	else
		printf("%s\n", path);
	return r;
}

static int output(struct kwidctl *ctx, json_object *res, const char *out_dir)
{
	bool jwt = streq(jstr(res, "type"), "jwt");

	if (ctx->json) {
		kwidctl_print_json(res);
		return KWIDCTL_OK;
	}
	if (!out_dir) {
		if (jwt)
			printf("%s\n", jstr(res, "token"));
		else
			printf("%s%s", jstr(res, "svid_pem") ?: "", jstr(res, "key_pem") ?: "");
		return KWIDCTL_OK;
	}
	int r = mkdir_p(out_dir, 0700);
	if (r < 0) {
		fprintf(stderr, "kwidctl: cannot create %s: %s\n", out_dir, strerror(-r));
		return KWIDCTL_FAILED;
	}
	if (jwt)
		return write_secret(out_dir, "svid.jwt", jstr(res, "token")) < 0 ? KWIDCTL_FAILED : KWIDCTL_OK;
	if (write_secret(out_dir, "svid.pem", jstr(res, "svid_pem")) < 0 ||
	    write_secret(out_dir, "svid.key", jstr(res, "key_pem")) < 0 ||
	    write_secret(out_dir, "bundle.pem", jstr(res, "bundle_pem")) < 0)
		return KWIDCTL_FAILED;
	return KWIDCTL_OK;
}

static int cmd_svid_mint(struct kwidctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"type", required_argument, NULL, 't'},	    {"ttl", required_argument, NULL, 'l'},
		{"dns", required_argument, NULL, 'd'},	    {"audience", required_argument, NULL, 'a'},
		{"out", required_argument, NULL, 'o'},	    {0},
	};
	json_object *args = json_object_new_object(), *dns = json_object_new_array(),
		    *aud = json_object_new_array(), *res;
	const char *out_dir = NULL;
	uint64_t ttl;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			json_object_object_add(args, "type", json_object_new_string(optarg));
			break;
		case 'l':
			if (parse_u64(optarg, 1, 366 * 86400, &ttl) < 0) {
				fprintf(stderr, "kwidctl: --ttl must be 1..%d seconds, not '%s'\n", 366 * 86400, optarg);
				goto usage;
			}
			json_object_object_add(args, "ttl", json_object_new_int64((int64_t)ttl));
			break;
		case 'd':
			json_object_array_add(dns, json_object_new_string(optarg));
			break;
		case 'a':
			json_object_array_add(aud, json_object_new_string(optarg));
			break;
		case 'o':
			out_dir = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	json_object_object_add(args, "spiffe_id", json_object_new_string(argv[optind]));
	json_object_object_add(args, "dns", dns);
	json_object_object_add(args, "audience", aud);
	r = kwidctl_call(ctx, "svid.mint", args, &res);
	if (r)
		return r;
	r = output(ctx, res, out_dir);
	json_object_put(res);
	return r;
usage:
	json_object_put(args);
	json_object_put(dns);
	json_object_put(aud);
	return kwidctl_usage("svid mint");
}

static int cmd_svid_show(struct kwidctl *ctx, int argc, char **argv)
{
	json_object *args, *res;
	int r;

	if (argc != 2)
		return kwidctl_usage("svid show");
	args = json_object_new_object();
	json_object_object_add(args, "entry_id", json_object_new_string(argv[1]));
	r = kwidctl_call(ctx, "svid.show", args, &res);
	if (r)
		return r;
	if (ctx->json)
		kwidctl_print_json(res);
	else
		fputs(jstr(res, "svid_pem") ?: "", stdout);
	json_object_put(res);
	return KWIDCTL_OK;
}

const struct kwidctl_command kwidctl_svid_commands[] = {
	{"svid mint", cmd_svid_mint,
	 "SPIFFE_ID [--type x509|jwt] [--ttl SECONDS] [--dns NAME]... [--audience AUD]... [--out DIR] [--json]",
	 "mint an X.509-SVID (chain + key) or a JWT-SVID; --out writes 0600 files"},
	{"svid show", cmd_svid_show, "ENTRY_ID [--json]",
	 "the entry's current X.509-SVID chain from the SVID cache (minted if needed; no key)"},
	{NULL, NULL, NULL, NULL},
};
