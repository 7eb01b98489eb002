/* cmd_entry.c - `kwidctl entry create|list|show|delete`: registration
 * entries. Flags are checked here with the agent's own validation code, so
 * a mistake is named by its flag before anything is sent. */
#include "kwidctl.h"
#include "kwid/entries.h"

#include <getopt.h>
#include <time.h>

/* The flag that sets each JSON field, for error messages. */
static const char *flag_of(const char *field)
{
	static const char *const map[][2] = {
		{"id", "--id"},
		{"spiffe_id", "--spiffe-id"},
		{"selectors", "--selector"},
		{"x509_svid_ttl", "--x509-svid-ttl"},
		{"jwt_svid_ttl", "--jwt-svid-ttl"},
		{"dns_names", "--dns-name"},
		{"hint", "--hint"},
		{"expires_at", "--expires-at"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (streq(field, map[i][0]))
			return map[i][1];
	return NULL;
}

static void format_time(int64_t unix_s, char *buf, size_t len)
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%lld", (long long)unix_s);
}

static void format_ttl(json_object *e, const char *key, char *buf, size_t len)
{
	int64_t v = jint(e, key, 0);

	if (v == 0)
		snprintf(buf, len, "default");
	else
		snprintf(buf, len, "%llds", (long long)v);
}

static void format_expiry(json_object *e, char *buf, size_t len)
{
	int64_t at = jint(e, "expires_at", 0);
	json_object *expired = jget(e, "expired");

	if (at == 0) {
		snprintf(buf, len, "never");
		return;
	}
	format_time(at, buf, len);
	if (expired && json_object_get_boolean(expired))
		strncat(buf, " (expired)", len - strlen(buf) - 1);
}

static const char *origin_of(json_object *e)
{
	json_object *ro = jget(e, "read_only");

	return ro && json_object_get_boolean(ro) ? "read-only" : "store";
}

/* "a, b, c" from a JSON array of strings (malloc'd). */
static char *join(json_object *arr, const char *sep)
{
	size_t n = arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(json_object_get_string(json_object_array_get_idx(arr, i))) + strlen(sep);
	s = calloc(1, len);
	for (size_t i = 0; s && i < n; i++) {
		if (i)
			strcat(s, sep);
		strcat(s, json_object_get_string(json_object_array_get_idx(arr, i)));
	}
	return s;
}

static void print_entry(json_object *e)
{
	char buf[64], created[64];
	json_object *sels = jget(e, "selectors"), *dns = jget(e, "dns_names");
	size_t nsel = sels ? json_object_array_length(sels) : 0;
	size_t ndns = dns ? json_object_array_length(dns) : 0;

	printf("%-14s %s\n", "id", jstr(e, "id"));
	printf("%-14s %s\n", "spiffe_id", jstr(e, "spiffe_id"));
	for (size_t i = 0; i < nsel; i++)
		printf("%-14s %s\n", i ? "" : "selectors", json_object_get_string(json_object_array_get_idx(sels, i)));
	format_ttl(e, "x509_svid_ttl", buf, sizeof(buf));
	printf("%-14s %s\n", "x509_svid_ttl", buf);
	format_ttl(e, "jwt_svid_ttl", buf, sizeof(buf));
	printf("%-14s %s\n", "jwt_svid_ttl", buf);
	for (size_t i = 0; i < ndns; i++)
		printf("%-14s %s\n", i ? "" : "dns_names", json_object_get_string(json_object_array_get_idx(dns, i)));
	if (jstr(e, "hint"))
		printf("%-14s %s\n", "hint", jstr(e, "hint"));
	format_expiry(e, buf, sizeof(buf));
	printf("%-14s %s\n", "expires", buf);
	if (jint(e, "created_at_ns", 0)) {
		format_time(jint(e, "created_at_ns", 0) / 1000000000, created, sizeof(created));
		printf("%-14s %s\n", "created", created);
	}
	printf("%-14s %s%s%s\n", "origin", origin_of(e), jstr(e, "source") ? " " : "",
	       jstr(e, "source") ? jstr(e, "source") : "");
	printf("%-14s %lld\n", "revision", (long long)jint(e, "revision", 0));
}

/* ---- entry create ---- */

static int add_int_flag(json_object *args, const char *key, const char *flag, const char *value)
{
	uint64_t n;

	if (parse_u64(value, 0, INT64_MAX, &n) < 0) {
		fprintf(stderr, "kwidctl: invalid %s \"%s\": must be a whole number of seconds\n", flag, value);
		return KWIDCTL_FAILED;
	}
	json_object_object_add(args, key, json_object_new_int64((int64_t)n));
	return 0;
}

enum { OPT_ID = 256, OPT_SPIFFE_ID, OPT_SELECTOR, OPT_X509_TTL, OPT_JWT_TTL, OPT_DNS, OPT_HINT,
       OPT_EXPIRES_AT, OPT_EXPIRES_IN };

static int parse_create_flag(int c, json_object *args, json_object *sels, json_object *dns)
{
	switch (c) {
	case OPT_ID:
		json_object_object_add(args, "id", json_object_new_string(optarg));
		return 0;
	case OPT_SPIFFE_ID:
		json_object_object_add(args, "spiffe_id", json_object_new_string(optarg));
		return 0;
	case OPT_SELECTOR:
		json_object_array_add(sels, json_object_new_string(optarg));
		return 0;
	case OPT_DNS:
		json_object_array_add(dns, json_object_new_string(optarg));
		return 0;
	case OPT_HINT:
		json_object_object_add(args, "hint", json_object_new_string(optarg));
		return 0;
	case OPT_X509_TTL:
		return add_int_flag(args, "x509_svid_ttl", "--x509-svid-ttl", optarg);
	case OPT_JWT_TTL:
		return add_int_flag(args, "jwt_svid_ttl", "--jwt-svid-ttl", optarg);
	case OPT_EXPIRES_AT:
		return add_int_flag(args, "expires_at", "--expires-at", optarg);
	case OPT_EXPIRES_IN: {
		uint64_t n;
		if (parse_u64(optarg, 1, 100ull * 365 * 86400, &n) < 0) {
			fprintf(stderr, "kwidctl: invalid --expires-in \"%s\": must be 1 to 3153600000 seconds\n",
				optarg);
			return KWIDCTL_FAILED;
		}
		json_object_object_add(args, "expires_at", json_object_new_int64((int64_t)time(NULL) + (int64_t)n));
		return 0;
	}
	default:
		return kwidctl_usage("entry create");
	}
}

/* The same checks the agent makes (except its trust domain and the
 * uniqueness rules, which only it can check). */
static int check_locally(json_object *args)
{
	struct kwid_entry *e = NULL;
	struct entry_error err;
	char msg[600];
	int r = entry_from_json(args, 0, &e, &err);
	int64_t expires_at = e ? e->expires_at : 0;

	entry_free(e);
	if (r == 0 && expires_at != 0 && expires_at <= (int64_t)time(NULL)) {
		fprintf(stderr, "kwidctl: invalid --expires-at \"%lld\": is in the past\n", (long long)expires_at);
		return KWIDCTL_FAILED;
	}
	if (r == 0)
		return 0;
	if (r != -EINVAL) {
		fprintf(stderr, "kwidctl: %s\n", strerror(-r));
		return KWIDCTL_FAILED;
	}
	entry_error_format(&err, flag_of, msg, sizeof(msg));
	fprintf(stderr, "kwidctl: %s\n", msg);
	return KWIDCTL_FAILED;
}

static int cmd_create(struct kwidctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"id", required_argument, NULL, OPT_ID},
		{"spiffe-id", required_argument, NULL, OPT_SPIFFE_ID},
		{"selector", required_argument, NULL, OPT_SELECTOR},
		{"x509-svid-ttl", required_argument, NULL, OPT_X509_TTL},
		{"jwt-svid-ttl", required_argument, NULL, OPT_JWT_TTL},
		{"dns-name", required_argument, NULL, OPT_DNS},
		{"hint", required_argument, NULL, OPT_HINT},
		{"expires-at", required_argument, NULL, OPT_EXPIRES_AT},
		{"expires-in", required_argument, NULL, OPT_EXPIRES_IN},
		{0},
	};
	json_object *args = json_object_new_object(), *sels = json_object_new_array(),
		    *dns = json_object_new_array(), *res;
	int c, r = 0;

	json_object_object_add(args, "selectors", sels);
	json_object_object_add(args, "dns_names", dns);
	optind = 0;
	while (r == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		r = parse_create_flag(c, args, sels, dns);
	if (r == 0 && (optind != argc || !jget(args, "spiffe_id") || json_object_array_length(sels) == 0)) {
		if (!jget(args, "spiffe_id") || json_object_array_length(sels) == 0)
			fprintf(stderr, "kwidctl: entry create needs --spiffe-id and at least one --selector\n");
		r = kwidctl_usage("entry create");
	}
	if (r == 0)
		r = check_locally(args);
	if (r) {
		json_object_put(args);
		return r;
	}
	r = kwidctl_call(ctx, "entry.create", args, &res);
	if (r)
		return r;
	if (ctx->json)
		kwidctl_print_json(res);
	else
		print_entry(res);
	json_object_put(res);
	return KWIDCTL_OK;
}

/* ---- entry list / show / delete ---- */

static int print_list(json_object *res)
{
	static const char *const headers[] = {"ID", "SPIFFE ID", "SELECTORS", "X509 TTL", "JWT TTL", "EXPIRES", "ORIGIN"};
	_cleanup_(table_freep) struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_object *arr = jget(res, "entries");
	size_t n = arr ? json_object_array_length(arr) : 0;

	if (!t)
		return KWIDCTL_FAILED;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		_cleanup_free_ char *sels = join(jget(e, "selectors"), ",");
		char x509[32], jwt[32], exp[64];
		const char *cells[7];

		format_ttl(e, "x509_svid_ttl", x509, sizeof(x509));
		format_ttl(e, "jwt_svid_ttl", jwt, sizeof(jwt));
		format_expiry(e, exp, sizeof(exp));
		cells[0] = jstr(e, "id");
		cells[1] = jstr(e, "spiffe_id");
		cells[2] = sels;
		cells[3] = x509;
		cells[4] = jwt;
		cells[5] = exp;
		cells[6] = origin_of(e);
		if (table_add(t, cells) < 0)
			return KWIDCTL_FAILED;
	}
	table_print(t, stdout);
	return KWIDCTL_OK;
}

static int cmd_list(struct kwidctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"spiffe-id", required_argument, NULL, OPT_SPIFFE_ID},
		{"selector", required_argument, NULL, OPT_SELECTOR},
		{0},
	};
	json_object *args = json_object_new_object(), *res;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != OPT_SPIFFE_ID && c != OPT_SELECTOR) {
			json_object_put(args);
			return kwidctl_usage("entry list");
		}
		json_object_object_add(args, c == OPT_SPIFFE_ID ? "spiffe_id" : "selector",
				       json_object_new_string(optarg));
	}
	if (optind != argc) {
		json_object_put(args);
		return kwidctl_usage("entry list");
	}
	r = kwidctl_call(ctx, "entry.list", args, &res);
	if (r)
		return r;
	if (ctx->json)
		kwidctl_print_json(res);
	else
		r = print_list(res);
	json_object_put(res);
	return r;
}

static void print_deleted(json_object *res)
{
	printf("deleted entry %s\n", jstr(res, "id"));
}

/* `entry show ID` and `entry delete ID`: one operand, one request. */
static int run_with_id(struct kwidctl *ctx, int argc, char **argv, const char *name, const char *cmd,
		       void (*print)(json_object *res))
{
	json_object *args, *res;
	int r;

	if (argc != 2 || argv[1][0] == '-')
		return kwidctl_usage(name);
	args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_string(argv[1]));
	r = kwidctl_call(ctx, cmd, args, &res);
	if (r)
		return r;
	if (ctx->json)
		kwidctl_print_json(res);
	else
		print(res);
	json_object_put(res);
	return KWIDCTL_OK;
}

static int cmd_show(struct kwidctl *ctx, int argc, char **argv)
{
	return run_with_id(ctx, argc, argv, "entry show", "entry.show", print_entry);
}

static int cmd_delete(struct kwidctl *ctx, int argc, char **argv)
{
	return run_with_id(ctx, argc, argv, "entry delete", "entry.delete", print_deleted);
}

/* ---- why ---- */

static void print_why_selectors(json_object *res)
{
	json_object *groups = jget(res, "groups");

	for (size_t i = 0; groups && i < json_object_array_length(groups); i++)
		kwidctl_print_attest_group(json_object_array_get_idx(groups, i));
}

static int print_why_matches(json_object *res)
{
	static const char *const headers[] = {"ID", "SPIFFE ID", "SELECTORS"};
	_cleanup_(table_freep) struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_object *m = jget(res, "matches");
	size_t n = m ? json_object_array_length(m) : 0;

	if (!t)
		return KWIDCTL_FAILED;
	if (n == 0) {
		printf("\nno entry matches: the Workload API gives this process no identity\n");
		return KWIDCTL_OK;
	}
	printf("\nmatching entries (%zu; the first is the default identity):\n", n);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(m, i);
		_cleanup_free_ char *sels = join(jget(e, "selectors"), ",");
		const char *cells[] = {jstr(e, "id"), jstr(e, "spiffe_id"), sels};
		if (table_add(t, cells) < 0)
			return KWIDCTL_FAILED;
	}
	table_print(t, stdout);
	return KWIDCTL_OK;
}

static int print_why_near_misses(json_object *res)
{
	static const char *const headers[] = {"ID", "SPIFFE ID", "MISSING SELECTORS"};
	_cleanup_(table_freep) struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_object *nm = jget(res, "near_misses");
	size_t n = nm ? json_object_array_length(nm) : 0;

	if (!t)
		return KWIDCTL_FAILED;
	if (n == 0)
		return KWIDCTL_OK;
	printf("\nnear misses (entries sharing a selector with it, fewest missing first):\n");
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(nm, i), *e = jget(o, "entry"), *exp = jget(e, "expired");
		_cleanup_free_ char *missing = join(jget(o, "missing"), ",");
		const char *cells[] = {jstr(e, "id"), jstr(e, "spiffe_id"),
				       missing && *missing ? missing : (exp && json_object_get_boolean(exp) ? "(expired)" : "-")};
		if (table_add(t, cells) < 0)
			return KWIDCTL_FAILED;
	}
	table_print(t, stdout);
	return KWIDCTL_OK;
}

static int cmd_why(struct kwidctl *ctx, int argc, char **argv)
{
	json_object *args, *res;
	pid_t pid;
	int r;

	if (argc != 2 || parse_pid(argv[1], &pid) < 0 || pid <= 0)
		return kwidctl_usage("why");
	args = json_object_new_object();
	json_object_object_add(args, "pid", json_object_new_int(pid));
	r = kwidctl_call(ctx, "why", args, &res);
	if (r)
		return r;
	if (ctx->json) {
		kwidctl_print_json(res);
	} else {
		json_object *exec = jget(res, "exec");
		printf("process %d (exec #%lld, started at %lld ns boot time)\n", (int)pid,
		       (long long)jint(exec, "exec_seq", 0), (long long)jint(exec, "start_ns", 0));
		print_why_selectors(res);
		r = print_why_matches(res);
		if (r == KWIDCTL_OK)
			r = print_why_near_misses(res);
	}
	json_object_put(res);
	return r;
}

const struct kwidctl_command kwidctl_entry_commands[] = {
	{"entry create", cmd_create,
	 "--spiffe-id ID --selector TYPE:VALUE [--selector ...] [--x509-svid-ttl SECONDS] "
	 "[--jwt-svid-ttl SECONDS] [--dns-name NAME ...] [--hint HINT] [--expires-at UNIX_TIME | "
	 "--expires-in SECONDS] [--id ID] [--json]",
	 "register an entry: workloads holding all these selectors get this SPIFFE ID"},
	{"entry list", cmd_list, "[--spiffe-id ID] [--selector TYPE:VALUE] [--json]",
	 "every registration entry, default identity order (oldest first)"},
	{"entry show", cmd_show, "ID [--json]", "one registration entry"},
	{"entry delete", cmd_delete, "ID", "delete a registration entry (not a read-only one)"},
	{"why", cmd_why, "PID [--json]",
	 "attest a process: the entries it matches (first: default identity) and near misses"},
	{NULL, NULL, NULL, NULL},
};
