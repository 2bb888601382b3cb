/**
 * The in-memory account of fake-aws.ts served over real HTTP on 127.0.0.1,
 * speaking the wire protocols the SDK speaks: EC2 query, AWS query (IAM,
 * STS) and JSON 1.1 (SSM, Pricing). Requests are decoded and answers encoded
 * with the SDK's own service schemas, so what crosses the wire is what AWS
 * would send and accept; a CLI pointed here by AWS_ENDPOINT_URL runs
 * unchanged.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ec2 from '@aws-sdk/client-ec2';
import * as iam from '@aws-sdk/client-iam';
import * as pricing from '@aws-sdk/client-pricing';
import * as ssm from '@aws-sdk/client-ssm';
import * as sts from '@aws-sdk/client-sts';
import { NormalizedSchema } from '@smithy/core/schema';
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
  /** The SigV4 Authorization header's algorithm and access key, never the signature. */
  signedBy: string | null;
  body: string;
}

export interface AwsWire {
  url: string;
  requests: WireRequest[];
  close(): Promise<void>;
}

export async function serveAws(fake: FakeAws): Promise<AwsWire> {
  const requests: WireRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => void answer(fake, req, Buffer.concat(chunks).toString('utf8'), res, requests));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function answer(fake: FakeAws, req: IncomingMessage, body: string, res: ServerResponse, requests: WireRequest[]): Promise<void> {
  const auth = String(req.headers.authorization ?? '');
  const scope = /^(AWS4-HMAC-SHA256) Credential=([^/]+)\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(auth);
  const service = scope?.[3] ?? '?';
  const spec = SERVICES[service];
  if (!spec) {
    res.writeHead(400).end(`unknown service ${service}`);
    return;
  }
  const target = String(req.headers['x-amz-target'] ?? '');
  const params = new URLSearchParams(body);
  const action = spec.dialect === 'json' ? (target.split('.')[1] ?? '?') : (params.get('Action') ?? '?');
  requests.push({ service, action, signedBy: scope ? `${scope[1]} ${scope[2]}` : null, body });
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
