/**
 * The ranges options must fall in, each defined once: the CLI's option
 * parsers, deploy's checks and the schemas all read them. No zod here, so the
 * CLI reads them without loading it (`dynwork --help` stays light).
 */
export interface Range {
  readonly min: number;
  readonly max: number;
}

/** A duration option in seconds: whole milliseconds in the runtime, so 0.001 is the least. */
export const SECONDS: Range = { min: 0.001, max: 86_400 };

export const DEPLOY_RANGES = {
  managers: { min: 1, max: 9 },
  maxWorkers: { min: 0, max: 1000 },
  port: { min: 1024, max: 65000 },
  scaleUpAfterS: SECONDS,
  idleTimeoutS: { min: SECONDS.min, max: 7 * 86_400 },
  waitS: SECONDS,
} as const satisfies Record<string, Range>;

/** What one request may hold, unless a manager's config says otherwise. */
export const LIMIT_DEFAULTS = {
  maxDataBytes: 1024 * 1024,
  maxIterations: 10_000_000,
  maxTop: 10_000,
  maxBatch: 10_000,
  maxBodyBytes: 16 * 1024 * 1024,
} as const;

export function intRangeMessage(flag: string, r: Range): string {
  return `${flag} must be an integer from ${r.min} to ${r.max}`;
}

export function inIntRange(v: number, r: Range): boolean {
  return Number.isInteger(v) && v >= r.min && v <= r.max;
}

export function secondsRangeMessage(flag: string, r: Range): string {
  return `${flag} must be a number of seconds from ${r.min} to ${r.max} (at most 3 decimals)`;
}

export function inSecondsRange(v: number, r: Range): boolean {
  return Number.isFinite(v) && v >= r.min && v <= r.max && Math.abs(v * 1000 - Math.round(v * 1000)) < 1e-6;
}

/** The options every deploy takes, whichever the provider. */
export interface DeployCounts {
  managers: number;
  maxWorkers: number;
  scaleUpAfterS: number;
  idleTimeoutS: number;
  port: number;
}

/** Every out-of-range deploy option, one message each, named by its flag. */
export function deployProblems(s: DeployCounts): string[] {
  const problems: string[] = [];
  const int = (flag: string, v: number, r: Range) => inIntRange(v, r) || problems.push(intRangeMessage(flag, r));
  const seconds = (flag: string, v: number, r: Range) => inSecondsRange(v, r) || problems.push(secondsRangeMessage(flag, r));
  int('--managers', s.managers, DEPLOY_RANGES.managers);
  int('--max-workers', s.maxWorkers, DEPLOY_RANGES.maxWorkers);
  seconds('--scale-up-after', s.scaleUpAfterS, DEPLOY_RANGES.scaleUpAfterS);
  seconds('--idle-timeout', s.idleTimeoutS, DEPLOY_RANGES.idleTimeoutS);
  int('--port', s.port, DEPLOY_RANGES.port);
  return problems;
}
