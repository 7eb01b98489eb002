/* cgroup_path.c - parser for cgroup paths and /proc/<pid>/cgroup (see
 * kwid/cgroup_path.h). Pure string work, no I/O except
 * cgroup_layout_read(); fuzzed by tests/fuzz/fuzz_cgroup_path.c. */
#include "kwid/cgroup_path.h"
#include "kwid/util.h"

#include <ctype.h>

#define CGROUP_DEPTH_MAX 256

static int fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -EINVAL;
}

const char *runtime_to_string(enum kwid_runtime r)
{
	switch (r) {
	case KWID_RUNTIME_DOCKER:
		return "docker";
	case KWID_RUNTIME_CONTAINERD:
		return "containerd";
	case KWID_RUNTIME_CRIO:
		return "crio";
	case KWID_RUNTIME_PODMAN:
		return "podman";
	default:
		return NULL;
	}
}

const char *qos_to_string(enum kwid_k8s_qos q)
{
	switch (q) {
	case KWID_QOS_GUARANTEED:
		return "guaranteed";
	case KWID_QOS_BURSTABLE:
		return "burstable";
	case KWID_QOS_BESTEFFORT:
		return "besteffort";
	default:
		return NULL;
	}
}

/* ---- single components ---- */

static bool is_hex64(const char *s, size_t len)
{
	return len == KWID_CONTAINER_ID_LEN && is_lower_hex(s, len);
}

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
	size_t sl = strlen(suffix);

	return len > sl && memcmp(s + len - sl, suffix, sl) == 0;
}

static bool is_unit_name(const char *s)
{
	static const char *const suffixes[] = {
		".service", ".scope", ".socket", ".mount", ".swap", ".target", ".device", ".timer",
		".path", ".automount",
	};
	size_t len = strlen(s);

	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
		if (has_suffix(s, len, suffixes[i]))
			return true;
	return false;
}

/* user@<uid>.service: a user's own systemd instance, whose subtree is
 * delegated to that user. */
static bool is_user_manager(const char *s)
{
	size_t len = strlen(s), digits;

	if (!startswith(s, "user@") || !has_suffix(s, len, ".service"))
		return false;
	digits = len - strlen("user@") - strlen(".service");
	if (digits == 0 || digits > 10)
		return false;
	for (size_t i = 0; i < digits; i++)
		if (!isdigit((unsigned char)s[5 + i]))
			return false;
	return true;
}

/* A Kubernetes pod UID: 36-char UUID (separator `sep` where a UUID has
 * dashes: '-' in cgroupfs paths, '_' in systemd slice names) or the 32 hex
 * digits of a static pod's config hash. Written out canonical, with dashes. */
int pod_uid_parse(const char *s, size_t len, char sep, char out[KWID_POD_UID_MAX + 1])
{
	if (len == 32) {
		if (!is_lower_hex(s, len))
			return -EINVAL;
		memcpy(out, s, len);
		out[len] = '\0';
		return 0;
	}
	if (len != 36)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		bool dash_pos = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash_pos) {
			if (s[i] != sep)
				return -EINVAL;
			out[i] = '-';
		} else {
			if (!is_lower_hex(&s[i], 1))
				return -EINVAL;
			out[i] = s[i];
		}
	}
	out[len] = '\0';
	return 0;
}

struct container_prefix {
	const char *prefix;
	enum kwid_runtime runtime;
	bool conmon;
};

/* Monitors first: "crio-conmon-" also starts with "crio-". */
static const struct container_prefix container_prefixes[] = {
	{"crio-conmon-", KWID_RUNTIME_CRIO, true},
	{"libpod-conmon-", KWID_RUNTIME_PODMAN, true},
	{"cri-containerd-", KWID_RUNTIME_CONTAINERD, false},
	{"crio-", KWID_RUNTIME_CRIO, false},
	{"libpod-", KWID_RUNTIME_PODMAN, false},
	{"docker-", KWID_RUNTIME_DOCKER, false},
	{"nerdctl-", KWID_RUNTIME_CONTAINERD, false},
};

struct container_match {
	enum kwid_runtime runtime;
	bool conmon;
	char id[KWID_CONTAINER_ID_LEN + 1];
};

/* "<prefix><64 hex><suffix>" for a known runtime prefix. 1: matched; 0:
 * not a runtime's name; -EINVAL: a runtime's name with a malformed id. */
static int match_prefixed(const char *comp, const char *suffix, struct container_match *m)
{
	size_t len = strlen(comp), slen = strlen(suffix);

	if (slen && !has_suffix(comp, len, suffix))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(container_prefixes); i++) {
		const struct container_prefix *p = &container_prefixes[i];
		size_t plen = strlen(p->prefix);

		if (!startswith(comp, p->prefix))
			continue;
		if (len < plen + slen || !is_hex64(comp + plen, len - plen - slen))
			return -EINVAL;
		m->runtime = p->runtime;
		m->conmon = p->conmon;
		memcpy(m->id, comp + plen, KWID_CONTAINER_ID_LEN);
		m->id[KWID_CONTAINER_ID_LEN] = '\0';
		return 1;
	}
	return 0;
}

/* ---- the result ---- */

static void clear_container(struct kwid_cgroup_path_info *out)
{
	out->runtime = KWID_RUNTIME_NONE;
	out->conmon = false;
	out->container_id[0] = '\0';
	out->pod_uid[0] = '\0';
	out->qos = KWID_QOS_NONE;
}

static void refuse_container(struct kwid_cgroup_path_info *out, const char *why)
{
	clear_container(out);
	if (!out->container_error) {
		out->container_error = -EINVAL;
		out->container_why = why;
	}
}

static void set_container(struct kwid_cgroup_path_info *out, const struct container_match *m)
{
	if (out->container_error)
		return; /* refused earlier in the path: nothing more is claimed */
	out->runtime = m->runtime;
	out->conmon = m->conmon;
	memcpy(out->container_id, m->id, sizeof(out->container_id));
}

/* Below the component that placed the process (its container, or a unit
 * that is not one), nothing may claim another container or pod: such a
 * subtree can be delegated to the workload itself. `strict` also refuses
 * bare 64-hex names (cgroupfs ids) that differ from the container's. */
static void check_below(char **comps, size_t n, struct kwid_cgroup_path_info *out, bool strict)
{
	for (size_t i = 0; i < n && !out->container_error; i++) {
		struct container_match m = {0};
		int r = match_prefixed(comps[i], ".scope", &m);

		if (r == 0)
			r = match_prefixed(comps[i], "", &m);
		if (r < 0) {
			refuse_container(out, "malformed container id below the container's cgroup");
		} else if (r > 0) {
			if (!out->container_id[0])
				refuse_container(out, "container id below a unit that is not a container (delegated subtree)");
			else if (strcmp(m.id, out->container_id) != 0 || m.conmon != out->conmon)
				refuse_container(out, "two different container ids in one cgroup path");
		} else if (startswith(comps[i], "kubepods")) {
			refuse_container(out, "pod cgroup below another cgroup");
		} else if (strict && out->container_id[0] && is_hex64(comps[i], strlen(comps[i])) &&
			   strcmp(comps[i], out->container_id) != 0) {
			refuse_container(out, "two different container ids in one cgroup path");
		}
	}
}

/* ---- systemd driver ---- */

/* kubepods[-<qos>][-pod<uid_>].slice: sets qos and pod uid. */
static void match_pod_slice(const char *stem, size_t len, struct kwid_cgroup_path_info *out)
{
	const char *rest;
	size_t rlen;
	enum kwid_k8s_qos qos = KWID_QOS_GUARANTEED;

	if (out->container_error || len < 9 || memcmp(stem, "kubepods-", 9) != 0)
		return;
	rest = stem + 9;
	rlen = len - 9;
	if (rlen == 9 && memcmp(rest, "burstable", 9) == 0) {
		out->qos = KWID_QOS_BURSTABLE;
		return;
	}
	if (rlen == 10 && memcmp(rest, "besteffort", 10) == 0) {
		out->qos = KWID_QOS_BESTEFFORT;
		return;
	}
	if (rlen > 10 && memcmp(rest, "burstable-", 10) == 0) {
		qos = KWID_QOS_BURSTABLE;
		rest += 10;
		rlen -= 10;
	} else if (rlen > 11 && memcmp(rest, "besteffort-", 11) == 0) {
		qos = KWID_QOS_BESTEFFORT;
		rest += 11;
		rlen -= 11;
	}
	if (rlen < 3 || memcmp(rest, "pod", 3) != 0)
		return; /* some other kubepods slice: no pod claim */
	if (out->pod_uid[0]) {
		refuse_container(out, "two pod slices in one cgroup path");
		return;
	}
	if (pod_uid_parse(rest + 3, rlen - 3, '_', out->pod_uid) < 0) {
		refuse_container(out, "malformed pod uid in a kubepods slice name");
		return;
	}
	out->qos = qos;
}

static int parse_systemd(char **comps, size_t n, struct kwid_cgroup_path_info *out, const char **why)
{
	const char *parent = NULL;
	size_t parent_len = 0, i = 0;
	struct container_match m = {0};
	int r;

	for (; i < n && has_suffix(comps[i], strlen(comps[i]), ".slice"); i++) {
		const char *c = comps[i];
		size_t stem = strlen(c) - strlen(".slice");

		/* systemd names a slice after its place: a-b.slice lives in a.slice. */
		if (!parent) {
			if (memchr(c, '-', stem))
				return fail(why, "top-level slice name holds '-' (it belongs inside another slice)");
		} else if (stem <= parent_len + 1 || memcmp(c, parent, parent_len) != 0 || c[parent_len] != '-') {
			return fail(why, "slice is not inside its parent slice");
		}
		match_pod_slice(c, stem, out);
		strscpy(out->slice, c, sizeof(out->slice));
		parent = c;
		parent_len = stem;
	}
	if (i == n)
		return 0;
	if (!is_unit_name(comps[i])) {
		/* Not a systemd-managed place (e.g. /process_api/x): no unit,
		 * and no known runtime layout either. */
		clear_container(out);
		out->slice[0] = '\0';
		return 0;
	}
	strscpy(out->unit, comps[i], sizeof(out->unit));
	if (i == 0)
		strscpy(out->slice, "-.slice", sizeof(out->slice));

	r = match_prefixed(comps[i], ".scope", &m);
	if (r < 0)
		refuse_container(out, "malformed container id in a runtime's scope name");
	else if (r > 0)
		set_container(out, &m);

	if (is_user_manager(comps[i])) {
		size_t j = i + 1;
		while (j < n && has_suffix(comps[j], strlen(comps[j]), ".slice"))
			j++;
		if (j < n && is_unit_name(comps[j]))
			strscpy(out->user_unit, comps[j], sizeof(out->user_unit));
	}
	check_below(comps + i + 1, n - i - 1, out, true);
	return 0;
}

/* ---- cgroupfs driver ---- */

static int parse_cgroupfs_docker(char **comps, size_t n, struct kwid_cgroup_path_info *out)
{
	if (n < 2)
		return 0;
	if (!is_hex64(comps[1], strlen(comps[1]))) {
		refuse_container(out, "malformed container id after /docker/");
		return 0;
	}
	out->runtime = KWID_RUNTIME_DOCKER;
	memcpy(out->container_id, comps[1], KWID_CONTAINER_ID_LEN + 1);
	check_below(comps + 2, n - 2, out, true);
	return 0;
}

static int parse_cgroupfs_kubepods(char **comps, size_t n, struct kwid_cgroup_path_info *out)
{
	enum kwid_k8s_qos qos = KWID_QOS_GUARANTEED;
	struct container_match m = {0};
	size_t i = 1;
	int r;

	if (i < n && streq(comps[i], "burstable")) {
		qos = KWID_QOS_BURSTABLE;
		i++;
	} else if (i < n && streq(comps[i], "besteffort")) {
		qos = KWID_QOS_BESTEFFORT;
		i++;
	}
	if (i >= n || !startswith(comps[i], "pod"))
		return 0;
	if (pod_uid_parse(comps[i] + 3, strlen(comps[i]) - 3, '-', out->pod_uid) < 0) {
		refuse_container(out, "malformed pod uid in a kubepods path");
		return 0;
	}
	out->qos = qos;
	if (++i >= n)
		return 0;
	if (is_hex64(comps[i], strlen(comps[i]))) {
		out->runtime = KWID_RUNTIME_UNKNOWN; /* containerd and cri-dockerd name it alike */
		memcpy(out->container_id, comps[i], KWID_CONTAINER_ID_LEN + 1);
	} else {
		r = match_prefixed(comps[i], "", &m);
		if (r <= 0 || m.runtime != KWID_RUNTIME_CRIO) {
			refuse_container(out, "malformed container id in a kubepods path");
			return 0;
		}
		set_container(out, &m);
	}
	check_below(comps + i + 1, n - i - 1, out, true);
	return 0;
}

static int parse_cgroupfs_libpod(char **comps, size_t n, struct kwid_cgroup_path_info *out)
{
	struct container_match m = {0};

	if (n < 2)
		return 0;
	if (match_prefixed(comps[1], "", &m) <= 0 || m.runtime != KWID_RUNTIME_PODMAN) {
		refuse_container(out, "malformed container name after /libpod_parent/");
		return 0;
	}
	set_container(out, &m);
	check_below(comps + 2, n - 2, out, true);
	return 0;
}

static int check_component(const char *c, const char **why)
{
	size_t len = strlen(c);

	if (len == 0)
		return fail(why, "empty cgroup path component (double or trailing slash)");
	if (streq(c, ".") || streq(c, ".."))
		return fail(why, "cgroup path traverses with '.' or '..'");
	if (len > KWID_CGROUP_NAME_MAX)
		return fail(why, "cgroup path component longer than 255 bytes");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
			return fail(why, "cgroup path holds a control character");
	return 0;
}

int cgroup_path_parse(const char *path, struct kwid_cgroup_path_info *out, const char **why)
{
	char buf[KWID_CGROUP_PATH_MAX + 1];
	char *comps[CGROUP_DEPTH_MAX];
	size_t n = 0, len;
	char *p;
	int r;

	memset(out, 0, sizeof(*out));
	if (!path || path[0] != '/')
		return fail(why, "cgroup path is not absolute");
	len = strnlen(path, KWID_CGROUP_PATH_MAX + 1);
	if (len > KWID_CGROUP_PATH_MAX)
		return fail(why, "cgroup path longer than 4096 bytes");
	if (len == 1)
		return 0;
	memcpy(buf, path, len + 1);
	for (p = buf + 1;;) {
		char *slash = strchr(p, '/');

		if (slash)
			*slash = '\0';
		r = check_component(p, why);
		if (r < 0)
			return r;
		if (n == CGROUP_DEPTH_MAX)
			return fail(why, "cgroup path deeper than 256 levels");
		comps[n++] = p;
		if (!slash)
			break;
		p = slash + 1;
	}
	if (streq(comps[0], "docker"))
		return parse_cgroupfs_docker(comps, n, out);
	if (streq(comps[0], "kubepods"))
		return parse_cgroupfs_kubepods(comps, n, out);
	if (streq(comps[0], "libpod_parent"))
		return parse_cgroupfs_libpod(comps, n, out);
	return parse_systemd(comps, n, out, why);
}

/* ---- /proc/<pid>/cgroup ---- */

struct cgroup_line {
	unsigned id;
	const char *ctrl; /* points into the caller's copy */
	const char *path;
};

/* Split "id:controllers:path" in place. */
static int parse_line(char *line, struct cgroup_line *out, const char **why)
{
	char *c1 = strchr(line, ':'), *c2;
	uint64_t id;

	if (!c1)
		return fail(why, "cgroup line without ':'");
	*c1 = '\0';
	c2 = strchr(c1 + 1, ':');
	if (!c2)
		return fail(why, "cgroup line without a second ':'");
	*c2 = '\0';
	if (parse_u64(line, 0, 65535, &id) < 0)
		return fail(why, "cgroup line with a bad hierarchy id");
	if (strlen(c1 + 1) >= sizeof(((struct kwid_cgroup_layout *)0)->h[0].controllers))
		return fail(why, "cgroup line with overlong controller list");
	for (const char *p = c1 + 1; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || strchr("_,=-.", *p)))
			return fail(why, "cgroup line with a bad controller name");
	out->id = (unsigned)id;
	out->ctrl = c1 + 1;
	out->path = c2 + 1;
	return 0;
}

/* Split text into lines (each must end with '\n'); at most max lines. */
static int split_lines(char *text, struct cgroup_line *lines, size_t max, size_t *n, const char **why)
{
	char *p = text;

	*n = 0;
	if (!*p)
		return fail(why, "cgroup membership is empty");
	while (*p) {
		char *nl = strchr(p, '\n');
		int r;

		if (!nl)
			return fail(why, "cgroup membership does not end with a newline");
		*nl = '\0';
		if (*n == max)
			return fail(why, "cgroup membership has more lines than hierarchies");
		r = parse_line(p, &lines[*n], why);
		if (r < 0)
			return r;
		for (size_t i = 0; i < *n; i++)
			if (lines[i].id == lines[*n].id)
				return fail(why, "cgroup membership lists a hierarchy twice");
		(*n)++;
		p = nl + 1;
	}
	return 0;
}

/* Bounded copy of /proc/<pid>/cgroup text split into lines (*copy owns
 * the strings the lines point into). */
static int split_text(const char *text, char **copy, struct cgroup_line *lines, size_t *n, const char **why)
{
	if (!text)
		return fail(why, "cgroup membership is missing");
	if (strnlen(text, KWID_CGROUP_TEXT_MAX + 1) > KWID_CGROUP_TEXT_MAX)
		return fail(why, "cgroup membership longer than 64 KiB");
	*copy = strdup(text);
	if (!*copy)
		return -ENOMEM;
	return split_lines(*copy, lines, KWID_CGROUP_HIERARCHIES_MAX, n, why);
}

int cgroup_layout_parse(const char *text, struct kwid_cgroup_layout *out, const char **why)
{
	_cleanup_free_ char *copy = NULL;
	struct cgroup_line lines[KWID_CGROUP_HIERARCHIES_MAX];
	size_t n;
	int r;

	memset(out, 0, sizeof(*out));
	r = split_text(text, &copy, lines, &n, why);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		out->h[i].id = lines[i].id;
		strscpy(out->h[i].controllers, lines[i].ctrl, sizeof(out->h[i].controllers));
	}
	out->n = n;
	return 0;
}

int cgroup_layout_read(struct kwid_cgroup_layout *out)
{
	_cleanup_free_ char *text = NULL;
	const char *why = NULL;
	int r = read_file("/proc/self/cgroup", KWID_CGROUP_TEXT_MAX, &text, NULL);

	if (r < 0)
		return r;
	return cgroup_layout_parse(text, out, &why);
}

static int check_layout(const struct cgroup_line *lines, size_t n, const struct kwid_cgroup_layout *layout,
			const char **why)
{
	if (n != layout->n)
		return fail(why, "cgroup membership does not list this host's hierarchies");
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < layout->n && !found; j++)
			found = layout->h[j].id == lines[i].id && streq(layout->h[j].controllers, lines[i].ctrl);
		if (!found)
			return fail(why, "cgroup membership names a hierarchy this host does not have");
	}
	return 0;
}

static int rank(const char *ctrl)
{
	if (!*ctrl)
		return 0;
	if (streq(ctrl, "name=systemd"))
		return 1;
	return 2;
}

/* Fold one hierarchy's container facts into the merged ones; a
 * disagreement refuses the container. */
static void merge_container(struct kwid_cgroup_path_info *acc, bool *have, const struct kwid_cgroup_path_info *li)
{
	if (li->container_error) {
		refuse_container(acc, li->container_why);
		return;
	}
	if (acc->container_error)
		return;
	if (li->runtime == KWID_RUNTIME_NONE && !li->pod_uid[0])
		return;
	if (!*have) {
		acc->runtime = li->runtime;
		acc->conmon = li->conmon;
		memcpy(acc->container_id, li->container_id, sizeof(acc->container_id));
		memcpy(acc->pod_uid, li->pod_uid, sizeof(acc->pod_uid));
		acc->qos = li->qos;
		*have = true;
		return;
	}
	if ((acc->container_id[0] && li->container_id[0] && strcmp(acc->container_id, li->container_id) != 0) ||
	    (acc->pod_uid[0] && li->pod_uid[0] && strcmp(acc->pod_uid, li->pod_uid) != 0) ||
	    (acc->qos && li->qos && acc->qos != li->qos) ||
	    (acc->container_id[0] && li->container_id[0] && acc->conmon != li->conmon)) {
		refuse_container(acc, "cgroup hierarchies disagree about the container");
		return;
	}
	if (acc->runtime > KWID_RUNTIME_UNKNOWN && li->runtime > KWID_RUNTIME_UNKNOWN && acc->runtime != li->runtime) {
		refuse_container(acc, "cgroup hierarchies disagree about the container runtime");
		return;
	}
	if (!acc->container_id[0] && li->container_id[0]) {
		memcpy(acc->container_id, li->container_id, sizeof(acc->container_id));
		acc->conmon = li->conmon;
	}
	if (!acc->pod_uid[0])
		memcpy(acc->pod_uid, li->pod_uid, sizeof(acc->pod_uid));
	if (!acc->qos)
		acc->qos = li->qos;
	if (acc->runtime <= KWID_RUNTIME_UNKNOWN && li->runtime > acc->runtime)
		acc->runtime = li->runtime;
}

/* Is line a better choice for the trusted line than line b? */
static bool better_line(const struct cgroup_line *a, const struct kwid_cgroup_path_info *ai,
			const struct cgroup_line *b, const struct kwid_cgroup_path_info *bi)
{
	bool a_inf = !streq(a->path, "/"), b_inf = !streq(b->path, "/");
	bool a_ctr = ai->container_id[0] || ai->pod_uid[0], b_ctr = bi->container_id[0] || bi->pod_uid[0];

	if (a_inf != b_inf)
		return a_inf;
	if (rank(a->ctrl) != rank(b->ctrl))
		return rank(a->ctrl) < rank(b->ctrl);
	return a_ctr && !b_ctr;
}

int cgroup_membership_parse(const char *text, const struct kwid_cgroup_layout *layout,
			    struct kwid_cgroup_membership *out, const char **why)
{
	_cleanup_free_ char *copy = NULL;
	_cleanup_free_ struct kwid_cgroup_path_info *infos = NULL;
	struct cgroup_line lines[KWID_CGROUP_HIERARCHIES_MAX];
	struct kwid_cgroup_path_info merged;
	size_t n, best = 0;
	bool have = false;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&merged, 0, sizeof(merged));
	r = split_text(text, &copy, lines, &n, why);
	if (r < 0)
		return r;
	if (layout) {
		r = check_layout(lines, n, layout, why);
		if (r < 0)
			return r;
	}
	infos = calloc_array(n, sizeof(*infos));
	if (!infos)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = cgroup_path_parse(lines[i].path, &infos[i], why);
		if (r < 0)
			return r;
		merge_container(&merged, &have, &infos[i]);
	}
	/* The trusted line: one that says more than "/", unified before
	 * name=systemd before v1 controllers, then one that places the
	 * process in a container. */
	for (size_t i = 1; i < n; i++)
		if (better_line(&lines[i], &infos[i], &lines[best], &infos[best]))
			best = i;
	memcpy(merged.unit, infos[best].unit, sizeof(merged.unit));
	memcpy(merged.slice, infos[best].slice, sizeof(merged.slice));
	memcpy(merged.user_unit, infos[best].user_unit, sizeof(merged.user_unit));
	strscpy(out->path, lines[best].path, sizeof(out->path));
	strscpy(out->source, *lines[best].ctrl ? lines[best].ctrl : "unified", sizeof(out->source));
	out->info = merged;
	return 0;
}
