import { Option, type Command } from '@commander-js/extra-typings';
import { DEPLOY_RANGES, LIMIT_DEFAULTS, SECONDS } from '../settings/bounds.js';
import { intOption, jobIdArg, secondsOption } from './options.js';

const clusterOption = () => new Option('--cluster <name>', 'cluster name').env('DYNWORK_CLUSTER').default('default');
const jsonOption = () => new Option('--json', 'print JSON for scripts (no spinners)').default(false);

/**
 * Every command: options here, the work in its own module, imported only
 * when that command runs so `dynwork --help` loads nothing heavy.
 */
export function registerCommands(program: Command): void {
  program
    .command('deploy')
    .description('start a cluster, or bring it back to what it should be (idempotent: a re-run replaces dead managers and changes nothing else)')
    .addOption(new Option('--provider <name>', "where machines come from (default: the cluster's, else local)").choices(['local', 'aws']))
    .addOption(clusterOption())
    .option('--managers <n>', 'manager servers (default: 2)', intOption('--managers', DEPLOY_RANGES.managers))
    .option('--max-workers <n>', 'most workers at once, cluster-wide (default: one per core locally, 3 per manager on aws)', intOption('--max-workers', DEPLOY_RANGES.maxWorkers))
    .option('--scale-up-after <seconds>', 'start workers when the oldest queued job has waited this long (default: 20)', secondsOption('--scale-up-after', DEPLOY_RANGES.scaleUpAfterS))
    .option('--idle-timeout <seconds>', 'workers stop after this long with nothing to do (default: 300)', secondsOption('--idle-timeout', DEPLOY_RANGES.idleTimeoutS))
    .option('--port <port>', "API port (local: the first manager's; the next ones follow, a taken port moves to the next free one) (default: 5000)", intOption('--port', DEPLOY_RANGES.port))
    .option('--wait <seconds>', 'how long to wait for managers to answer (default: 30 local, 900 aws)', secondsOption('--wait', DEPLOY_RANGES.waitS))
    .option('--no-wait', 'aws: return once the instances run; check health later with dynwork status')
    .optionsGroup('AWS (with --provider aws):')
    .option('--region <region>', "AWS region (default: the SDK's chain: AWS_REGION, the profile's region)")
    .option('--profile <name>', 'AWS profile from ~/.aws/config (default: AWS_PROFILE, else default)')
    .option('--instance-type <type>', 'manager instance type (default: t3.micro)')
    .option('--worker-instance-type <type>', 'worker instance type (default: the manager type)')
    .option('--spot', 'run workers on Spot (interruptions are harmless: leases expire and jobs run again)')
    .option('--subnet <id>', "subnet for every machine (default: the default VPC's first default subnet)")
    .option('--allow-cidr <cidr...>', 'who may reach the API (and SSH) (default: your public IP /32)')
    .option('--ssh', 'open SSH (port 22) to --allow-cidr; the key is saved beside the cluster state')
    .option(
      '--package <spec>',
      'aws: run this build instead of the one deploying (a published version like dynwork@0.2.0, a tarball URL or a local .tgz); uploaded and pinned by its SHA-256 (default: this very build, packed)',
    )
    .optionsGroup('Options:')
    .addOption(jsonOption())
    .action(async (o) => (await import('./deploy.js')).deployCommand(o));

  program
    .command('enqueue')
    .description('submit jobs; prints one id per line, in order')
    .argument('[data...]', 'one job per argument (all sent as one batch)')
    .requiredOption('--iterations <n>', `SHA-512 iterations per job (1 to ${LIMIT_DEFAULTS.maxIterations})`, intOption('--iterations', { min: 1, max: LIMIT_DEFAULTS.maxIterations }))
    .option('--file <path>', "one job per line of this file ('-' for standard input)")
    .addOption(clusterOption())
    .addOption(jsonOption())
    .action(async (data, o) => (await import('./enqueue.js')).enqueueCommand(data, o));

  program
    .command('pull')
    .description('take up to N completed results; prints "id result" lines. Results leave the queue only once written out: a closed pipe (| head), Ctrl-C or a crash gives the rest back')
    .requiredOption('--top <n>', `most results to take (1 to ${LIMIT_DEFAULTS.maxTop})`, intOption('--top', { min: 1, max: LIMIT_DEFAULTS.maxTop }))
    .option('--wait', 'keep pulling until N results arrived (or --timeout)', false)
    .option('--timeout <seconds>', 'with --wait: give up after this long (default: 300)', secondsOption('--timeout', SECONDS))
    .addOption(clusterOption())
    .addOption(jsonOption())
    .action(async (o) => (await import('./pull.js')).pullCommand(o));

  program
    .command('job')
    .description("one job's whole story: state, the worker holding it and until when, every attempt and how it ended, the result")
    .argument('<id>', 'job id (as enqueue printed it)', jobIdArg)
    .addOption(clusterOption())
    .addOption(jsonOption())
    .action(async (id, o) => (await import('./jobs.js')).jobCommand(id, o));

  program
    .command('jobs')
    .description('list jobs in one state, oldest first, across the cluster')
    .addOption(new Option('--state <state>', 'which jobs').choices(['queued', 'running', 'completed', 'failed', 'cancelled']).makeOptionMandatory())
    .option('--limit <n>', 'most jobs to list (1 to 10000)', intOption('--limit', { min: 1, max: 10_000 }), 100)
    .addOption(clusterOption())
    .addOption(jsonOption())
    .action(async (o) => (await import('./jobs.js')).jobsCommand(o));

  program
    .command('retry')
    .description('queue failed or cancelled jobs again (their attempt count starts over); prints "id queued" lines')
    .argument('[ids...]', 'job ids', (v: string, prev: number[] = []) => [...prev, jobIdArg(v)])
    .option('--failed', 'every failed job of the cluster', false)
    .addOption(clusterOption())
    .addOption(jsonOption())
    .action(async (ids, o) => (await import('./jobs.js')).jobActionCommand('retry', ids, o));

  program
    .command('cancel')
    .description('cancel queued or running jobs (a running job\'s worker drops it); prints "id cancelled" lines')
    .argument('<ids...>', 'job ids', (v: string, prev: number[] = []) => [...prev, jobIdArg(v)])
    .addOption(clusterOption())
    .addOption(jsonOption())
    .action(async (ids, o) => (await import('./jobs.js')).jobActionCommand('cancel', ids, o));

  program
    .command('status')
    .description('managers (URL, health, queue), workers (age, state), throughput and what the machines cost per hour (aws: list or spot price)')
    .addOption(clusterOption())
    .addOption(jsonOption())
    .option('--watch', 'refresh every 2 seconds until interrupted', false)
    .action(async (o) => (await import('./status.js')).statusCommand(o));

  program
    .command('dashboard')
    .description("print the live dashboard's URL (the client token rides in the fragment, which never reaches a server log); --open opens it")
    .addOption(clusterOption())
    .option('--manager <n>', 'which manager serves it (each serves the whole cluster)', intOption('--manager', DEPLOY_RANGES.managers), 1)
    .option('--open', 'open it in the default browser', false)
    .addOption(jsonOption())
    .action(async (o) => (await import('./dashboard.js')).dashboardCommand(o));

  program
    .command('logs')
    .description('one time-ordered stream from every process of the cluster (local: its log files, kept after teardown; aws: served by the managers, workers included)')
    .addOption(clusterOption())
    .addOption(new Option('--role <role>', 'only managers or only workers').choices(['manager', 'worker']))
    .option('--job <id>', 'only lines about this job', jobIdArg)
    .option('--since <when>', 'only lines since: 90s, 10m, 2h, 1d or an ISO time')
    .option('-f, --follow', 'keep printing new lines until interrupted', false)
    .option('--boot <instance>', "aws: this instance's console output (where boot failures show)")
    .addOption(new Option('--json', 'the raw JSON lines').default(false))
    .action(async (o) => (await import('./logs.js')).logsCommand(o));

  program
    .command('teardown')
    .description('remove everything the cluster made (processes; on aws instances, security group, key pair, volumes, tokens, IAM) and its state; waits until gone')
    .addOption(clusterOption())
    .addOption(new Option('--provider <name>', "where the cluster runs, when its state file is gone (default: the state's, else local)").choices(['local', 'aws']))
    .option('--region <region>', "aws: region (default: the state's, else the SDK's chain)")
    .option('--profile <name>', 'aws: profile from ~/.aws/config')
    .option('--keep-data', "keep the managers' queues (local: on disk; aws: the EBS data volumes) for the next deploy", false)
    .option('--purge', 'local: remove the log files too (kept by default, for dynwork logs)', false)
    .option('--dry-run', 'aws: list what would be removed, remove nothing', false)
    .option('-y, --yes', 'aws: remove without asking (needed when not at a terminal)', false)
    .addOption(jsonOption())
    .action(async (o) => (await import('./teardown.js')).teardownCommand(o));

  program
    .command('ssh')
    .description('aws: a shell (or COMMAND) on a manager, with the key deploy saved (needs deploy --ssh)')
    .argument('[command...]', 'run this instead of a shell, e.g. journalctl -u dynwork-manager')
    .addOption(clusterOption())
    .option('--manager <n>', 'which manager', intOption('--manager', DEPLOY_RANGES.managers), 1)
    // The remote command's own options (journalctl -u …) are not ours.
    .allowUnknownOption()
    .action(async (command, o) => (await import('./ssh.js')).sshCommand(command, o));

  program
    .command('token')
    .description("print the cluster's client token (for Authorization: Bearer)")
    .addOption(clusterOption())
    .option('--curl-config', 'print a curl config instead (the Authorization header and the CA): curl -K <(dynwork token --curl-config) https://…', false)
    .action(async (o) => (await import('./token.js')).tokenCommand(o));

  program
    .command('ca')
    .description("print the path of the cluster's CA certificate (for curl --cacert: managers serve HTTPS under it)")
    .addOption(clusterOption())
    .action(async (o) => (await import('./ca.js')).caCommand(o));

  program
    .command('manager', { hidden: true })
    .description('run a manager server (started by providers on manager machines)')
    .requiredOption('--config <file>', 'manager config (JSON, mode 0600)')
    .action(async (o) => {
      const { runManagerRole } = await import('./role-manager.js');
      await runManagerRole(o.config);
    });

  program
    .command('worker', { hidden: true })
    .description('run a worker (started by the leader manager on worker machines)')
    .requiredOption('--config <file>', 'worker config (JSON, mode 0600)')
    .action(async (o) => {
      const { runWorkerRole } = await import('./role-worker.js');
      await runWorkerRole(o.config);
      // Keep-alive sockets and timers must not keep a finished worker alive.
      process.exit(process.exitCode ?? 0);
    });
}
