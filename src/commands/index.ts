import type { Command } from 'commander';

/** Every command, each in its own module, imported only when it runs. */
export function registerCommands(program: Command): void {
  program
    .command('manager', { hidden: true })
    .description('run a manager server (started by providers on manager machines)')
    .requiredOption('--config <file>', 'manager config (JSON, mode 0600)')
    .action(async (o: { config: string }) => {
      const { runManagerRole } = await import('./role-manager.js');
      await runManagerRole(o.config);
    });

  program
    .command('worker', { hidden: true })
    .description('run a worker (started by the leader manager on worker machines)')
    .requiredOption('--config <file>', 'worker config (JSON, mode 0600)')
    .action(async (o: { config: string }) => {
      const { runWorkerRole } = await import('./role-worker.js');
      await runWorkerRole(o.config);
      // Keep-alive sockets and timers must not keep a finished worker alive.
      process.exit(process.exitCode ?? 0);
    });
}
