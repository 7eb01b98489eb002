/* x509_build.h - encode and sign the certificates kwid issues: X.509-SVID
 * leaves and local root CA certificates, written straight as DER so that
 * minting costs little more than the key generation and the signature.
 *
 * Leaf rules (SPIFFE X509-SVID): exactly one URI SAN (the SPIFFE ID) plus
 * optional DNS SANs, critical basicConstraints cA=false, critical keyUsage
 * digitalSignature only, extendedKeyUsage serverAuth + clientAuth, empty
 * subject with a critical SAN, SKI and AKI. CA certificates: critical
 * basicConstraints cA=true, critical keyUsage keyCertSign + cRLSign, the
 * trust domain's SPIFFE ID (no path) as URI SAN. */
#ifndef KWID_X509_BUILD_H
#define KWID_X509_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kwid/entries.h"
#include "kwid/signer.h"

#define CERT_SERIAL_LEN 16
#define CERT_SKI_LEN 20
#define CERT_MAX_DNS ENTRY_MAX_DNS_NAMES

struct cert_spec {
	uint8_t serial[CERT_SERIAL_LEN];
	const uint8_t *issuer;	/* Name DER of the issuer (its subject) */
	size_t issuer_len;
	const uint8_t *subject; /* Name DER; NULL for an empty subject */
	size_t subject_len;
	int64_t not_before, not_after;
	const uint8_t *spki;	/* SubjectPublicKeyInfo DER */
	size_t spki_len;
	bool ca;
	uint8_t ski[CERT_SKI_LEN];
	const uint8_t *aki;	/* the issuer's key identifier, or NULL */
	size_t aki_len;
	const char *uri;	/* SPIFFE ID */
	const char *const *dns;
	size_t ndns;
};

/* Random positive 127-bit serial (RFC 5280: at most 20 octets, positive). */
int cert_random_serial(uint8_t serial[CERT_SERIAL_LEN]);
/* SubjectPublicKeyInfo of a P-256 point (91 bytes) and its key identifier
 * (SHA-1 of the public key bits, RFC 5280 4.2.1.2 method 1). */
#define P256_SPKI_LEN 91
void p256_spki(const uint8_t pub[65], uint8_t out[P256_SPKI_LEN]);
void p256_key_id(const uint8_t pub[65], uint8_t ski[CERT_SKI_LEN]);
/* Name DER "O=<org>, CN=<cn>" (UTF8String values, each 1..64 bytes). */
int cert_name(const char *org, const char *cn, uint8_t **der, size_t *len);

/* Encode the certificate described by spec and sign it with issuer.
 * DNS names must pass entry_dns_name_validate() (kwid/entries.h), the
 * rule registration entries follow. *der is malloc'd. */
int cert_issue(const struct cert_spec *spec, struct kwid_signer *issuer, uint8_t **der, size_t *len);

#endif
