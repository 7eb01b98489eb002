/* cmd_bundle.c - `kwidctl bundle show`: the trust domain's bundle, as PEM
 * roots (what `openssl verify -CAfile` wants) or as the SPIFFE JWKS bundle
 * (x509-svid and jwt-svid keys, spiffe_sequence, spiffe_refresh_hint). */
#include "kwidctl.h"

#include <getopt.h>

static int cmd_bundle_show(struct kwidctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
	const char *format = "pem";
	json_object *args, *res;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'f')
			return kwidctl_usage("bundle show");
		format = optarg;
	}
	if (optind != argc || (!streq(format, "pem") && !streq(format, "jwks"))) {
		if (optind == argc)
			fprintf(stderr, "kwidctl: --format must be pem or jwks, not '%s'\n", format);
		return kwidctl_usage("bundle show");
	}
	args = json_object_new_object();
	json_object_object_add(args, "format", json_object_new_string(format));
	r = kwidctl_call(ctx, "bundle.show", args, &res);
	if (r)
		return r;
	if (ctx->json)
		kwidctl_print_json(res);
	else if (streq(format, "pem"))
		fputs(jstr(res, "pem") ?: "", stdout);
	else
		kwidctl_print_json(jget(res, "jwks"));
	json_object_put(res);
	return KWIDCTL_OK;
}

const struct kwidctl_command kwidctl_bundle_commands[] = {
	{"bundle show", cmd_bundle_show, "[--format pem|jwks] [--json]",
	 "the trust domain's bundle: PEM roots, or the SPIFFE JWKS bundle"},
	{NULL, NULL, NULL, NULL},
};
