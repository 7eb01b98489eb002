/* keygen.c - EC P-256 key pairs without EVP_PKEY overhead, and their
 * PKCS#8 encoding (see kwid/keypool.h). */
#include "kwid/keypool.h"
#include "kwid/util.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

struct kwid_keygen {
	EC_GROUP *group;
	BN_CTX *bn;
	BIGNUM *d;
	EC_POINT *point;
};

void keygen_free(struct kwid_keygen *g)
{
	if (!g)
		return;
	BN_clear_free(g->d);
	EC_POINT_clear_free(g->point);
	BN_CTX_free(g->bn);
	EC_GROUP_free(g->group);
	free(g);
}

int keygen_new(struct kwid_keygen **out)
{
	struct kwid_keygen *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	g->bn = BN_CTX_secure_new();
	g->d = BN_secure_new();
	g->point = g->group ? EC_POINT_new(g->group) : NULL;
	if (!g->group || !g->bn || !g->d || !g->point) {
		keygen_free(g);
		return -ENOMEM;
	}
	BN_set_flags(g->d, BN_FLG_CONSTTIME);
	*out = g;
	return 0;
}

int keygen_p256(struct kwid_keygen *g, struct kwid_keypair *out)
{
	const BIGNUM *order = EC_GROUP_get0_order(g->group);

	/* Uniform in [1, n): as ossl_ec_key_simple_generate_key() draws it. */
	do {
		if (!BN_priv_rand_range(g->d, order))
			return -EIO;
	} while (BN_is_zero(g->d));
	if (!EC_POINT_mul(g->group, g->point, g->d, NULL, NULL, g->bn) ||
	    EC_POINT_point2oct(g->group, g->point, POINT_CONVERSION_UNCOMPRESSED, out->pub,
			       sizeof(out->pub), g->bn) != sizeof(out->pub) ||
	    BN_bn2binpad(g->d, out->priv, sizeof(out->priv)) != (int)sizeof(out->priv)) {
		BN_clear(g->d);
		return -EIO;
	}
	BN_clear(g->d);
	return 0;
}

/* PrivateKeyInfo { version 0, AlgorithmIdentifier { id-ecPublicKey,
 * prime256v1 }, OCTET STRING { ECPrivateKey { 1, OCTET STRING priv,
 * [1] BIT STRING pub } } } - the same bytes `openssl pkcs8 -topk8` gives. */
static const uint8_t PKCS8_HEAD[] = {
	0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30,
	0x6b, 0x02, 0x01, 0x01, 0x04, 0x20,
};
static const uint8_t PKCS8_PUB[] = {0xa1, 0x44, 0x03, 0x42, 0x00};

void keypair_to_pkcs8(const struct kwid_keypair *kp, uint8_t out[P256_PKCS8_LEN])
{
	size_t o = 0;

	memcpy(out + o, PKCS8_HEAD, sizeof(PKCS8_HEAD));
	o += sizeof(PKCS8_HEAD);
	memcpy(out + o, kp->priv, sizeof(kp->priv));
	o += sizeof(kp->priv);
	memcpy(out + o, PKCS8_PUB, sizeof(PKCS8_PUB));
	o += sizeof(PKCS8_PUB);
	memcpy(out + o, kp->pub, sizeof(kp->pub));
}

void keypair_wipe(struct kwid_keypair *kp)
{
	OPENSSL_cleanse(kp, sizeof(*kp));
}
