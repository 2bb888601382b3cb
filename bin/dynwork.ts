#!/usr/bin/env node
import { Command, CommanderError } from '@commander-js/extra-typings';
import { DynworkError, EXIT, exitCodeFor } from '../src/errors.js';
import { VERSION } from '../src/version.js';
import { registerCommands } from '../src/commands/index.js';

/**
 * The one place errors become output and exit codes: a one-line reason, then
 * a hint on the next line when there is one. Heavy modules (the AWS SDK) are
 * imported inside the commands that need them, so `--help` stays instant.
 */
const program = new Command('dynwork')
  .description('Deploy and drive an autoscaling work-queue cluster, locally or on AWS EC2.')
  .version(VERSION, '-V, --version')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed its message; help and version are not failures.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    const e = err instanceof DynworkError ? err : looksLikeAws(err) ? (await import('../src/providers/aws/errors.js')).toDynworkError(err) : new DynworkError('internal', (err as Error)?.message ?? String(err), { cause: err });
    process.stderr.write(`dynwork: ${e.message}\n`);
    if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
    if (e.code === 'internal' && process.env.DYNWORK_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    process.exitCode = exitCodeFor(e);
  }
}

/** An error out of the AWS SDK (a service error, or the credential chain's) that a command let through: worded like every other AWS failure. */
function looksLikeAws(err: unknown): boolean {
  const e = err as { $metadata?: unknown; name?: unknown } | null;
  return !!e && (e.$metadata !== undefined || (typeof e.name === 'string' && /^(CredentialsProviderError|TokenProviderError|AwsCallError)$/.test(e.name)));
}
