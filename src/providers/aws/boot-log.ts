/**
 * A machine's boot log, as EC2 keeps it (the serial console), and the one
 * line the boot script prints when it gives up. It tells a boot that failed
 * from one that is slow, so deploy and status can say why at once.
 */
import type { GetConsoleOutputCommandOutput } from '@aws-sdk/client-ec2';
import type { AwsClients } from './clients.js';
import { isAwsError } from './errors.js';

const MARK = 'dynwork: boot failed: ';

/** "boot failed: <reason>" from the last such line of a console log, or null. */
export function bootFailure(consoleText: string): string | null {
  const lines = consoleText.split(/\r?\n/).filter((l) => l.includes(MARK));
  const last = lines.at(-1);
  return last === undefined ? null : `boot failed: ${last.slice(last.indexOf(MARK) + MARK.length).trim()}`;
}

/** The console output so far; '' while EC2 has none. */
export async function consoleOutput(clients: AwsClients, instanceId: string): Promise<string> {
  let out: GetConsoleOutputCommandOutput;
  try {
    // Latest: the live buffer (Nitro), not the snapshot taken every few minutes.
    out = await clients.ec2.getConsoleOutput({ InstanceId: instanceId, Latest: true });
  } catch (err) {
    if (!isAwsError(err, 'UnsupportedOperation')) throw err;
    out = await clients.ec2.getConsoleOutput({ InstanceId: instanceId });
  }
  return out.Output ? Buffer.from(out.Output, 'base64').toString('utf8') : '';
}
