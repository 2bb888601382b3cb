import { Argument, type CommandUnknownOpts } from '@commander-js/extra-typings';
import type { Command } from 'commander';

const SHELLS = ['bash', 'zsh', 'fish', 'powershell'];

/**
 * `dynwork completion <shell>` prints a script; at each Tab the shell then
 * runs `dynwork complete -- <words so far>`, answered from the same command
 * tree `--help` is made of, so completions cannot drift from the options.
 * The library walks the whole tree, so it is loaded only for those two
 * commands; otherwise a stand-in keeps `completion` in `--help`.
 */
export async function registerCompletion(program: CommandUnknownOpts, argv: readonly string[] = process.argv): Promise<void> {
  if (argv[2] === 'completion' || argv[2] === 'complete') {
    const { default: tab } = await import('@bomb.sh/tab/commander');
    // extra-typings hands back commander's own class; only its type is richer.
    tab(program as unknown as Command, { completionCommandName: 'completion' });
    return;
  }
  program
    .command('completion')
    .description('print a shell completion script, e.g. source <(dynwork completion bash), or add that line to ~/.bashrc')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS));
}
