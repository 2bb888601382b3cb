/**
 * One interface for every place machines come from. The CLI uses it to start
 * managers, the leader manager uses it to start and stop workers. Everything a
 * provider creates is labelled with the cluster and role, so `list` finds it
 * again from a new process, after a restart, and without the CLI's state file.
 */
export type Role = 'manager' | 'worker';

export interface LaunchSpec {
  cluster: string;
  /** Manager number (1..999); managers only. */
  index?: number;
  /** How many to start (workers). @default 1 */
  count?: number;
  /**
   * The role's JSON config (ManagerConfig or WorkerConfig). The provider
   * delivers it to the machine privately (local: a 0600 file; aws: user-data
   * reading a root-only file) and starts `dynwork <role> --config FILE`.
   */
  config: Record<string, unknown>;
}

export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped';

export interface Instance {
  /** Provider's id: local "<role>-<index or n>-<pid>"-style id, aws instance id. */
  id: string;
  cluster: string;
  role: Role;
  index?: number;
  state: InstanceState;
  launchedAt: string;
  /** local only */
  pid?: number;
  /** local only: its log file, and where this process's output starts in it (restarts append to one file). */
  log?: { file: string; offset: number };
  /** Address peers and workers use (aws: private IP; local: 127.0.0.1). */
  address?: string;
  /** aws only: the public address the CLI reaches managers on. */
  publicAddress?: string;
  /** aws managers only: hash of the config it was launched with. */
  configHash?: string;
  /** aws only: what it costs depends on these. */
  instanceType?: string;
  spot?: boolean;
  zone?: string;
}

export interface HourlyCost {
  /** null when the price could not be found (then `basis` says why). */
  usdPerHour: number | null;
  /** What was priced, and how, in a few words. */
  basis: string;
}

export interface ListFilter {
  cluster: string;
  role?: Role;
  /** Include stopped/terminated instances. @default false */
  includeStopped?: boolean;
}

export interface Provider {
  readonly name: 'local' | 'aws';
  launch(role: Role, spec: LaunchSpec): Promise<Instance[]>;
  list(filter: ListFilter): Promise<Instance[]>;
  /** Stops these instances; ids already gone are not an error. Resolves once they are gone. */
  terminate(ids: string[]): Promise<void>;
  /** What these instances cost per hour now (for `status`). */
  hourlyCost(instances: Instance[]): Promise<HourlyCost>;
  /** Why a machine that does not answer failed to boot ("boot failed: …"), when its boot log says so; null while it just has not come up yet. */
  bootFailure?(instanceId: string): Promise<string | null>;
}
