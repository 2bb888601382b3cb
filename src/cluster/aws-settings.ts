/**
 * What `deploy --provider aws` was asked for, checked without loading the AWS
 * SDK, so a bad option is a quick one-line error before any AWS call.
 */
import { DynworkError } from '../errors.js';
import { deployProblems } from '../settings/bounds.js';
import type { AwsDeploySettings } from '../settings/cluster-state.js';

export interface AwsDeployOptions {
  cluster: string;
  /** @default 2 */
  managers?: number;
  /** Cluster-wide. @default 3 per manager */
  maxWorkers?: number;
  /** @default 20 */
  scaleUpAfterS?: number;
  /** @default 300 */
  idleTimeoutS?: number;
  /** @default "t3.micro" */
  instanceType?: string;
  /** @default instanceType */
  workerInstanceType?: string;
  /** Workers on Spot. @default false */
  spot?: boolean;
  /** @default the default VPC's first default subnet */
  subnet?: string;
  /** Who may reach the API (and SSH). @default the deployer's public IPv4 /32 */
  allowCidr?: string[];
  /** Open SSH (port 22) to allowCidr. @default false */
  ssh?: boolean;
  /**
   * What machines run, instead of this very build: a published version
   * ("dynwork@0.2.0"), a tarball URL or a local .tgz. Either way it is
   * uploaded and pinned by its SHA-256. @default this build, packed
   */
  packageSpec?: string;
  /** API port. @default 5000 */
  port?: number;
  /** false: return once instances run (health is for `dynwork status`). @default true */
  wait?: boolean;
  /** How long to wait for managers to answer. @default 900 */
  waitS?: number;
}

/** The deploy options in force (the cluster state adds the region). */
export type ResolvedAwsSettings = Omit<AwsDeploySettings, 'region'>;

/** The deploy options in force: given ones, else the last deploy's, else defaults; every problem in one message. */
export function resolveAwsSettings(opts: AwsDeployOptions, prev: Partial<ResolvedAwsSettings> | undefined): ResolvedAwsSettings {
  const managers = opts.managers ?? prev?.managers ?? 2;
  const instanceType = opts.instanceType ?? prev?.instanceType ?? 't3.micro';
  const s: ResolvedAwsSettings = {
    managers,
    maxWorkers: opts.maxWorkers ?? prev?.maxWorkers ?? 3 * managers,
    scaleUpAfterS: opts.scaleUpAfterS ?? prev?.scaleUpAfterS ?? 20,
    idleTimeoutS: opts.idleTimeoutS ?? prev?.idleTimeoutS ?? 300,
    instanceType,
    workerInstanceType: opts.workerInstanceType ?? prev?.workerInstanceType ?? instanceType,
    spot: opts.spot ?? prev?.spot ?? false,
    subnet: opts.subnet ?? prev?.subnet ?? null,
    allowCidr: opts.allowCidr ?? prev?.allowCidr ?? null,
    ssh: opts.ssh ?? prev?.ssh ?? false,
    packageSpec: opts.packageSpec ?? prev?.packageSpec ?? null,
    port: opts.port ?? prev?.port ?? 5000,
    wait: opts.wait ?? true,
    waitS: opts.waitS ?? 900,
  };
  const problems = deployProblems(s);
  for (const t of new Set([s.instanceType, s.workerInstanceType])) if (!/^[a-z0-9-]+\.[a-z0-9]+$/.test(t)) problems.push(`instance type "${t}" does not look like one (e.g. t3.micro)`);
  if (s.subnet !== null && !/^subnet-[0-9a-f]+$/.test(s.subnet)) problems.push(`--subnet "${s.subnet}" is not a subnet id (subnet-…)`);
  for (const c of s.allowCidr ?? []) if (!/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(c)) problems.push(`--allow-cidr "${c}" is not an IPv4 CIDR (e.g. 203.0.113.7/32)`);
  if (s.packageSpec !== null && (/\s|'/.test(s.packageSpec) || s.packageSpec === '')) problems.push('--package must be one npm spec, URL or file without spaces or quotes');
  if (problems.length > 0) throw new DynworkError('usage', problems.join('; '), { hint: 'see dynwork deploy --help' });
  return s;
}
