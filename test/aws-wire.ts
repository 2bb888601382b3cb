/**
 * The in-memory account of fake-aws.ts served over real HTTP on 127.0.0.1,
 * speaking the wire protocols the SDK speaks: EC2 query, AWS query (IAM,
 * STS) and JSON 1.1 (SSM, Pricing). Requests are decoded and answers encoded
 * with the SDK's own service schemas, so what crosses the wire is what AWS
 * would send and accept; a CLI pointed here by AWS_ENDPOINT_URL runs
 * unchanged.
 */
import { createHash, createHmac, type BinaryLike } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ec2 from '@aws-sdk/client-ec2';
import * as iam from '@aws-sdk/client-iam';
import * as pricing from '@aws-sdk/client-pricing';
import * as ssm from '@aws-sdk/client-ssm';
import * as sts from '@aws-sdk/client-sts';
import { NormalizedSchema } from '@smithy/core/schema';
import { SignatureV4 } from '@smithy/signature-v4';
import type { FakeAws } from './fake-aws.js';

type Dialect = 'ec2' | 'query' | 'json';
const SERVICES: Record<string, { module: Record<string, unknown>; dialect: Dialect; xmlns: string }> = {
  ec2: { module: ec2, dialect: 'ec2', xmlns: 'http://ec2.amazonaws.com/doc/2016-11-15/' },
  iam: { module: iam, dialect: 'query', xmlns: 'https://iam.amazonaws.com/doc/2010-05-08/' },
  sts: { module: sts, dialect: 'query', xmlns: 'https://sts.amazonaws.com/doc/2011-06-15/' },
  ssm: { module: ssm, dialect: 'json', xmlns: '' },
  pricing: { module: pricing, dialect: 'json', xmlns: '' },
};

export interface WireRequest {
  service: string;
  action: string;
  /** The access key whose secret made a valid SigV4 signature; null when unsigned or the signature is wrong. */
  signedBy: string | null;
  /** The region the request was signed for. */
  region: string | null;
  body: string;
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
    req.on('end', () => void answer(fake, keys, req, Buffer.concat(chunks).toString('utf8'), res, requests));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function answer(fake: FakeAws, keys: Record<string, string>, req: IncomingMessage, body: string, res: ServerResponse, requests: WireRequest[]): Promise<void> {
  const auth = String(req.headers.authorization ?? '');
  const scope = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(auth);
  const service = scope?.[3] ?? '?';
  const spec = SERVICES[service];
  if (!spec) {
    res.writeHead(400).end(`unknown service ${service}`);
    return;
  }
  const target = String(req.headers['x-amz-target'] ?? '');
  const params = new URLSearchParams(body);
  const action = spec.dialect === 'json' ? (target.split('.')[1] ?? '?') : (params.get('Action') ?? '?');
  const signedBy = scope && (await signatureValid(req, body, auth, scope[1]!, keys[scope[1]!], scope[2]!, service)) ? scope[1]! : null;
  requests.push({ service, action, signedBy, region: scope?.[2] ?? null, body });
  if (!signedBy) {
    const message = 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.';
    if (spec.dialect === 'json') res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: 'InvalidSignatureException', message }));
    else if (spec.dialect === 'ec2') res.writeHead(401, { 'content-type': 'text/xml' }).end(`<Response><Errors><Error><Code>AuthFailure</Code><Message>${message}</Message></Error></Errors><RequestID>req-1</RequestID></Response>`);
    else res.writeHead(403, { 'content-type': 'text/xml' }).end(`<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>${message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`);
    return;
  }
  const op = spec.module[`${action}$`] as unknown[] | undefined;
  if (!op) {
    res.writeHead(400).end(`unknown action ${action}`);
    return;
  }
  const [inSchema, outSchema] = [(op[4] as () => unknown)(), (op[5] as () => unknown)()];
  try {
    const input = spec.dialect === 'json' ? (JSON.parse(body || '{}') as Record<string, unknown>) : (decode(NormalizedSchema.of(inSchema as never), params, '', spec.dialect) as Record<string, unknown>);
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

/** Signs the request again with the key's secret, over the headers the client signed, and compares. */
async function signatureValid(req: IncomingMessage, body: string, auth: string, keyId: string, secret: string | undefined, region: string, service: string): Promise<boolean> {
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
  const signature = /Signature=([0-9a-f]+)/.exec(auth)?.[1];
  const date = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(String(req.headers['x-amz-date'] ?? ''));
  if (!secret || !signature || !date || !signedHeaders.includes('host')) return false;
  const url = new URL(req.url ?? '/', 'http://placeholder');
  const headers = Object.fromEntries(signedHeaders.map((h) => [h, String(req.headers[h] ?? '')]));
  const signer = new SignatureV4({ service, region, credentials: { accessKeyId: keyId, secretAccessKey: secret }, sha256: Sha256 });
  const signed = await signer.sign(
    { method: req.method ?? 'POST', protocol: 'http:', hostname: '127.0.0.1', path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body },
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

/** An output object as the XML the SDK's XmlShapeDeserializer reads. */
function encodeMembers(ns: NormalizedSchema, value: Record<string, unknown>, dialect: Dialect): string {
  let out = '';
  for (const [name, member] of ns.structIterator()) {
    if (value[name] == null) continue;
    out += encode(member, value[name], (member.getMemberTraits().xmlName as string | undefined) ?? name, dialect);
  }
  return out;
}

function encode(ns: NormalizedSchema, value: unknown, tag: string, dialect: Dialect): string {
  if (ns.isStructSchema()) return `<${tag}>${encodeMembers(ns, value as Record<string, unknown>, dialect)}</${tag}>`;
  if (ns.isListSchema()) {
    const item = ns.getValueSchema();
    const items = value as unknown[];
    if (ns.getMergedTraits().xmlFlattened) return items.map((v) => encode(item, v, tag, dialect)).join('');
    const itemTag = (item.getMergedTraits().xmlName as string | undefined) ?? 'member';
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
