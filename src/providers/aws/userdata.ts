import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DynworkError } from '../../errors.js';
import type { Role } from '../types.js';

/** EC2's limit on user-data, before base64. */
export const USER_DATA_LIMIT = 16 * 1024;

export interface UserDataInput {
  role: Role;
  region: string;
  /** Where the machine gets the dynwork build: "s3://bucket/key" (fetched with the instance role) or an "https://" tarball URL. */
  artifactUrl: string;
  /** Lowercase hex SHA-256 of that tarball; the machine refuses to start on anything else. */
  artifactSha256: string;
  /** credential name → SSM parameter holding it. */
  tokenParameters: Record<string, string>;
  /** Managers: the EBS volume holding its queue. */
  dataVolumeId?: string;
  /** Managers: the allocation id of the Elastic IP clients reach it on. */
  addressAllocationId?: string;
  /** The role's config; must hold no token (use *TokenFile names). */
  config: Record<string, unknown>;
  version: string;
}

const TEMPLATE = fileURLToPath(new URL('../../../../templates/userdata/bootstrap.sh', import.meta.url));
const SECRET_KEYS = ['clientToken', 'workerToken'];

/**
 * Renders the bootstrap script for one machine. Every value is shell-quoted;
 * a config that still holds a token is refused, so a secret can never reach
 * user-data (which anyone with ec2:DescribeInstanceAttribute can read).
 */
export function renderUserData(input: UserDataInput, template = readFileSync(TEMPLATE, 'utf8')): string {
  for (const k of SECRET_KEYS) {
    if (k in input.config) throw new DynworkError('internal', `refusing to put ${k} into user-data`);
  }
  if (JSON.stringify(input.config).includes('PRIVATE KEY')) throw new DynworkError('internal', 'refusing to put a private key into user-data');
  // A bad URL or hash would only show as a machine that never starts, minutes later.
  if (!isArtifactUrl(input.artifactUrl)) throw new DynworkError('internal', `bad artifact URL "${input.artifactUrl}": expected s3://bucket/key or https://host/path`);
  if (!/^[0-9a-f]{64}$/.test(input.artifactSha256)) throw new DynworkError('internal', `bad artifact SHA-256 "${input.artifactSha256}": expected 64 lowercase hex digits`);
  for (const [name, parameter] of Object.entries(input.tokenParameters)) {
    if (!/^[a-z-]+$/.test(name) || !/^\/[A-Za-z0-9/_.-]+$/.test(parameter)) throw new DynworkError('internal', `bad token parameter ${name}=${parameter}`);
  }
  const values: Record<string, string> = {
    DYNWORK_VERSION: input.version.replace(/[^0-9A-Za-z.+-]/g, ''),
    ROLE: shellQuote(input.role),
    REGION: shellQuote(input.region),
    ARTIFACT_URL: shellQuote(input.artifactUrl),
    ARTIFACT_SHA256: shellQuote(input.artifactSha256),
    TOKEN_PARAMETERS: shellQuote(
      Object.entries(input.tokenParameters)
        .map(([n, p]) => `${n}=${p}`)
        .join(' '),
    ),
    DATA_VOLUME: shellQuote(input.dataVolumeId ?? ''),
    ADDRESS_ALLOCATION: shellQuote(input.addressAllocationId ?? ''),
    CONFIG_B64: shellQuote(Buffer.from(JSON.stringify(input.config)).toString('base64')),
  };
  const script = template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, key: string) => {
    const v = values[key];
    if (v === undefined) throw new DynworkError('internal', `user-data template has unknown placeholder {{${key}}}`);
    return v;
  });
  const bytes = Buffer.byteLength(script);
  if (bytes > USER_DATA_LIMIT) {
    throw new DynworkError('usage', `user-data is ${bytes} bytes, over EC2's ${USER_DATA_LIMIT}-byte limit`, {
      hint: "use fewer managers (every manager adds its address to each machine's config)",
    });
  }
  return script;
}

/** s3://bucket/key (a valid bucket name, a non-empty key) or an https URL with a host; no whitespace or control characters anywhere. */
function isArtifactUrl(url: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are what it rejects
  if (/[\s\x00-\x1f\x7f]/.test(url)) return false;
  if (url.startsWith('s3://')) return /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+$/.test(url);
  if (!url.startsWith('https://')) return false;
  try {
    return new URL(url).hostname !== '';
  } catch {
    return false;
  }
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
