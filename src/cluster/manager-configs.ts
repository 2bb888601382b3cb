import { join } from 'node:path';
import type { AwsClusterSettings } from '../providers/aws/settings.js';

/** What every manager of a cluster knows about all of them (to find peers and to relaunch one). */
export interface MemberSpec {
  index: number;
  /** Address peers and workers use. */
  host: string;
  /** Address the manager listens on. @default host */
  bindHost?: string;
  port: number;
  dataDir: string;
  /**
   * Where the manager writes the port it really bound, when its peers and
   * workers share its file system (local); absent on aws.
   */
  endpointFile?: string;
  /**
   * Where this manager's certificate and key are (deploy issued them; see
   * certificates.ts). Present once the cluster has a CA: then it serves HTTPS.
   * local: files in its data dir; aws: the certificate itself (public) and the
   * key's credential name (read from SSM at boot).
   */
  tls?: { cert?: string; certFile?: string; keyFile: string; certSha256?: string };
}

/**
 * The autoscaler's timings from the deploy options (seconds, up to three
 * decimals), in the whole milliseconds the runtime's policy requires: a
 * value the CLI accepts is one the leader runs with.
 */
export function scalingTimes(scaleUpAfterS: number, idleTimeoutS: number): Pick<AutoscaleSettings, 'scaleUpAfterMs' | 'intervalMs' | 'workerIdleTimeoutMs'> {
  const scaleUpAfterMs = Math.max(1, Math.round(scaleUpAfterS * 1000));
  return {
    scaleUpAfterMs,
    // Decide about four times per threshold, within 0.5-5 s.
    intervalMs: Math.min(5000, Math.max(500, Math.round(scaleUpAfterMs / 4))),
    workerIdleTimeoutMs: Math.max(1, Math.round(idleTimeoutS * 1000)),
  };
}

/** Settings the leader's autoscaler and worker launches need; carried in ManagerConfig.autoscale. */
export interface AutoscaleSettings {
  provider: 'local' | 'aws';
  /** local: the state root the local provider records processes under. */
  root?: string;
  /** aws: where and how machines are launched. */
  aws?: AwsClusterSettings;
  members: MemberSpec[];
  maxWorkers: number;
  scaleUpAfterMs: number;
  intervalMs: number;
  /** Workers exit after this long idle. */
  workerIdleTimeoutMs: number;
  /** Hash threads per worker (local: 1, each worker process is one core). */
  workerThreads: number;
  launchDeadlineMs: number;
  heartbeatTimeoutMs: number;
  managerDeadAfterMs: number;
  workerNoManagerTimeoutMs: number;
  workerMaxLifetimeMs: number;
}

/**
 * The config of manager `index`: `base` holds what all managers share (cluster,
 * tokens, limits, the CA in `tls.ca`, autoscale with the member list). Used
 * for a first launch, a deploy re-run, and by the leader relaunching a dead
 * peer (whose own config is the base then), so all three agree.
 */
export function managerConfigFor(base: Record<string, unknown> & { autoscale: AutoscaleSettings; tls?: { ca: string } }, index: number): Record<string, unknown> {
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
    peers: members
      .filter((m) => m.index !== index)
      .map(memberEndpoint),
  };
}

export function localMembers(clusterDir: string, count: number, basePort: number): (MemberSpec & { endpointFile: string })[] {
  return Array.from({ length: count }, (_, i) => {
    const dataDir = join(clusterDir, 'managers', String(i + 1));
    return { index: i + 1, host: '127.0.0.1', port: basePort + i, dataDir, endpointFile: join(dataDir, 'endpoint.json') };
  });
}

/** How peers and workers reach a member. */
export function memberEndpoint(m: MemberSpec): { index: number; url: string; endpointFile?: string } {
  return { index: m.index, url: `${m.tls ? 'https' : 'http'}://${m.host}:${m.port}`, ...(m.endpointFile ? { endpointFile: m.endpointFile } : {}) };
}
