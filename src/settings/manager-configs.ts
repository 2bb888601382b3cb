import { createHash } from 'node:crypto';
import type { AutoscaleSettingsInput, MemberSpec } from './autoscale.js';
import { managerConfigSchema, type Endpoint, type ManagerConfigInput } from './manager.js';

/** What all managers of a cluster share: its name, tokens, limits, the CA in `tls.ca`, autoscale with the member list. */
export type SharedManagerConfig = Omit<ManagerConfigInput, 'index' | 'port' | 'dataDir' | 'tls' | 'autoscale'> & {
  autoscale: AutoscaleSettingsInput & { members: MemberSpec[] };
  tls?: { ca: string };
};

/**
 * The config of manager `index` from what all share. Used for a first
 * launch, a deploy re-run, and by the leader relaunching a dead peer (whose
 * own config is the base then), so all three agree.
 */
export function managerConfigFor(base: SharedManagerConfig, index: number): ManagerConfigInput {
  const members = base.autoscale.members;
  const self = members.find((m) => m.index === index);
  if (!self) throw new Error(`cluster has no manager ${index}`);
  const { tls, ...shared } = base;
  return {
    ...shared,
    ...(tls && self.tls ? { tls: { ca: tls.ca, ...self.tls } } : {}),
    index,
    host: self.bindHost ?? self.host,
    ...(self.bindHost ? { advertiseHost: self.host } : {}),
    port: self.port,
    dataDir: self.dataDir,
    peers: members.filter((m) => m.index !== index).map(memberEndpoint),
  };
}

/** How peers and workers reach a member. */
export function memberEndpoint(m: MemberSpec): Endpoint {
  return { index: m.index, url: `${m.tls ? 'https' : 'http'}://${m.host}:${m.port}`, ...(m.endpointFile ? { endpointFile: m.endpointFile } : {}) };
}

/**
 * Identifies a manager's config, stable across deploy and a leader's
 * relaunch: parsed first (a config with its defaults spelled out hashes like
 * one without), tokens left out (local and aws keep them across re-runs), keys
 * sorted. Hashed in the shape the aws provider ships to a machine (the CA and
 * tokens named by credential), so the hashes on running machines' tags stay valid.
 */
export function managerConfigHash(config: Readonly<Record<string, unknown>>): string {
  const placeholder = 'x'.repeat(16);
  const { clientToken: _c, workerToken: _w, ...rest } = managerConfigSchema.parse({ ...config, clientToken: placeholder, workerToken: placeholder });
  const shipped = {
    ...rest,
    ...(rest.tls ? { tls: { ...withoutCa(rest.tls), caFile: 'cluster-ca' } } : {}),
    clientTokenFile: 'client-token',
    workerTokenFile: 'worker-token',
  };
  return createHash('sha256').update(stableJson(shipped)).digest('hex').slice(0, 16);
}

/**
 * Did manager config `config` change since one with hash `recorded` was
 * launched (undefined: not known, so yes)? The one answer local deploy (the
 * hash in the cluster state) and aws deploy (the instance's tag) act on.
 */
export function managerConfigChanged(recorded: string | undefined, config: ManagerConfigInput): boolean {
  return recorded !== managerConfigHash(config);
}

function withoutCa<T extends { ca?: string }>(tls: T): Omit<T, 'ca'> {
  const { ca: _ca, ...rest } = tls;
  return rest;
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.entries(v)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
