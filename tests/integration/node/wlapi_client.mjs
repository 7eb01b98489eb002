// wlapi_client.mjs - a Workload API client built on @grpc/grpc-js and
// @grpc/proto-loader (a pure-JavaScript HTTP/2 + gRPC stack, written
// independently of grpcio's C core and of kwid), for the integration tests.
// It loads kwid's own proto/workload.proto and proto/health.proto at run time.
//
// Every call prints one JSON object per line: responses as they arrive,
// then {"status": "OK"|"<CODE>", "code": N, "details": "..."}.
// Exit status: the final gRPC status code of the last call (0 OK,
// 3 INVALID_ARGUMENT, 7 PERMISSION_DENIED, ...); 64 on usage errors; 65 when
// a local check (verify-jwt) fails.
//
//   node wlapi_client.mjs [--socket PATH|unix:///PATH]
//                         [--header V | --no-header | --header-twice]
//                         [--compress gzip|deflate] [--repeat N] COMMAND [options]
//   RPCs:    x509, x509-bundles, jwt, jwt-bundles, validate, health, wit,
//            wit-bundles, watch (x509 until --count or the deadline), call PATH
//   local:   verify-jwt --token T --bundles FILE --audience A
//            (checks the JWS with node:crypto against the JWKS that
//            jwt-bundles printed: an independent check of the signature)
//   options: --count N (stream messages before stopping; 0 = until the end
//            or the deadline; default 1, watch 0), --timeout S (deadline of
//            each call, default 10), --audience A (repeatable), --spiffe-id ID,
//            --token T, --service S, --write DIR (x509: leaf.N.pem,
//            chain.N.pem (intermediates), key.N.pem (0600), bundle.N.pem),
//            --repeat N (the call N times in turn on one channel),
//            --compress ALG (the channel's default compression: grpc-js
//            then sends grpc-encoding ALG and compressed messages)

import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROTO_DIR = join(HERE, '..', '..', '..', 'proto');
const EXIT_USAGE = 64;
const EXIT_CHECK_FAILED = 65;
const STATUS_NAME = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));
const COMPRESSION = { gzip: grpc.compressionAlgorithms.gzip, deflate: grpc.compressionAlgorithms.deflate };

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function usage(msg) {
  process.stderr.write(`wlapi_client.mjs: ${msg}\n`);
  process.exit(EXIT_USAGE);
}

// statusLine CODE DETAILS: print the final line of a call, return the code.
function statusLine(code, details = '') {
  emit({ status: STATUS_NAME[code] ?? String(code), code, details });
  return code;
}

function loadServices() {
  const def = protoLoader.loadSync(['workload.proto', 'health.proto'], {
    includeDirs: [PROTO_DIR, '/usr/include'],
    keepCase: true,
    longs: String,
    enums: String,
    bytes: Buffer,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def);
  return { Workload: pkg.SpiffeWorkloadAPI, Health: pkg.grpc.health.v1.Health };
}

// derCerts BUF: split concatenated DER certificates (SEQUENCE, definite length).
function derCerts(buf) {
  const certs = [];
  let off = 0;
  while (off < buf.length) {
    if (buf[off] !== 0x30 || off + 2 > buf.length)
      throw new Error(`not a DER SEQUENCE at offset ${off}`);
    let hdr = 2;
    let len = buf[off + 1];
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 4 || off + 2 + n > buf.length)
        throw new Error(`bad DER length at offset ${off}`);
      len = buf.readUIntBE(off + 2, n);
      hdr += n;
    }
    if (off + hdr + len > buf.length)
      throw new Error(`DER certificate at offset ${off} runs past the end`);
    certs.push(buf.subarray(off, off + hdr + len));
    off += hdr + len;
  }
  return certs;
}

function pem(label, der) {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const b64 = (buf) => buf.toString('base64');

function x509Json(resp) {
  return {
    svids: resp.svids.map((s) => ({
      spiffe_id: s.spiffe_id,
      hint: s.hint,
      chain: derCerts(s.x509_svid).map(b64),
      key: b64(s.x509_svid_key),
      bundle: derCerts(s.bundle).map(b64),
      digest: createHash('sha256').update(s.x509_svid).digest('hex'),
    })),
    federated_bundles: Object.keys(resp.federated_bundles).sort(),
  };
}

function writeSvids(dir, resp) {
  mkdirSync(dir, { recursive: true });
  resp.svids.forEach((s, i) => {
    const certs = derCerts(s.x509_svid);
    writeFileSync(join(dir, `leaf.${i}.pem`), pem('CERTIFICATE', certs[0]));
    writeFileSync(join(dir, `chain.${i}.pem`), certs.slice(1).map((c) => pem('CERTIFICATE', c)).join(''));
    writeFileSync(join(dir, `bundle.${i}.pem`), derCerts(s.bundle).map((c) => pem('CERTIFICATE', c)).join(''));
    writeFileSync(join(dir, `key.${i}.pem`), pem('PRIVATE KEY', s.x509_svid_key), { mode: 0o600 });
  });
}

// structToJson S: a google.protobuf.Struct (as proto-loader decodes it with
// oneofs) to plain JSON.
function valueToJson(v) {
  switch (v.kind) {
    case 'nullValue': return null;
    case 'numberValue': return v.numberValue;
    case 'stringValue': return v.stringValue;
    case 'boolValue': return v.boolValue;
    case 'structValue': return structToJson(v.structValue);
    case 'listValue': return (v.listValue.values ?? []).map(valueToJson);
    default: return undefined;
  }
}
function structToJson(s) {
  return Object.fromEntries(Object.entries(s?.fields ?? {}).map(([k, v]) => [k, valueToJson(v)]));
}

// verifyJwt TOKEN BUNDLES_FILE AUDIENCE: check a JWT-SVID without the
// agent: pick the key by kid in the JWKS of the token's trust domain, verify
// the ES256 signature with node:crypto (raw r||s), check aud and exp.
// Throws on any failure.
function verifyJwt(token, bundlesFile, audience) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('not a compact JWS');
  const [h, p, sig] = parts;
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  if (header.alg !== 'ES256') throw new Error(`unexpected alg ${header.alg}`);
  if (!header.kid) throw new Error('no kid in the header');
  const bundles = JSON.parse(readFileSync(bundlesFile, 'utf8')).bundles;
  const td = new URL(claims.sub).host;
  const keys = bundles[`spiffe://${td}`]?.keys ?? [];
  for (const k of keys)
    if (k.use !== 'jwt-svid' || !k.kid) throw new Error(`JWKS key without use jwt-svid or kid: ${JSON.stringify(k)}`);
  const jwk = keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`kid ${header.kid} not in the bundle of spiffe://${td}`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(sig, 'base64url'));
  if (!ok) throw new Error('bad signature');
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(audience)) throw new Error(`audience ${audience} not in aud ${JSON.stringify(aud)}`);
  if (!(claims.exp > Date.now() / 1000)) throw new Error(`expired or no exp: ${claims.exp}`);
  return { kid: header.kid, sub: claims.sub, aud };
}

function parse() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        socket: { type: 'string', default: process.env.SPIFFE_ENDPOINT_SOCKET ?? '' },
        header: { type: 'string', default: 'true' },
        'no-header': { type: 'boolean', default: false },
        'header-twice': { type: 'boolean', default: false },
        compress: { type: 'string' },
        repeat: { type: 'string', default: '1' },
        count: { type: 'string' },
        timeout: { type: 'string', default: '10' },
        audience: { type: 'string', multiple: true, default: [] },
        'spiffe-id': { type: 'string', default: '' },
        token: { type: 'string', default: '' },
        service: { type: 'string', default: '' },
        write: { type: 'string' },
        bundles: { type: 'string' },
      },
    });
  } catch (e) {
    usage(e.message);
  }
  const a = parsed.values;
  [a.command, a.path] = parsed.positionals;
  if (!a.command) usage('no command');
  a.count = a.count === undefined ? (a.command === 'watch' ? 0 : 1) : Number(a.count);
  a.timeout = Number(a.timeout);
  a.repeat = Number(a.repeat);
  if (!Number.isInteger(a.count) || a.count < 0) usage('--count wants an integer >= 0');
  if (!Number.isInteger(a.repeat) || a.repeat < 1) usage('--repeat wants an integer >= 1');
  if (!(a.timeout > 0)) usage('--timeout wants a positive number of seconds');
  if (a.compress !== undefined && !(a.compress in COMPRESSION)) usage('--compress wants gzip or deflate');
  return a;
}

function metadata(a) {
  const md = new grpc.Metadata();
  if (a['header-twice']) {
    md.add('workload.spiffe.io', 'true');
    md.add('workload.spiffe.io', 'true');
  } else if (!a['no-header']) {
    md.add('workload.spiffe.io', a.header);
  }
  return md;
}

// stream: print every message until --count, the end of the stream or the
// deadline; resolves with the status code. Cancelling after --count
// messages is success.
function stream(a, call, convert) {
  return new Promise((resolve) => {
    let n = 0;
    let done = false;
    const end = (code, details) => {
      if (done) return;
      done = true;
      resolve(statusLine(code, details));
    };
    call.on('data', (resp) => {
      if (done) return;
      emit(convert(resp));
      if (a.write && n === 0 && a.command === 'x509') writeSvids(a.write, resp);
      if (a.count && ++n >= a.count) {
        end(grpc.status.OK);
        call.cancel();
      }
    });
    // grpc-js reports every non-OK end as 'error', then 'status'
    call.on('error', (e) => end(e.code, e.details));
    call.on('status', (s) => end(s.code, s.details));
  });
}

function unary(fn, req, md, opts, convert) {
  return new Promise((resolve) => {
    fn(req, md, opts, (err, resp) => {
      if (err) return resolve(statusLine(err.code, err.details));
      emit(convert(resp));
      resolve(statusLine(grpc.status.OK));
    });
  });
}

// oneCall: the command's RPC once, on the given clients; resolves with
// its status code.
function oneCall(a, wl, health) {
  const md = metadata(a);
  const opts = { deadline: new Date(Date.now() + a.timeout * 1000) };
  const bundleMap = (m, conv) => ({ bundles: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, conv(v)])) });
  const streams = {
    x509: ['FetchX509SVID', x509Json],
    watch: ['FetchX509SVID', x509Json],
    'x509-bundles': ['FetchX509Bundles', (r) => bundleMap(r.bundles, (v) => derCerts(v).map(b64))],
    'jwt-bundles': ['FetchJWTBundles', (r) => bundleMap(r.bundles, (v) => JSON.parse(v.toString()))],
    wit: ['FetchWITSVID', () => ({})],
    'wit-bundles': ['FetchWITBundles', () => ({})],
  };
  if (a.command in streams) {
    const [method, convert] = streams[a.command];
    return stream(a, wl[method]({}, md, opts), convert);
  }
  switch (a.command) {
    case 'jwt':
      return unary(wl.FetchJWTSVID.bind(wl), { audience: a.audience, spiffe_id: a['spiffe-id'] }, md, opts,
        (r) => ({ svids: r.svids.map((s) => ({ spiffe_id: s.spiffe_id, token: s.svid, hint: s.hint })) }));
    case 'validate':
      return unary(wl.ValidateJWTSVID.bind(wl), { audience: a.audience[0] ?? '', svid: a.token }, md, opts,
        (r) => ({ spiffe_id: r.spiffe_id, claims: structToJson(r.claims) }));
    case 'health':
      // the health service is exempt from the security header: send none
      return unary(health.Check.bind(health), { service: a.service }, new grpc.Metadata(), opts,
        (r) => ({ serving_status: r.status }));
    case 'call':
      return unary((req, m, o, cb) => wl.makeUnaryRequest(a.path, (x) => x, (x) => x, req, m, o, cb),
        Buffer.alloc(0), md, opts, () => ({}));
    default:
      return usage(`unknown command ${a.command}`);
  }
}

async function main() {
  const a = parse();
  if (a.command === 'verify-jwt') {
    if (!a.token || !a.bundles || a.audience.length !== 1) usage('verify-jwt needs --token, --bundles and one --audience');
    try {
      emit({ verified: verifyJwt(a.token, a.bundles, a.audience[0]) });
    } catch (e) {
      emit({ verified: false, error: e.message });
      process.exitCode = EXIT_CHECK_FAILED;
    }
    return;
  }
  if (!a.socket) usage('no socket: --socket or SPIFFE_ENDPOINT_SOCKET');
  if (a.command === 'call' && !a.path) usage('call needs a method path');
  const target = a.socket.startsWith('unix:') ? a.socket : `unix://${a.socket}`;
  const { Workload, Health } = loadServices();
  const creds = grpc.credentials.createInsecure();
  const options = a.compress ? { 'grpc.default_compression_algorithm': COMPRESSION[a.compress] } : {};
  const wl = new Workload(target, creds, options);
  const health = new Health(target, creds, options);
  let code = 0;
  for (let i = 0; i < a.repeat; i++) code = await oneCall(a, wl, health);
  wl.close();
  health.close();
  process.exitCode = code;
}

main();
