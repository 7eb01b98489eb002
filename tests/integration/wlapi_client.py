#!/usr/bin/python3
"""wlapi_client.py - a Workload API client built on Debian's grpcio (a gRPC
implementation kwid did not write), for the integration tests.

Stubs are generated from proto/*.proto with grpc_tools.protoc into a cache
directory (--stubs, default $WLAPI_STUBS or a temporary directory).

Every command prints one JSON object per line: responses as they arrive,
then {"status": "OK"|"<CODE>", "details": "..."}. Exit status: 0 when the
final status is OK, 1 otherwise, 2 on usage errors.

  wlapi_client.py [--socket PATH] [--header V | --no-header | --header-twice]
                  COMMAND [options]
  commands: x509, x509-bundles, jwt, jwt-bundles, validate, health,
            wit, wit-bundles, call PATH (raw unknown method)
  stream commands take --count N (stop after N messages, default 1) and
  --timeout S (default 10).
"""
import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_stubs(stub_dir):
    if not stub_dir:
        stub_dir = os.environ.get("WLAPI_STUBS") or tempfile.mkdtemp(prefix="wlapi-stubs.")
    os.makedirs(stub_dir, exist_ok=True)
    if not os.path.exists(os.path.join(stub_dir, "workload_pb2_grpc.py")):
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + os.path.join(ROOT, "proto"),
                        "-I/usr/include", "--python_out=" + stub_dir, "--grpc_python_out=" + stub_dir,
                        "workload.proto", "health.proto"], check=True)
    sys.path.insert(0, stub_dir)
    import grpc  # noqa: E402
    import health_pb2, health_pb2_grpc, workload_pb2, workload_pb2_grpc  # noqa: E402,E401
    return grpc, workload_pb2, workload_pb2_grpc, health_pb2, health_pb2_grpc


def emit(obj):
    print(json.dumps(obj, sort_keys=True), flush=True)


def b64(b):
    return base64.b64encode(b).decode()


def der_certs(blob):
    """Split concatenated DER certificates (SEQUENCE, definite length)."""
    certs, off = [], 0
    while off < len(blob):
        if blob[off] != 0x30:
            raise ValueError("not a DER SEQUENCE at offset %d" % off)
        l0 = blob[off + 1]
        if l0 < 0x80:
            hdr, ln = 2, l0
        else:
            n = l0 & 0x7f
            hdr, ln = 2 + n, int.from_bytes(blob[off + 2:off + 2 + n], "big")
        certs.append(blob[off:off + hdr + ln])
        off += hdr + ln
    return certs


def x509_json(resp):
    return {"svids": [{"spiffe_id": s.spiffe_id, "hint": s.hint,
                       "chain": [b64(c) for c in der_certs(s.x509_svid)],
                       "key": b64(s.x509_svid_key),
                       "bundle": [b64(c) for c in der_certs(s.bundle)],
                       "digest": hashlib.sha256(s.x509_svid).hexdigest()} for s in resp.svids],
            "federated_bundles": sorted(resp.federated_bundles.keys())}


def pem(der):
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(
        b64(der)[i:i + 64] for i in range(0, len(b64(der)), 64)) + "\n-----END CERTIFICATE-----\n")


def write_svids(d, resp):
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(resp.svids):
        certs = der_certs(s.x509_svid)
        with open(os.path.join(d, "leaf.%d.pem" % i), "w") as f:
            f.write(pem(certs[0]))
        with open(os.path.join(d, "chain.%d.pem" % i), "w") as f:
            f.write("".join(pem(c) for c in certs[1:]))
        with open(os.path.join(d, "bundle.%d.pem" % i), "w") as f:
            f.write("".join(pem(c) for c in der_certs(s.bundle)))
        with open(os.path.join(d, "key.%d.der" % i), "wb") as f:
            f.write(s.x509_svid_key)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", default=os.environ.get("SPIFFE_ENDPOINT_SOCKET", ""))
    ap.add_argument("--stubs")
    hdr = ap.add_mutually_exclusive_group()
    hdr.add_argument("--header", default="true", help="value of workload.spiffe.io")
    hdr.add_argument("--no-header", action="store_true")
    hdr.add_argument("--header-twice", action="store_true")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--audience", action="append", default=[])
    ap.add_argument("--spiffe-id", default="")
    ap.add_argument("--token", default="")
    ap.add_argument("--service", default="")
    ap.add_argument("--ready-file", help="touch this file once the first message arrived")
    ap.add_argument("--write", help="x509: write leaf.N.pem, chain.N.pem (intermediates), key.N.der, "
                    "bundle.N.pem for every SVID of the first message")
    ap.add_argument("command")
    ap.add_argument("path", nargs="?")
    a = ap.parse_args()

    grpc, wl, wl_grpc, hl, hl_grpc = load_stubs(a.stubs)
    target = a.socket if a.socket.startswith("unix:") else "unix://" + a.socket
    channel = grpc.insecure_channel(target)
    stub = wl_grpc.SpiffeWorkloadAPIStub(channel)
    if a.no_header:
        md = []
    elif a.header_twice:
        md = [("workload.spiffe.io", "true"), ("workload.spiffe.io", "true")]
    else:
        md = [("workload.spiffe.io", a.header)]

    streams = {
        "x509": (stub.FetchX509SVID, wl.X509SVIDRequest(), x509_json),
        "x509-bundles": (stub.FetchX509Bundles, wl.X509BundlesRequest(),
                         lambda r: {"bundles": {k: [b64(c) for c in der_certs(v)] for k, v in r.bundles.items()}}),
        "jwt-bundles": (stub.FetchJWTBundles, wl.JWTBundlesRequest(),
                        lambda r: {"bundles": {k: json.loads(v) for k, v in r.bundles.items()}}),
        "wit": (stub.FetchWITSVID, wl.WITSVIDRequest(), lambda r: {}),
        "wit-bundles": (stub.FetchWITBundles, wl.WITBundlesRequest(), lambda r: {}),
    }
    try:
        if a.command in streams:
            method, req, conv = streams[a.command]
            call = method(req, metadata=md, timeout=a.timeout)
            n = 0
            for resp in call:
                emit(conv(resp))
                if a.write and n == 0 and a.command == "x509":
                    write_svids(a.write, resp)
                n += 1
                if a.ready_file and n == 1:
                    open(a.ready_file, "w").close()
                if n >= a.count:
                    call.cancel()
                    break
        elif a.command == "jwt":
            resp = stub.FetchJWTSVID(wl.JWTSVIDRequest(audience=a.audience, spiffe_id=a.spiffe_id),
                                     metadata=md, timeout=a.timeout)
            emit({"svids": [{"spiffe_id": s.spiffe_id, "token": s.svid, "hint": s.hint} for s in resp.svids]})
        elif a.command == "validate":
            aud = a.audience[0] if a.audience else ""
            resp = stub.ValidateJWTSVID(wl.ValidateJWTSVIDRequest(audience=aud, svid=a.token),
                                        metadata=md, timeout=a.timeout)
            from google.protobuf.json_format import MessageToDict
            emit({"spiffe_id": resp.spiffe_id, "claims": MessageToDict(resp.claims)})
        elif a.command == "health":
            resp = hl_grpc.HealthStub(channel).Check(hl.HealthCheckRequest(service=a.service), timeout=a.timeout)
            emit({"serving_status": hl.HealthCheckResponse.ServingStatus.Name(resp.status)})
        elif a.command == "call":
            fn = channel.unary_unary(a.path, request_serializer=lambda x: x, response_deserializer=lambda x: x)
            fn(b"", metadata=md, timeout=a.timeout)
            emit({})
        else:
            ap.error("unknown command " + a.command)
    except grpc.RpcError as e:
        emit({"status": e.code().name, "details": e.details()})
        return 1
    emit({"status": "OK", "details": ""})
    return 0


if __name__ == "__main__":
    sys.exit(main())
