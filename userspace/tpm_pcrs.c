/* tpm_pcrs.c - PCR selections: the "sha256:0-7,10+sha1:10" spelling used
 * by the configuration and kwidctl, and its TPML_PCR_SELECTION form. */
#include "kwid/errbuf.h"
#include "kwid/tpm.h"


#define PCR_SPEC_MAX 256

static int parse_index(const char *s, const char *end, unsigned *out)
{
	unsigned v = 0;

	if (s == end || end - s > 2)
		return -EINVAL;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v >= KWID_PCR_COUNT)
		return -ERANGE;
	*out = v;
	return 0;
}

/* "0,1,4-7,10" into *mask. */
static int parse_list(const char *list, uint32_t *mask, char *err, size_t errlen, const char *bank)
{
	const char *p = list;

	if (!*p)
		return errbuf_set(-EINVAL, err, errlen, "PCR selection: bank %s has no PCR indices", bank);
	while (*p) {
		const char *end = strchrnul(p, ','), *dash = memchr(p, '-', (size_t)(end - p));
		unsigned lo, hi;

		if (dash) {
			if (parse_index(p, dash, &lo) < 0 || parse_index(dash + 1, end, &hi) < 0 || lo > hi)
				return errbuf_set(-EINVAL, err, errlen, "PCR selection: bad range '%.*s' for %s (PCRs are 0..%d)",
					    (int)(end - p), p, bank, KWID_PCR_COUNT - 1);
		} else {
			if (parse_index(p, end, &lo) < 0)
				return errbuf_set(-EINVAL, err, errlen, "PCR selection: bad index '%.*s' for %s (PCRs are 0..%d)",
					    (int)(end - p), p, bank, KWID_PCR_COUNT - 1);
			hi = lo;
		}
		for (unsigned i = lo; i <= hi; i++)
			*mask |= 1u << i;
		p = *end ? end + 1 : end;
		if (*end && !*p)
			return errbuf_set(-EINVAL, err, errlen, "PCR selection: trailing comma after %s", bank);
	}
	return 0;
}

int pcr_selection_parse(const char *spec, struct kwid_pcr_selection *out, char *err, size_t errlen)
{
	char buf[PCR_SPEC_MAX + 1], *save = NULL, *part;
	int r;

	memset(out, 0, sizeof(*out));
	if (!spec || !*spec)
		return errbuf_set(-EINVAL, err, errlen, "PCR selection is empty");
	if (strscpy(buf, spec, sizeof(buf)) < 0)
		return errbuf_set(-EINVAL, err, errlen, "PCR selection is longer than %d bytes", PCR_SPEC_MAX);
	for (part = strtok_r(buf, "+", &save); part; part = strtok_r(NULL, "+", &save)) {
		char *colon = strchr(part, ':');
		enum kwid_digest_alg alg;

		if (!colon)
			return errbuf_set(-EINVAL, err, errlen, "PCR selection '%s': expected BANK:INDICES, e.g. sha256:0,7,10", part);
		*colon = '\0';
		if (digest_alg_from_name(part, &alg) < 0)
			return errbuf_set(-EINVAL, err, errlen, "PCR selection: unknown bank '%s' (sha1, sha256, sha384, sha512)",
				    part);
		r = parse_list(colon + 1, &out->mask[alg], err, errlen, part);
		if (r < 0)
			return r;
	}
	if (pcr_selection_empty(out))
		return errbuf_set(-EINVAL, err, errlen, "PCR selection '%s' selects nothing", spec);
	return 0;
}

bool pcr_selection_empty(const struct kwid_pcr_selection *s)
{
	for (size_t b = 0; b < KWID_DIGEST__COUNT; b++)
		if (s->mask[b])
			return false;
	return true;
}

void pcr_selection_format(const struct kwid_pcr_selection *s, char *out, size_t outlen)
{
	size_t o = 0;

	if (!outlen)
		return;
	out[0] = '\0';
	for (size_t b = 0; b < KWID_DIGEST__COUNT; b++) {
		bool first = true;
		if (!s->mask[b])
			continue;
		o += (size_t)snprintf(out + o, o < outlen ? outlen - o : 0, "%s%s:", o ? "+" : "",
				      digest_info(b)->name);
		for (unsigned i = 0; i < KWID_PCR_COUNT; i++) {
			if (!(s->mask[b] & (1u << i)))
				continue;
			o += (size_t)snprintf(out + o, o < outlen ? outlen - o : 0, "%s%u", first ? "" : ",", i);
			first = false;
		}
	}
}

void pcr_selection_to_tpml(const struct kwid_pcr_selection *s, TPML_PCR_SELECTION *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t b = 0; b < KWID_DIGEST__COUNT; b++) {
		TPMS_PCR_SELECTION *p;
		if (!s->mask[b])
			continue;
		p = &out->pcrSelections[out->count++];
		p->hash = digest_info(b)->tpm_alg;
		p->sizeofSelect = 3;
		for (unsigned i = 0; i < 3; i++)
			p->pcrSelect[i] = (uint8_t)(s->mask[b] >> (8 * i));
	}
}
