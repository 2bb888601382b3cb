/**
 * The in-memory account of fake-aws.ts served over real HTTP on 127.0.0.1,
 * speaking the wire protocols the SDK speaks: EC2 query, AWS query (IAM,
 * STS), JSON 1.1 (SSM, Pricing) and REST-XML (S3, path-style). Requests are
 * decoded and answers encoded with the SDK's own service schemas, so what
 * crosses the wire is what AWS would send and accept; a CLI pointed here by
 * AWS_ENDPOINT_URL runs unchanged.
 */
import { createHash, createHmac, type BinaryLike } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ec2 from '@aws-sdk/client-ec2';
import * as iam from '@aws-sdk/client-iam';
import * as pricing from '@aws-sdk/client-pricing';
import * as s3 from '@aws-sdk/client-s3';
import * as ssm from '@aws-sdk/client-ssm';
import * as sts from '@aws-sdk/client-sts';
import { NormalizedSchema } from '@smithy/core/schema';
import { SignatureV4 } from '@smithy/signature-v4';
import type { FakeAws } from './fake-aws.js';

type Dialect = 'ec2' | 'query' | 'json' | 'rest-xml';
const SERVICES: Record<string, { module: Record<string, unknown>; dialect: Dialect; xmlns: string }> = {
  ec2: { module: ec2, dialect: 'ec2', xmlns: 'http://ec2.amazonaws.com/doc/2016-11-15/' },
  iam: { module: iam, dialect: 'query', xmlns: 'https://iam.amazonaws.com/doc/2010-05-08/' },
  sts: { module: sts, dialect: 'query', xmlns: 'https://sts.amazonaws.com/doc/2011-06-15/' },
  ssm: { module: ssm, dialect: 'json', xmlns: '' },
  pricing: { module: pricing, dialect: 'json', xmlns: '' },
  s3: { module: s3, dialect: 'rest-xml', xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
};

export interface WireRequest {
  service: string;
  action: string;
  /** The access key whose secret made a valid SigV4 signature; null when unsigned or the signature is wrong. */
  signedBy: string | null;
  /** The region the request was signed for. */
  region: string | null;
  /** The body as sent, as text (an S3 object's bytes are in `fake.buckets`). */
  body: string;
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: IncomingHttpHeaders;
}

export interface AwsWire {
  url: string;
  requests: WireRequest[];
  close(): Promise<void>;
}

/**
 * The account's access keys (id → secret): a request is answered only when
 * its SigV4 signature, recomputed here, matches; otherwise the way AWS
 * answers a wrong secret.
 */
export async function serveAws(fake: FakeAws, keys: Record<string, string>): Promise<AwsWire> {
  const requests: WireRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => void answer(fake, keys, req, Buffer.concat(chunks), res, requests));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function answer(fake: FakeAws, keys: Record<string, string>, req: IncomingMessage, raw: Buffer, res: ServerResponse, requests: WireRequest[]): Promise<void> {
  const auth = String(req.headers.authorization ?? '');
  const scope = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(auth);
  const service = scope?.[3] ?? '?';
  const spec = SERVICES[service];
  if (!spec) {
    res.writeHead(400).end(`unknown service ${service}`);
    return;
  }
  const body = raw.toString('utf8');
  const sent = { body, method: req.method ?? '', url: req.url ?? '', headers: req.headers };
  if (spec.dialect === 'rest-xml') {
    const signedBy = scope && (await signatureValid(req, raw, auth, scope[1]!, keys[scope[1]!], scope[2]!, service)) ? scope[1]! : null;
    await answerRestXml(fake, req, raw, res, { service, action: '?', signedBy, region: scope?.[2] ?? null, ...sent }, requests);
    return;
  }
  const target = String(req.headers['x-amz-target'] ?? '');
  const params = new URLSearchParams(body);
  const action = spec.dialect === 'json' ? (target.split('.')[1] ?? '?') : (params.get('Action') ?? '?');
  const signedBy = scope && (await signatureValid(req, body, auth, scope[1]!, keys[scope[1]!], scope[2]!, service)) ? scope[1]! : null;
  requests.push({ service, action, signedBy, region: scope?.[2] ?? null, ...sent });
  if (!signedBy) {
    const message = 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.';
    if (spec.dialect === 'json') res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: 'InvalidSignatureException', message }));
    else if (spec.dialect === 'ec2')
      res.writeHead(401, { 'content-type': 'text/xml' }).end(`<Response><Errors><Error><Code>AuthFailure</Code><Message>${message}</Message></Error></Errors><RequestID>req-1</RequestID></Response>`);
    else
      res
        .writeHead(403, { 'content-type': 'text/xml' })
        .end(`<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>${message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`);
    return;
  }
  const op = spec.module[`${action}$`] as unknown[] | undefined;
  if (!op) {
    res.writeHead(400).end(`unknown action ${action}`);
    return;
  }
  const [inSchema, outSchema] = [(op[4] as () => unknown)(), (op[5] as () => unknown)()];
  try {
    const input =
      spec.dialect === 'json' ? (JSON.parse(body || '{}') as Record<string, unknown>) : (decode(NormalizedSchema.of(inSchema as never), params, '', spec.dialect) as Record<string, unknown>);
    const output = (await fake.handle(`${service}:${action}`, input ?? {})) as Record<string, unknown>;
    if (spec.dialect === 'json') {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(output, epochSeconds));
      return;
    }
    const out = NormalizedSchema.of(outSchema as never);
    const members = out.isUnitSchema() ? '' : encodeMembers(out, output ?? {}, spec.dialect);
    const inner = spec.dialect === 'ec2' ? `<requestId>req-1</requestId>${members}` : `<${action}Result>${members}</${action}Result><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>`;
    res.writeHead(200, { 'content-type': 'text/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${spec.xmlns}">${inner}</${action}Response>`);
  } catch (err) {
    const e = err as Error;
    if (spec.dialect === 'json') {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: e.name, message: e.message }));
      return;
    }
    // IAM's modelled errors travel under their wire code (NoSuchEntityException is "NoSuchEntity", 404).
    const modelled = spec.module[`${e.name}$`];
    const [code, status] = (modelled ? (NormalizedSchema.of(modelled as never).getMergedTraits().awsQueryError as [string, number] | undefined) : undefined) ?? [e.name, 400];
    const error = `<Error><Type>Sender</Type><Code>${xml(code)}</Code><Message>${xml(e.message)}</Message></Error>`;
    res
      .writeHead(status, { 'content-type': 'text/xml' })
      .end(spec.dialect === 'ec2' ? `<Response><Errors>${error}</Errors><RequestID>req-1</RequestID></Response>` : `<ErrorResponse>${error}<RequestId>req-1</RequestId></ErrorResponse>`);
  }
}

/**
 * Signs the request again with the key's secret, over the headers the client
 * signed, and compares. S3 signs the path as sent (no second URI-encoding)
 * and the payload by the hash it declares in x-amz-content-sha256 (checked
 * against the body separately).
 */
async function signatureValid(req: IncomingMessage, body: string | Buffer, auth: string, keyId: string, secret: string | undefined, region: string, service: string): Promise<boolean> {
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
  const signature = /Signature=([0-9a-f]+)/.exec(auth)?.[1];
  const date = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(String(req.headers['x-amz-date'] ?? ''));
  if (!secret || !signature || !date || !signedHeaders.includes('host')) return false;
  const url = new URL(req.url ?? '/', 'http://placeholder');
  const headers = Object.fromEntries(signedHeaders.map((h) => [h, String(req.headers[h] ?? '')]));
  const s3 = service === 's3';
  const signer = new SignatureV4({ service, region, credentials: { accessKeyId: keyId, secretAccessKey: secret }, sha256: Sha256, uriEscapePath: !s3, applyChecksum: !s3 });
  const path = s3 ? (req.url ?? '/').split('?')[0]! : url.pathname;
  const signed = await signer.sign(
    { method: req.method ?? 'POST', protocol: 'http:', hostname: '127.0.0.1', path, query: Object.fromEntries(url.searchParams), headers, body },
    { signingDate: new Date(Date.UTC(+date[1]!, +date[2]! - 1, +date[3]!, +date[4]!, +date[5]!, +date[6]!)) },
  );
  return String(signed.headers.authorization ?? '').endsWith(`Signature=${signature}`);
}

/** SHA-256 and HMAC-SHA-256 for the signer, from node:crypto. */
class Sha256 {
  private hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function bytes(d: string | ArrayBuffer | ArrayBufferView): BinaryLike {
  if (typeof d === 'string') return d;
  return d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Query parameters back into the input object: the inverse of the SDK's QueryShapeSerializer. */
function decode(ns: NormalizedSchema, params: URLSearchParams, prefix: string, dialect: Dialect): unknown {
  const present = (key: string) => [...params.keys()].some((k) => k === key || k.startsWith(`${key}.`));
  const key = (memberName: string, traits: Record<string, unknown>, struct: boolean) => {
    if (dialect === 'ec2' && traits.ec2QueryName) return traits.ec2QueryName as string;
    const k = (traits.xmlName as string | undefined) ?? memberName;
    return dialect === 'ec2' && struct ? k[0]!.toUpperCase() + k.slice(1) : k;
  };
  const at = (suffix: string) => (prefix ? `${prefix}.${suffix}` : suffix);
  if (ns.isStructSchema()) {
    const out: Record<string, unknown> = {};
    for (const [name, member] of ns.structIterator()) {
      const k = at(key(name, member.getMergedTraits(), true));
      if (!present(k)) continue;
      out[name] = decode(member, params, k, dialect);
    }
    return out;
  }
  if (ns.isListSchema()) {
    const item = ns.getValueSchema();
    const flat = dialect === 'ec2' || Boolean(ns.getMergedTraits().xmlFlattened);
    const base = flat ? prefix : `${prefix}.${key('member', item.getMergedTraits(), false)}`;
    const out: unknown[] = [];
    for (let i = 1; present(`${base}.${i}`); i++) out.push(decode(item, params, `${base}.${i}`, dialect));
    return out;
  }
  if (ns.isMapSchema()) {
    const out: Record<string, unknown> = {};
    for (let i = 1; present(`${prefix}.entry.${i}`); i++) out[params.get(`${prefix}.entry.${i}.key`) ?? ''] = decode(ns.getValueSchema(), params, `${prefix}.entry.${i}.value`, dialect);
    return out;
  }
  const raw = params.get(prefix) ?? '';
  if (ns.isBooleanSchema()) return raw === 'true';
  if (ns.isNumericSchema()) return Number(raw);
  if (ns.isTimestampSchema()) return new Date(raw);
  if (ns.isBlobSchema()) return Buffer.from(raw, 'base64');
  return raw;
}

/** An output object as the XML the SDK's XmlShapeDeserializer reads (members bound to HTTP headers or the payload excepted). */
function encodeMembers(ns: NormalizedSchema, value: Record<string, unknown>, dialect: Dialect): string {
  let out = '';
  for (const [name, member] of ns.structIterator()) {
    if (value[name] == null || httpBound(member)) continue;
    out += encode(member, value[name], member.getMemberTraits().xmlName ?? name, dialect);
  }
  return out;
}

function encode(ns: NormalizedSchema, value: unknown, tag: string, dialect: Dialect): string {
  if (ns.isStructSchema()) return `<${tag}>${encodeMembers(ns, value as Record<string, unknown>, dialect)}</${tag}>`;
  if (ns.isListSchema()) {
    const item = ns.getValueSchema();
    const items = value as unknown[];
    if (ns.getMergedTraits().xmlFlattened) return items.map((v) => encode(item, v, tag, dialect)).join('');
    const itemTag = item.getMergedTraits().xmlName ?? 'member';
    return `<${tag}>${items.map((v) => encode(item, v, itemTag, dialect)).join('')}</${tag}>`;
  }
  if (ns.isMapSchema()) {
    const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => `<entry><key>${xml(k)}</key>${encode(ns.getValueSchema(), v, 'value', dialect)}</entry>`);
    return `<${tag}>${entries.join('')}</${tag}>`;
  }
  let text: string;
  if (value instanceof Date) text = value.toISOString();
  else if (value instanceof Uint8Array) text = Buffer.from(value).toString('base64');
  else text = String(value);
  return `<${tag}>${xml(text)}</${tag}>`;
}

/** JSON 1.1 carries timestamps as epoch seconds. */
function epochSeconds(this: Record<string, unknown>, k: string, v: unknown): unknown {
  const raw = this[k];
  return raw instanceof Date ? raw.getTime() / 1000 : v;
}

function xml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

// S3: REST-XML, path-style (/<bucket>/<key>). The operation is found the way
// the SDK builds the request: by method, bucket or object path, and the
// query its model puts in the URI (?publicAccessBlock, ?list-type=2,
// ?x-id=PutObject…); the input members are read from the path, headers,
// query and payload their HTTP traits name.

interface Route {
  op: string;
  method: string;
  /** "/{Key+}…" rather than "/…": the path names an object, not only a bucket. */
  object: boolean;
  query: [string, string | null][];
  status: number;
}

let routes: Route[] | undefined;

function s3Routes(): Route[] {
  routes ??= Object.entries(s3).flatMap(([name, op]): Route[] => {
    if (!name.endsWith('$') || !Array.isArray(op) || op[0] !== 9) return [];
    const http = (op[3] as { http?: [string, string, number] }).http;
    if (!http) return [];
    const [path, query = ''] = http[1].split('?');
    const pairs = query ? query.split('&').map((q): [string, string | null] => (q.includes('=') ? [q.slice(0, q.indexOf('=')), q.slice(q.indexOf('=') + 1)] : [q, null])) : [];
    return [{ op: name.slice(0, -1), method: http[0], object: path !== '/', query: pairs, status: http[2] }];
  });
  return routes;
}

/** The operation whose URI the request matches with the most query constraints (GET /b?list-type=2 is ListObjectsV2, not ListObjects). */
function route(method: string, object: boolean, params: URLSearchParams): Route | undefined {
  let best: Route | undefined;
  for (const r of s3Routes()) {
    if (r.method !== method || r.object !== object) continue;
    if (!r.query.every(([k, v]) => (v === null ? params.has(k) : params.get(k) === v))) continue;
    if (!best || r.query.length > best.query.length) best = r;
  }
  return best;
}

const ERROR_FIELDS = ['BucketName', 'Bucket', 'Key', 'Endpoint', 'Condition', 'LocationConstraint'];

async function answerRestXml(fake: FakeAws, req: IncomingMessage, raw: Buffer, res: ServerResponse, wire: WireRequest, requests: WireRequest[]): Promise<void> {
  const method = req.method ?? 'GET';
  const ids = { 'x-amz-request-id': 'req-1', 'x-amz-id-2': 'id-1' };
  // S3's error document; a HEAD response has the status only.
  const fail = (status: number, code: string, message: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) => {
    if (method === 'HEAD') {
      res.writeHead(status, { ...ids, ...headers }).end();
      return;
    }
    const fields = Object.entries(extra).map(([k, v]) => `<${k}>${xml(v)}</${k}>`);
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xml(code)}</Code><Message>${xml(message)}</Message>${fields.join('')}<RequestId>req-1</RequestId><HostId>id-1</HostId></Error>`;
    res.writeHead(status, { ...ids, ...headers, 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text) }).end(text);
  };
  try {
    await serveS3(fake, req, raw, res, wire, requests, method, ids, fail);
  } catch (err) {
    // A bug here, not an S3 answer: say so rather than leave the client waiting.
    if (!res.headersSent) fail(500, 'InternalError', `fake: ${(err as Error).stack ?? String(err)}`);
    else res.destroy();
  }
}

async function serveS3(
  fake: FakeAws,
  req: IncomingMessage,
  raw: Buffer,
  res: ServerResponse,
  wire: WireRequest,
  requests: WireRequest[],
  method: string,
  ids: Record<string, string>,
  fail: (status: number, code: string, message: string, extra?: Record<string, string>, headers?: Record<string, string>) => void,
): Promise<void> {
  const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split('?');
  const [, bucketPart = '', ...keyParts] = rawPath.split('/');
  let bucket: string;
  let key: string;
  try {
    [bucket, key] = [decodeURIComponent(bucketPart), decodeURIComponent(keyParts.join('/'))];
  } catch {
    requests.push(wire);
    return fail(400, 'InvalidURI', "Couldn't parse the specified URI.");
  }
  const params = new URLSearchParams(rawQuery);
  const r = bucket ? route(method, key !== '', params) : undefined;
  wire.action = r?.op ?? '?';
  requests.push(wire);
  if (!wire.signedBy) {
    return fail(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;

  // The payload: as declared by x-amz-content-sha256, whose hash must be the body's, or aws-chunked with trailing checksums.
  const declared = headers['x-amz-content-sha256'];
  let body = raw;
  if (declared === undefined) return fail(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  if (declared === 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') {
    const chunked = decodeAwsChunked(raw);
    if (!chunked || String(chunked.body.length) !== headers['x-amz-decoded-content-length']) {
      return fail(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header');
    }
    const announced = (headers['x-amz-trailer'] ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean)
      .sort();
    if (JSON.stringify(announced) !== JSON.stringify(Object.keys(chunked.trailers).sort())) {
      return fail(400, 'MalformedTrailerError', 'The request contained trailing data that was not well-formed or did not conform to our published schema.');
    }
    body = chunked.body;
    Object.assign(headers, chunked.trailers);
    // Content-Length, when sent, counted the framing; the object is the decoded bytes.
    if (headers['content-length'] !== undefined) headers['content-length'] = String(body.length);
    // aws-chunked is how the body travelled, not how it is stored.
    const encoding = (headers['content-encoding'] ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e && e !== 'aws-chunked');
    if (encoding.length > 0) headers['content-encoding'] = encoding.join(',');
    else delete headers['content-encoding'];
  } else if (/^[0-9a-f]{64}$/.test(declared)) {
    if (createHash('sha256').update(raw).digest('hex') !== declared) {
      return fail(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
  } else if (declared !== 'UNSIGNED-PAYLOAD') {
    return fail(501, 'NotImplemented', `fake: x-amz-content-sha256 ${declared} is not implemented`);
  }
  if (!r) return fail(501, 'NotImplemented', `fake: no S3 operation for ${method} ${req.url}${bucket ? '' : ' (only path-style requests to a bucket are served)'}`);

  const op = (s3 as unknown as Record<string, unknown[]>)[`${r.op}$`]!;
  const [inSchema, outSchema] = [NormalizedSchema.of((op[4] as () => never)()), NormalizedSchema.of((op[5] as () => never)())];
  let input: Record<string, unknown>;
  try {
    input = decodeRest(inSchema, { bucket, key, params, headers, body });
  } catch {
    return fail(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  }
  let output: Record<string, unknown>;
  try {
    output = ((await fake.handle(`s3:${r.op}`, input, { region: wire.region ?? undefined })) ?? {}) as Record<string, unknown>;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number }; $response?: { headers?: Record<string, string> } } & Record<string, unknown>;
    if (e.name === 'InvalidAction') return fail(501, 'NotImplemented', e.message);
    const modelled = (s3 as unknown as Record<string, unknown>)[`${e.name}$`];
    const status = e.$metadata?.httpStatusCode ?? (modelled ? (NormalizedSchema.of(modelled as never).getMergedTraits().httpError as number | undefined) : undefined) ?? 400;
    const fields = Object.fromEntries(ERROR_FIELDS.filter((f) => typeof e[f] === 'string').map((f) => [f, e[f] as string]));
    return fail(status, e.name, e.message, fields, e.$response?.headers ?? {});
  }

  const out: Record<string, string | number> = { ...ids };
  let payload: Buffer | undefined;
  let payloadType = 'application/xml';
  if (!outSchema.isUnitSchema()) {
    for (const [name, member] of outSchema.structIterator()) {
      const v = output[name];
      if (v == null) continue;
      const t = member.getMergedTraits();
      if (typeof t.httpHeader === 'string') out[t.httpHeader.toLowerCase()] = headerText(member, v);
      else if (typeof t.httpPrefixHeaders === 'string') for (const [k, x] of Object.entries(v as Record<string, string>)) out[`${t.httpPrefixHeaders}${k}`.toLowerCase()] = x;
      else if (t.httpPayload) {
        if (member.isStructSchema()) payload = xmlDocument(t.xmlName ?? member.getName() ?? name, encodeMembers(member, v as Record<string, unknown>, 'rest-xml'));
        else {
          // Otherwise a string (GetBucketPolicy's Policy); JSON for anything else rather than "[object Object]".
          payload = member.isBlobSchema() ? await blobBytes(v) : Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
          payloadType = 'application/octet-stream';
        }
      }
    }
    const members = payload === undefined ? encodeMembers(outSchema, output, 'rest-xml') : '';
    if (members) payload = xmlDocument(outSchema.getMergedTraits().xmlName ?? `${r.op}Result`, members);
  }
  if (payload !== undefined) {
    out['content-length'] ??= payload.length;
    out['content-type'] ??= payloadType;
  }
  res.writeHead(r.status, out).end(method === 'HEAD' ? undefined : payload);
}

function xmlDocument(root: string, members: string): Buffer {
  return Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${SERVICES.s3!.xmlns}">${members}</${root}>`);
}

/** A header's text: timestamps as HTTP dates unless modelled as date-time; lists comma-separated. */
function headerText(ns: NormalizedSchema, v: unknown): string {
  if (v instanceof Date) return ns.getSchema() === 5 ? v.toISOString() : v.toUTCString();
  if (Array.isArray(v)) return v.map(String).join(', ');
  return String(v);
}

async function blobBytes(v: unknown): Promise<Buffer> {
  if (typeof v === 'string') return Buffer.from(v);
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const stream = v as { transformToByteArray?: () => Promise<Uint8Array> } & Partial<AsyncIterable<Uint8Array>>;
  if (stream.transformToByteArray) return Buffer.from(await stream.transformToByteArray());
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/**
 * An aws-chunked body (what the SDK sends for a streamed upload with a
 * trailing checksum): "<hex size>[;ext]\r\n<bytes>\r\n"… "0\r\n", then
 * trailer headers and an empty line. Null when malformed.
 */
function decodeAwsChunked(raw: Buffer): { body: Buffer; trailers: Record<string, string> } | null {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) return null;
    const sizeText = raw.toString('latin1', pos, eol).split(';')[0]!.trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) return null;
    const size = parseInt(sizeText, 16);
    pos = eol + 2;
    if (size === 0) break;
    if (pos + size + 2 > raw.length || raw.toString('latin1', pos + size, pos + size + 2) !== '\r\n') return null;
    parts.push(raw.subarray(pos, pos + size));
    pos += size + 2;
  }
  const trailers: Record<string, string> = {};
  for (;;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) return null;
    const line = raw.toString('latin1', pos, eol);
    pos = eol + 2;
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon < 1) return null;
    trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return pos === raw.length ? { body: Buffer.concat(parts), trailers } : null;
}

interface RestRequest {
  bucket: string;
  key: string;
  params: URLSearchParams;
  headers: Record<string, string>;
  body: Buffer;
}

/** The input object from where its members' HTTP traits put them: the inverse of the SDK's HttpBindingProtocol serializer. */
function decodeRest(ns: NormalizedSchema, req: RestRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, member] of ns.structIterator()) {
    const t = member.getMergedTraits();
    if (t.httpLabel) {
      const v = name === 'Bucket' ? req.bucket : name === 'Key' ? req.key : '';
      if (v) out[name] = v;
    } else if (typeof t.httpHeader === 'string') {
      const v = req.headers[t.httpHeader.toLowerCase()];
      if (v !== undefined) out[name] = fromText(member, v, true);
    } else if (typeof t.httpPrefixHeaders === 'string') {
      const prefix = t.httpPrefixHeaders.toLowerCase();
      const found = Object.entries(req.headers).filter(([k]) => k.startsWith(prefix));
      if (found.length > 0) out[name] = Object.fromEntries(found.map(([k, v]) => [k.slice(prefix.length), v]));
    } else if (typeof t.httpQuery === 'string') {
      const vs = req.params.getAll(t.httpQuery);
      if (vs.length > 0) out[name] = member.isListSchema() ? vs.map((v) => fromText(member.getValueSchema(), v)) : fromText(member, vs[0]!);
    } else if (t.httpPayload) {
      if (member.isBlobSchema()) out[name] = req.body;
      else if (req.body.length === 0) continue;
      else if (member.isStructSchema()) {
        const root = parseXml(req.body.toString('utf8'));
        if (root.name !== (t.xmlName ?? member.getName() ?? name)) throw new Error(`unexpected root element ${root.name}`);
        out[name] = fromXml(member, root);
      } else out[name] = req.body.toString('utf8');
    }
  }
  return out;
}

function fromText(ns: NormalizedSchema, text: string, header = false): unknown {
  if (ns.isListSchema()) return (header ? text.split(',') : [text]).map((x) => fromText(ns.getValueSchema(), x.trim()));
  if (ns.isBooleanSchema()) return text === 'true';
  if (ns.isNumericSchema()) return Number(text);
  if (ns.isTimestampSchema()) return new Date(text);
  if (ns.isBlobSchema()) return Buffer.from(text, 'base64');
  return text;
}

interface XmlNode {
  name: string;
  attributes: Record<string, string>;
  children: XmlNode[];
  text: string;
}

/** A request document's element tree: elements, attributes, text, CDATA and entities; enough for S3's request bodies. */
function parseXml(text: string): XmlNode {
  const top: XmlNode = { name: '', attributes: {}, children: [], text: '' };
  const stack = [top];
  const token = /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>|<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)/y;
  const local = (n: string) => n.slice(n.indexOf(':') + 1);
  while (token.lastIndex < text.length) {
    const m = token.exec(text);
    if (!m) throw new Error('malformed XML');
    const current = stack.at(-1)!;
    if (m[1] !== undefined) current.text += m[1];
    else if (m[2] !== undefined) {
      if (stack.length < 2 || local(m[2]) !== current.name) throw new Error(`unexpected </${m[2]}>`);
      stack.pop();
    } else if (m[3] !== undefined) {
      const attributes = Object.fromEntries([...(m[4] ?? '').matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)].map((a) => [a[1]!, unescapeXml(a[2] ?? a[3] ?? '')]));
      const node: XmlNode = { name: local(m[3]), attributes, children: [], text: '' };
      current.children.push(node);
      if (!m[5]) stack.push(node);
    } else if (m[6] !== undefined) current.text += unescapeXml(m[6]);
  }
  if (stack.length !== 1 || top.children.length !== 1 || top.text.trim() !== '') throw new Error('malformed XML');
  return top.children[0]!;
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#\d+);/g, (_, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[e]!,
  );
}

/** An element as the shape its schema describes: the inverse of encode() for REST-XML. */
function fromXml(ns: NormalizedSchema, node: XmlNode): unknown {
  if (ns.isStructSchema()) {
    const out: Record<string, unknown> = {};
    for (const [name, member] of ns.structIterator()) {
      const t = member.getMergedTraits();
      const tag = t.xmlName ?? name;
      if (t.xmlAttribute) {
        const v = node.attributes[tag];
        if (v !== undefined) out[name] = fromText(member, v);
        continue;
      }
      const found = node.children.filter((c) => c.name === tag);
      if (member.isListSchema() && t.xmlFlattened) {
        if (found.length > 0) out[name] = found.map((c) => fromXml(member.getValueSchema(), c));
      } else if (found[0]) out[name] = fromXml(member, found[0]);
    }
    return out;
  }
  if (ns.isListSchema()) {
    const item = ns.getValueSchema();
    const tag = item.getMergedTraits().xmlName ?? 'member';
    return node.children.filter((c) => c.name === tag).map((c) => fromXml(item, c));
  }
  if (ns.isMapSchema()) throw new Error('fake: XML maps in a request body are not implemented');
  return fromText(ns, node.text);
}

/** Members carried outside the XML body: in the path, query, headers, or as the whole payload. */
function httpBound(member: NormalizedSchema): boolean {
  const t = member.getMemberTraits();
  return Boolean(t.httpLabel || t.httpHeader || t.httpPrefixHeaders || t.httpQuery || t.httpQueryParams || t.httpPayload || t.httpResponseCode);
}
