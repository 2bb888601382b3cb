import { DynworkError } from '../../errors.js';

/**
 * What every wrapped AWS call throws: the SDK's error name (`code`, e.g.
 * "InvalidGroup.NotFound") and the IAM action we were calling, so get-or-create
 * code can test for one named "not found" and the CLI can say which permission
 * is missing.
 */
export class AwsCallError extends Error {
  readonly code: string;
  /** IAM action name of the call, e.g. "ec2:RunInstances". */
  readonly action: string;

  constructor(action: string, cause: unknown) {
    const code = errorName(cause);
    const message = cause instanceof Error ? cause.message : String(cause);
    super(`${action}: ${code}: ${message}`, { cause });
    this.name = 'AwsCallError';
    this.code = code;
    this.action = action;
  }

  /** The service's own message, without our prefix. */
  get awsMessage(): string {
    const c = this.cause;
    return c instanceof Error ? c.message : String(c);
  }
}

function errorName(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { name?: unknown; Code?: unknown; code?: unknown };
    if (typeof e.Code === 'string' && e.Code) return e.Code;
    if (typeof e.name === 'string' && e.name && e.name !== 'Error') return e.name;
    if (typeof e.code === 'string' && e.code) return e.code;
  }
  return 'Error';
}

/** True when `err` is an AWS error with one of these names. Anything else (including other AWS errors) is false. */
export function isAwsError(err: unknown, ...codes: string[]): boolean {
  return err instanceof AwsCallError && codes.includes(err.code);
}

const NO_CREDENTIALS = ['CredentialsProviderError'];
const EXPIRED = ['ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired', 'RequestExpired'];
const BAD_CREDENTIALS = ['InvalidClientTokenId', 'UnrecognizedClientException', 'SignatureDoesNotMatch', 'InvalidAccessKeyId', 'AuthFailure'];
const DENIED = ['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException', 'Client.UnauthorizedOperation'];
const QUOTA = ['VcpuLimitExceeded', 'InstanceLimitExceeded', 'MaxSpotInstanceCountExceeded', 'AddressLimitExceeded', 'VolumeLimitExceeded', 'ResourceLimitExceeded'];
const THROTTLED = ['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException'];

const DEPLOYER_POLICY_HINT = 'docs/aws.md lists the least-privilege policy the deploying identity needs';

/**
 * The one place AWS failures become user-facing errors: one line saying what
 * went wrong and a hint saying how to fix it. DynworkErrors pass through.
 */
export function toDynworkError(err: unknown, ctx: { region?: string } = {}): DynworkError {
  if (err instanceof DynworkError) return err;
  const where = ctx.region ? ` in ${ctx.region}` : '';
  if (!(err instanceof AwsCallError)) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/region is missing/i.test(msg)) {
      return new DynworkError('usage', 'no AWS region configured', { cause: err, hint: 'pass --region (e.g. --region us-east-1) or set AWS_REGION' });
    }
    return new DynworkError('provider_error', `AWS call failed: ${msg}`, { cause: err });
  }
  const { code, action } = err;
  const msg = firstSentence(err.awsMessage);
  if (NO_CREDENTIALS.includes(code)) {
    if (/expired/i.test(err.awsMessage)) {
      return new DynworkError('provider_error', 'your AWS session has expired', { cause: err, hint: 'log in again (aws sso login, or fresh temporary keys) and re-run' });
    }
    return new DynworkError('provider_error', 'no AWS credentials found', {
      cause: err,
      hint: 'configure them (aws configure, aws sso login, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) or pass --profile NAME',
    });
  }
  if (EXPIRED.includes(code)) {
    return new DynworkError('provider_error', `your AWS session token has expired (${code})`, {
      cause: err,
      hint: code === 'RequestExpired' ? "check this machine's clock, then re-run" : 'refresh your credentials (aws sso login, or new temporary keys) and re-run',
    });
  }
  if (BAD_CREDENTIALS.includes(code)) {
    return new DynworkError('provider_error', `AWS rejected your credentials${where} (${code})`, {
      cause: err,
      hint: 'check the access key / profile (aws sts get-caller-identity), and that the region is enabled for your account',
    });
  }
  if (DENIED.includes(code)) {
    const denied = deniedAction(err.awsMessage) ?? action;
    const encoded = /Encoded authorization failure message/i.test(err.awsMessage);
    return new DynworkError('provider_error', `your AWS identity is not allowed to call ${denied}${where}`, {
      cause: err,
      hint: `grant ${denied} to it (${DEPLOYER_POLICY_HINT})${encoded ? '; the full reason: aws sts decode-authorization-message --encoded-message …' : ''}`,
    });
  }
  if (QUOTA.includes(code)) {
    return new DynworkError('provider_error', `AWS quota reached${where}: ${msg} (${code})`, {
      cause: err,
      hint:
        code === 'AddressLimitExceeded'
          ? 'release unused Elastic IPs or ask for more (Service Quotas → EC2 → EC2-VPC Elastic IPs)'
          : 'ask for more (Service Quotas → Amazon EC2 → Running On-Demand / Spot instances) or use fewer or smaller instances (--managers, --max-workers, --instance-type)',
    });
  }
  if (code === 'InsufficientInstanceCapacity') {
    return new DynworkError('provider_error', `AWS has no spare capacity for this instance type${where} right now`, {
      cause: err,
      hint: 'try another --instance-type / --worker-instance-type, or another availability zone with --subnet',
    });
  }
  if (code === 'Unsupported') {
    return new DynworkError('provider_error', `not supported here: ${msg}`, { cause: err, hint: 'pick another --instance-type, or a subnet in another availability zone (--subnet)' });
  }
  if (code === 'InvalidInstanceType' || (code === 'InvalidParameterValue' && /instance ?type/i.test(err.awsMessage))) {
    return new DynworkError('usage', `invalid instance type: ${msg}`, { cause: err, hint: 'see aws ec2 describe-instance-type-offerings --region REGION' });
  }
  if (code === 'ParameterNotFound') {
    return new DynworkError('provider_error', `region${where || ' (default)'} has no Amazon Linux 2023 AMI parameter`, {
      cause: err,
      hint: 'choose a region where Amazon Linux 2023 is offered (--region)',
    });
  }
  if (code === 'OptInRequired') {
    return new DynworkError('provider_error', `your account is not subscribed to EC2${where} or the region is not enabled`, {
      cause: err,
      hint: 'enable the region in the AWS console (Account → AWS Regions) or pick another --region',
    });
  }
  if (THROTTLED.includes(code)) {
    return new DynworkError('provider_error', `AWS kept throttling ${action} after retries`, { cause: err, hint: 'wait a minute and re-run (the run picks up where it stopped)' });
  }
  return new DynworkError('provider_error', `AWS ${action} failed: ${code}: ${msg}`, {
    cause: err,
    hint: 're-run the command: it continues where it stopped; tear down with dynwork teardown --provider aws',
  });
}

/** "… is not authorized to perform: ec2:RunInstances on resource …" → "ec2:RunInstances". */
export function deniedAction(message: string): string | null {
  const m = /perform:?\s+([a-z0-9-]+:[A-Za-z0-9*]+)/.exec(message);
  return m?.[1] ?? null;
}

function firstSentence(s: string): string {
  const line = s.split('\n')[0] ?? '';
  const cut = line.indexOf('. Encoded authorization');
  return (cut >= 0 ? line.slice(0, cut) : line).trim();
}

/** `fn`'s answer, or undefined when AWS says the thing does not exist (one of `notFound`). */
export async function ifExists<T>(notFound: string[], fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (isAwsError(err, ...notFound)) return undefined;
    throw err;
  }
}

/** IAM's "no such role / profile / policy", as the SDK names it and as the wire does. */
export const IAM_NOT_FOUND = ['NoSuchEntityException', 'NoSuchEntity'];
