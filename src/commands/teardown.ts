import { teardown } from '../cluster/teardown.js';
import { createLocalProvider } from '../providers/local.js';
import { cliProgress, print, printJson } from './ui.js';

export async function teardownCommand(o: { cluster: string; provider: 'local'; keepData: boolean; json: boolean }): Promise<void> {
  const r = await teardown(o.cluster, createLocalProvider(), cliProgress(o.json), { keepData: o.keepData });
  if (o.json) printJson(r);
  else if (r.nothingToDo) print(`cluster "${o.cluster}": nothing to do (no process or state found)`);
  else print(`cluster "${o.cluster}" removed: ${r.removed.length} process${r.removed.length === 1 ? '' : 'es'} stopped${o.keepData ? '; queues kept on disk' : ''}`);
}
