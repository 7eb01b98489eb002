/* x509_build.c - DER encoding and signing of the certificates kwid issues
 * (see kwid/x509_build.h for the rules each kind follows). */
#include "kwid/der.h"
#include "kwid/x509_build.h"
#include "kwid/util.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

/* OIDs as full TLVs. */
static const uint8_t OID_BASIC_CONSTRAINTS[] = {0x06, 0x03, 0x55, 0x1d, 0x13};
static const uint8_t OID_KEY_USAGE[] = {0x06, 0x03, 0x55, 0x1d, 0x0f};
static const uint8_t OID_EXT_KEY_USAGE[] = {0x06, 0x03, 0x55, 0x1d, 0x25};
static const uint8_t OID_SAN[] = {0x06, 0x03, 0x55, 0x1d, 0x11};
static const uint8_t OID_SKI[] = {0x06, 0x03, 0x55, 0x1d, 0x0e};
static const uint8_t OID_AKI[] = {0x06, 0x03, 0x55, 0x1d, 0x23};
static const uint8_t OID_ORG[] = {0x06, 0x03, 0x55, 0x04, 0x0a};
static const uint8_t OID_CN[] = {0x06, 0x03, 0x55, 0x04, 0x03};

/* Extension values. */
static const uint8_t BC_CA[] = {0x30, 0x03, 0x01, 0x01, 0xff};   /* cA TRUE */
static const uint8_t BC_LEAF[] = {0x30, 0x00};			 /* cA FALSE (default, omitted) */
static const uint8_t KU_CA[] = {0x03, 0x02, 0x01, 0x06};	 /* keyCertSign, cRLSign */
static const uint8_t KU_LEAF[] = {0x03, 0x02, 0x07, 0x80};	 /* digitalSignature */
static const uint8_t EKU_LEAF[] = {0x30, 0x14, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03,
				   0x01, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02};
static const uint8_t VERSION_3[] = {0xa0, 0x03, 0x02, 0x01, 0x02};
static const uint8_t CRITICAL[] = {0x01, 0x01, 0xff};
static const uint8_t SPKI_P256_PREFIX[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
					   0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
					   0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};

int cert_random_serial(uint8_t serial[CERT_SERIAL_LEN])
{
	if (RAND_bytes(serial, CERT_SERIAL_LEN) != 1)
		return -EIO;
	/* 0x40..0x7f: positive and never a leading zero octet. */
	serial[0] = (serial[0] & 0x3f) | 0x40;
	return 0;
}

void p256_spki(const uint8_t pub[65], uint8_t out[P256_SPKI_LEN])
{
	memcpy(out, SPKI_P256_PREFIX, sizeof(SPKI_P256_PREFIX));
	memcpy(out + sizeof(SPKI_P256_PREFIX), pub, 65);
}

void p256_key_id(const uint8_t pub[65], uint8_t ski[CERT_SKI_LEN])
{
	SHA1(pub, 65, ski);
}

static void put_rdn(struct der *d, const uint8_t *oid, size_t oidlen, const char *value)
{
	der_begin(d, DER_SET);
	der_begin(d, DER_SEQUENCE);
	der_put_raw(d, oid, oidlen);
	der_put(d, DER_UTF8STRING, value, strlen(value));
	der_end(d);
	der_end(d);
}

int cert_name(const char *org, const char *cn, uint8_t **out, size_t *len)
{
	struct der d;

	if (!org || !cn || !*org || !*cn || strlen(org) > 64 || strlen(cn) > 64)
		return -EINVAL;
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);
	put_rdn(&d, OID_ORG, sizeof(OID_ORG), org);
	put_rdn(&d, OID_CN, sizeof(OID_CN), cn);
	der_end(&d);
	return der_finish(&d, out, len);
}

/* Extension { extnID, critical DEFAULT FALSE, extnValue OCTET STRING } with
 * a ready-made value. */
static void put_ext(struct der *d, const uint8_t *oid, size_t oidlen, bool critical, const uint8_t *value,
		    size_t vlen)
{
	der_begin(d, DER_SEQUENCE);
	der_put_raw(d, oid, oidlen);
	if (critical)
		der_put_raw(d, CRITICAL, sizeof(CRITICAL));
	der_put(d, DER_OCTET_STRING, value, vlen);
	der_end(d);
}

static void put_san(struct der *d, const struct cert_spec *s)
{
	der_begin(d, DER_SEQUENCE);
	der_put_raw(d, OID_SAN, sizeof(OID_SAN));
	if (!s->subject) /* RFC 5280 4.2.1.6: critical when the subject is empty */
		der_put_raw(d, CRITICAL, sizeof(CRITICAL));
	der_begin(d, DER_OCTET_STRING);
	der_begin(d, DER_SEQUENCE);
	der_put(d, DER_CONTEXT(6), s->uri, strlen(s->uri)); /* uniformResourceIdentifier */
	for (size_t i = 0; i < s->ndns; i++)
		der_put(d, DER_CONTEXT(2), s->dns[i], strlen(s->dns[i])); /* dNSName */
	der_end(d);
	der_end(d);
	der_end(d);
}

static void put_key_ids(struct der *d, const struct cert_spec *s)
{
	der_begin(d, DER_SEQUENCE);
	der_put_raw(d, OID_SKI, sizeof(OID_SKI));
	der_begin(d, DER_OCTET_STRING);
	der_put(d, DER_OCTET_STRING, s->ski, CERT_SKI_LEN);
	der_end(d);
	der_end(d);
	if (!s->aki)
		return;
	der_begin(d, DER_SEQUENCE);
	der_put_raw(d, OID_AKI, sizeof(OID_AKI));
	der_begin(d, DER_OCTET_STRING);
	der_begin(d, DER_SEQUENCE);
	der_put(d, DER_CONTEXT(0), s->aki, s->aki_len); /* keyIdentifier */
	der_end(d);
	der_end(d);
	der_end(d);
}

static void put_tbs(struct der *d, const struct cert_spec *s, const struct kwid_signer *issuer)
{
	static const uint8_t EMPTY_NAME[] = {0x30, 0x00};

	der_begin(d, DER_SEQUENCE);
	der_put_raw(d, VERSION_3, sizeof(VERSION_3));
	der_put_uint(d, s->serial, CERT_SERIAL_LEN);
	der_put_raw(d, issuer->sigalg_der, issuer->sigalg_len);
	der_put_raw(d, s->issuer, s->issuer_len);
	der_begin(d, DER_SEQUENCE);
	der_put_time(d, s->not_before);
	der_put_time(d, s->not_after);
	der_end(d);
	if (s->subject)
		der_put_raw(d, s->subject, s->subject_len);
	else
		der_put_raw(d, EMPTY_NAME, sizeof(EMPTY_NAME));
	der_put_raw(d, s->spki, s->spki_len);
	der_begin(d, DER_CONTEXT_CONS(3));
	der_begin(d, DER_SEQUENCE);
	put_ext(d, OID_BASIC_CONSTRAINTS, sizeof(OID_BASIC_CONSTRAINTS), true, s->ca ? BC_CA : BC_LEAF,
		s->ca ? sizeof(BC_CA) : sizeof(BC_LEAF));
	put_ext(d, OID_KEY_USAGE, sizeof(OID_KEY_USAGE), true, s->ca ? KU_CA : KU_LEAF,
		s->ca ? sizeof(KU_CA) : sizeof(KU_LEAF));
	if (!s->ca)
		put_ext(d, OID_EXT_KEY_USAGE, sizeof(OID_EXT_KEY_USAGE), false, EKU_LEAF, sizeof(EKU_LEAF));
	put_san(d, s);
	put_key_ids(d, s);
	der_end(d);
	der_end(d);
	der_end(d);
}

static int spec_check(const struct cert_spec *s)
{
	if (!s->issuer || !s->spki || !s->uri || !*s->uri || s->ndns > CERT_MAX_DNS ||
	    s->not_after <= s->not_before || (s->aki && (s->aki_len == 0 || s->aki_len > 64)))
		return -EINVAL;
	if (s->ca && s->ndns)
		return -EINVAL;
	for (size_t i = 0; i < s->ndns; i++) {
		const char *why;
		if (entry_dns_name_validate(s->dns[i], &why) < 0)
			return -EINVAL;
	}
	return 0;
}

int cert_issue(const struct cert_spec *spec, struct kwid_signer *issuer, uint8_t **out, size_t *outlen)
{
	uint8_t sig[SIGNER_MAX_SIG];
	size_t siglen = sizeof(sig), tbslen;
	_cleanup_free_ uint8_t *tbs = NULL;
	struct der d;
	int r = spec_check(spec);

	if (r < 0)
		return r;
	der_init(&d);
	put_tbs(&d, spec, issuer);
	r = der_finish(&d, &tbs, &tbslen);
	if (r < 0)
		return r;
	r = signer_sign(issuer, tbs, tbslen, sig, &siglen);
	if (r < 0)
		return r;
	der_begin(&d, DER_SEQUENCE);
	der_put_raw(&d, tbs, tbslen);
	der_put_raw(&d, issuer->sigalg_der, issuer->sigalg_len);
	der_put_bits(&d, sig, siglen);
	der_end(&d);
	return der_finish(&d, out, outlen);
}
