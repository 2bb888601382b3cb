#!/usr/bin/env node
import { Command, CommanderError } from '@commander-js/extra-typings';
import { DynworkError, EXIT, exitCodeFor } from '../src/errors.js';
import { VERSION } from '../src/version.js';
import { registerCommands } from '../src/commands/index.js';
import { registerCompletion } from '../src/commands/completion.js';

/**
 * The one place errors become output and exit codes: a one-line reason, then
 * a hint on the next line when there is one; with --json, one JSON object
 * on stdout instead, `{"error": {code, message, hint?}}`, so a script reads
 * one stream whatever happened. Heavy modules (the AWS SDK) are imported
 * inside the commands that need them, so `--help` stays instant.
 */
const json = wantsJson(process.argv.slice(2));
const program = new Command('dynwork')
  .description('Deploy and drive an autoscaling work-queue cluster, locally or on AWS EC2.')
  .version(VERSION, '-V, --version')
  .showHelpAfterError('(run with --help for usage)')
  // Set before the commands are added: each copies these settings.
  .configureOutput(json ? { outputError: () => undefined, writeErr: () => undefined } : {})
  .exitOverride();

registerCommands(program);
await registerCompletion(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed its message (unless --json); help and version are not failures.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (json && err.exitCode !== 0) printJsonError('usage', err.message.replace(/^error: /, ''), 'run with --help for usage');
  } else {
    const e =
      err instanceof DynworkError
        ? err
        : looksLikeAws(err)
          ? (await import('../src/providers/aws/errors.js')).toDynworkError(err)
          : new DynworkError('internal', (err as Error)?.message ?? String(err), { cause: err });
    if (json) {
      printJsonError(e.code, e.message, e.hint);
    } else {
      process.stderr.write(`dynwork: ${e.message}\n`);
      if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
    }
    if (e.code === 'internal' && process.env.DYNWORK_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    process.exitCode = exitCodeFor(e);
  }
}

/** An error out of the AWS SDK (a service error, or the credential chain's) that a command let through: worded like every other AWS failure. */
function looksLikeAws(err: unknown): boolean {
  const e = err as { $metadata?: unknown; name?: unknown } | null;
  return !!e && (e.$metadata !== undefined || (typeof e.name === 'string' && /^(CredentialsProviderError|TokenProviderError|AwsCallError)$/.test(e.name)));
}

/** --json among the options (not after `--`, where it would be data). */
function wantsJson(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--json');
}

function printJsonError(code: string, message: string, hint?: string): void {
  process.stdout.write(`${JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}) } }, null, 2)}\n`);
}
