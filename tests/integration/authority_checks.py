#!/usr/bin/python3
"""authority_checks.py - independent checks of kwid's authority for
40_authority.bats: every X.509-SVID leaf rule with python3-cryptography,
JWT-SVIDs with python3-jwt against the agent's JWKS, the JWKS shape, and the
rotation observations (publish before sign, keep until expiry).

Run as: authority_checks.py COMMAND ARGS... (see main()). Exits non-zero
with a message naming the rule that failed."""

import base64
import datetime
import json
import subprocess
import sys
import time

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID


def fail(msg):
    print("authority_checks: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def pem_certs(text):
    """Every certificate of a PEM text, in order."""
    out, cur = [], None
    for line in text.splitlines(keepends=True):
        if line.startswith("-----BEGIN CERTIFICATE-----"):
            cur = line
        elif cur is not None:
            cur += line
            if line.startswith("-----END CERTIFICATE-----"):
                out.append(x509.load_pem_x509_certificate(cur.encode()))
                cur = None
    return out


def ext(cert, cls):
    try:
        return cert.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None


def ski(cert):
    e = ext(cert, x509.SubjectKeyIdentifier)
    return e.value.digest if e else None


def verify_signed_by(cert, issuer):
    pub = issuer.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    elif isinstance(pub, rsa.RSAPublicKey):
        pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
    else:
        fail("unexpected issuer key type")


def check_ca_cert(cert, td, what):
    bc = ext(cert, x509.BasicConstraints)
    check(bc and bc.critical and bc.value.ca, what + ": basicConstraints must be critical with cA=true")
    ku = ext(cert, x509.KeyUsage)
    check(ku and ku.critical and ku.value.key_cert_sign, what + ": keyUsage must be critical with keyCertSign")
    san = ext(cert, x509.SubjectAlternativeName)
    if san:
        uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
        check(uris in ([], ["spiffe://" + td]), what + ": a CA's SPIFFE ID has no path, got %r" % uris)


def check_leaf(chain_pem, key_pem, bundle_pem, spiffe_id, dns, lifetime, td):
    chain = pem_certs(chain_pem)
    roots = pem_certs(bundle_pem)
    check(len(chain) >= 1 and roots, "empty chain or bundle")
    leaf = chain[0]
    now = datetime.datetime.utcnow()
    check(leaf.version == x509.Version.v3, "leaf is not X.509 v3")
    check(len(leaf.subject) == 0, "leaf subject should be empty, got %s" % leaf.subject.rfc4514_string())
    san = ext(leaf, x509.SubjectAlternativeName)
    check(san is not None, "leaf has no subjectAltName")
    check(san.critical, "SAN must be critical when the subject is empty")
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    check(uris == [spiffe_id], "exactly one URI SAN %s expected, got %r" % (spiffe_id, uris))
    check(sorted(san.value.get_values_for_type(x509.DNSName)) == sorted(dns), "DNS SANs differ")
    others = [n for n in san.value if not isinstance(n, (x509.UniformResourceIdentifier, x509.DNSName))]
    check(not others, "unexpected SAN types %r" % others)
    bc = ext(leaf, x509.BasicConstraints)
    check(bc and bc.critical and not bc.value.ca, "basicConstraints must be critical with cA=false")
    ku = ext(leaf, x509.KeyUsage)
    check(ku and ku.critical, "keyUsage must be present and critical")
    check(ku.value.digital_signature, "keyUsage lacks digitalSignature")
    check(not ku.value.key_cert_sign and not ku.value.crl_sign, "leaf keyUsage must not allow keyCertSign/cRLSign")
    eku = ext(leaf, x509.ExtendedKeyUsage)
    check(eku is not None, "no extendedKeyUsage")
    check(ExtendedKeyUsageOID.SERVER_AUTH in eku.value and ExtendedKeyUsageOID.CLIENT_AUTH in eku.value,
          "extendedKeyUsage must hold serverAuth and clientAuth")
    check(leaf.not_valid_before <= now - datetime.timedelta(seconds=5), "notBefore is not back-dated")
    check(leaf.not_valid_after > now, "leaf already expired")
    if lifetime:
        life = (leaf.not_valid_after - leaf.not_valid_before).total_seconds()
        check(life <= lifetime + 60, "lifetime %d s exceeds %d s (+ back-dating)" % (life, lifetime))
        check(life >= lifetime, "lifetime %d s shorter than %d s" % (life, lifetime))
    check(0 < leaf.serial_number < 2 ** 159, "serial must be positive and at most 20 octets")
    pub = leaf.public_key()
    check(isinstance(pub, ec.EllipticCurvePublicKey) and pub.curve.name == "secp256r1", "leaf key is not P-256")
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    check(key.public_key().public_numbers() == pub.public_numbers(), "private key does not match the leaf")
    # The chain: each certificate signed by the next, the last by a root.
    for i, cert in enumerate(chain):
        if i + 1 < len(chain):
            issuer = chain[i + 1]
            check_ca_cert(issuer, td, "intermediate %d" % (i + 1))
        else:
            aki = ext(cert, x509.AuthorityKeyIdentifier)
            cands = [r for r in roots if aki and ski(r) == aki.value.key_identifier] or \
                [r for r in roots if r.subject == cert.issuer]
            check(cands, "no root in the bundle issued certificate %d" % i)
            issuer = cands[0]
        check(cert.issuer == issuer.subject, "issuer name of certificate %d does not match" % i)
        verify_signed_by(cert, issuer)
    aki = ext(leaf, x509.AuthorityKeyIdentifier)
    issuer = chain[1] if len(chain) > 1 else None
    if issuer is None:
        issuer = [r for r in roots if ski(r) == aki.value.key_identifier][0]
    check(aki and aki.value.key_identifier == ski(issuer), "AKI does not name the issuer's SKI")
    check(ski(leaf) is not None, "leaf has no SKI")
    for r in roots:
        check_ca_cert(r, td, "root")
    return leaf


def b64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check_jwks(jwks, bundle_pem):
    check(isinstance(jwks.get("spiffe_sequence"), int) and jwks["spiffe_sequence"] >= 1, "spiffe_sequence missing")
    check(isinstance(jwks.get("spiffe_refresh_hint"), int) and jwks["spiffe_refresh_hint"] > 0,
          "spiffe_refresh_hint missing")
    roots = [r.public_bytes(serialization.Encoding.DER) for r in pem_certs(bundle_pem)]
    x5 = [k for k in jwks["keys"] if k.get("use") == "x509-svid"]
    jw = [k for k in jwks["keys"] if k.get("use") == "jwt-svid"]
    check(len(x5) + len(jw) == len(jwks["keys"]), "keys with an unknown use")
    check(sorted(base64.b64decode(k["x5c"][0]) for k in x5) == sorted(roots), "x5c keys differ from the PEM bundle")
    for k in x5:
        check("kid" not in k, "x509-svid keys carry no kid")
        check(len(k["x5c"]) == 1, "x5c must hold exactly one certificate")
        cert = x509.load_der_x509_certificate(base64.b64decode(k["x5c"][0]))
        check(jwt.PyJWK(k).key.public_numbers() == cert.public_key().public_numbers(), "x509-svid JWK != its x5c")
    check(jw, "no jwt-svid key")
    for k in jw:
        check(k.get("kid") and k.get("kty") == "EC" and k.get("crv") == "P-256" and k.get("x") and k.get("y"),
              "jwt-svid key lacks kid/kty/crv/x/y: %r" % k)
        check("d" not in k, "a private key member in the bundle!")
        check(len(b64u(k["x"])) == 32 and len(b64u(k["y"])) == 32, "coordinates must be 32 bytes")
    return jw


def verify_jwt(token, jwks, audience, sub):
    header = jwt.get_unverified_header(token)
    check(set(header) <= {"alg", "kid", "typ"}, "JWT header holds more than alg/kid/typ: %r" % header)
    check(header.get("alg") == "ES256" and header.get("kid"), "JWT header needs alg ES256 and a kid")
    check(len(b64u(token.split(".")[2])) == 64, "ES256 signature must be the raw 64-byte r||s")
    keys = {k["kid"]: k for k in jwks["keys"] if k.get("use") == "jwt-svid"}
    check(header["kid"] in keys, "token kid %s not in the JWKS" % header["kid"])
    claims = jwt.decode(token, jwt.PyJWK(keys[header["kid"]]).key, algorithms=["ES256"], audience=audience,
                        options={"require": ["exp", "iat", "sub", "aud"]})
    check(claims["sub"] == sub, "sub %s != %s" % (claims["sub"], sub))
    check(isinstance(claims["aud"], list), "aud should be an array")
    return header["kid"], claims


# ---- rotation observation ----

def kwidctl(base, *args):
    return subprocess.run(base + list(args), check=True, capture_output=True, text=True).stdout


def observe_rotation(base, seconds, sub):
    """Poll the JWKS and the PEM bundle, mint a JWT-SVID and an X.509-SVID
    on every round; then check the rotation rules on what was seen."""
    jwks_seen = []  # (t, {kid}, sequence)
    pem_seen = []   # (t, {ski})
    tokens = []     # (t, kid, exp)
    svids = []      # (t, aki, not_after)
    end = time.time() + seconds
    while time.time() < end:
        t = time.time()
        jwks = json.loads(kwidctl(base, "--json", "bundle", "show", "--format", "jwks"))["jwks"]
        jwks_seen.append((t, {k["kid"] for k in jwks["keys"] if k["use"] == "jwt-svid"}, jwks["spiffe_sequence"]))
        pem = json.loads(kwidctl(base, "--json", "bundle", "show"))["pem"]
        pem_seen.append((t, {ski(c) for c in pem_certs(pem)}))
        tm = time.time()
        tok = json.loads(kwidctl(base, "--json", "svid", "mint", sub, "--type", "jwt", "--audience", "rot"))["token"]
        kid, claims = verify_jwt(tok, jwks, "rot", sub) if jwt.get_unverified_header(tok)["kid"] in \
            {k["kid"] for k in jwks["keys"] if k["use"] == "jwt-svid"} else (None, None)
        check(kid is not None, "a token carries kid %s which the JWKS fetched just before does not hold"
              % jwt.get_unverified_header(tok)["kid"])
        tokens.append((tm, kid, claims["exp"]))
        res = json.loads(kwidctl(base, "--json", "svid", "mint", sub))
        leaf = pem_certs(res["svid_pem"])[0]
        aki = ext(leaf, x509.AuthorityKeyIdentifier).value.key_identifier
        svids.append((tm, aki, res["not_after"]))
        time.sleep(0.2)

    # spiffe_sequence never goes backwards and moves with the key set
    for (t1, k1, s1), (t2, k2, s2) in zip(jwks_seen, jwks_seen[1:]):
        check(s2 >= s1, "spiffe_sequence went backwards")
        check(k1 == k2 or s2 > s1, "the key set changed but spiffe_sequence did not")
    # publish before sign: each new key was seen in the bundle on some round
    # whose credential was still signed by another key (published, waiting
    # out the propagation delay), and never signed before it was published.
    for kind, uses, seen in (("JWT key", tokens, jwks_seen), ("CA", svids, pem_seen)):
        used = {}
        for tm, key, exp in uses:
            used.setdefault(key, tm)
        check(len(used) >= 3, "%s: expected at least two rotations, saw keys %d" % (kind, len(used)))
        for key, first in used.items():
            if key == uses[0][1]:
                continue  # the key in use when observation started
            check(any(key in s[1] for s in seen if s[0] < first), "%s was used before any bundle held it" % kind)
            waiting = [i for i in range(len(uses)) if key in seen[i][1] and uses[i][1] != key]
            check(waiting, "%s signed as soon as it was published (no propagation delay seen)" % kind)
        # keep until expiry: every bundle fetched before a credential expired holds its key
        for tm, key, exp in uses:
            for s in seen:
                if tm <= s[0] < exp - 0.5:
                    check(key in s[1], "%s removed at %.1f while a credential it signed was valid until %d"
                          % (kind, s[0], exp))
        # and retired keys do go away
        check(any(uses[0][1] not in s[1] for s in seen), "%s: the first key never left the bundle" % kind)
    print("rotation ok: %d JWT keys, %d CAs used; %d bundle polls" %
          (len({k for _, k, _ in tokens}), len({k for _, k, _ in svids}), len(jwks_seen)))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "leaf":  # CHAIN_PEM KEY_PEM BUNDLE_PEM SPIFFE_ID LIFETIME TD [DNS...]
        chain, key, bundle, sid, life, td = args[:6]
        check_leaf(open(chain).read(), open(key).read(), open(bundle).read(), sid, args[6:], int(life), td)
        print("leaf ok")
    elif cmd == "ca":  # BUNDLE_PEM TD
        for c in pem_certs(open(args[0]).read()):
            check_ca_cert(c, args[1], "root")
        print("ca ok")
    elif cmd == "jwks":  # JWKS_JSON BUNDLE_PEM
        check_jwks(json.load(open(args[0])), open(args[1]).read())
        print("jwks ok")
    elif cmd == "jwt":  # TOKEN_FILE JWKS_JSON AUDIENCE SUB
        jwks = json.load(open(args[1]))
        kid, _ = verify_jwt(open(args[0]).read().strip(), jwks, args[2], args[3])
        print("jwt ok " + kid)
    elif cmd == "rotation":  # SECONDS SUB KWIDCTL ARGS...
        observe_rotation(args[2:], float(args[0]), args[1])
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    main()
