import { deploy } from '../cluster/deploy.js';
import { createLocalProvider } from '../providers/local.js';
import { cliProgress, print, printJson } from './ui.js';

export interface DeployFlags {
  provider: 'local';
  cluster: string;
  managers?: number;
  maxWorkers?: number;
  scaleUpAfter?: number;
  idleTimeout?: number;
  port?: number;
  wait?: number;
  json: boolean;
}

export async function deployCommand(o: DeployFlags): Promise<void> {
  const result = await deploy(
    {
      cluster: o.cluster,
      provider: o.provider,
      ...(o.managers !== undefined && { managers: o.managers }),
      ...(o.maxWorkers !== undefined && { maxWorkers: o.maxWorkers }),
      ...(o.scaleUpAfter !== undefined && { scaleUpAfterS: o.scaleUpAfter }),
      ...(o.idleTimeout !== undefined && { idleTimeoutS: o.idleTimeout }),
      ...(o.port !== undefined && { port: o.port }),
      ...(o.wait !== undefined && { waitS: o.wait }),
    },
    createLocalProvider(),
    cliProgress(o.json),
  );
  if (o.json) {
    const { clientToken: _omit, ...rest } = result;
    printJson(rest);
    return;
  }
  print(`cluster "${result.cluster}" is ${result.changed ? 'up' : 'already up; nothing changed'}`);
  for (const m of result.managers) print(`  manager ${m.index}  ${m.url}  pid ${m.pid ?? '?'}  (${m.action})`);
  const url = result.managers[0]?.url ?? 'http://127.0.0.1:5000';
  print('');
  print('try it:');
  print(`  curl -X PUT "${url}/enqueue?iterations=10" -H "Authorization: Bearer $(npx dynwork token${o.cluster === 'default' ? '' : ` --cluster ${o.cluster}`})" -d "data=Hello"`);
  print(`  curl -X POST "${url}/pullCompleted?top=2" -H "Authorization: Bearer $(npx dynwork token${o.cluster === 'default' ? '' : ` --cluster ${o.cluster}`})"`);
}
