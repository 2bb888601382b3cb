import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { requireCluster } from '../cluster/connect.js';
import { clusterDir, writePrivateFile } from '../state/cluster-state.js';
import { print, printJson } from './ui.js';

/**
 * Prints the dashboard's address with the client token in the URL fragment
 * (browsers never send a fragment to the server, so it is in no log). With
 * --open, the browser gets a private redirect file instead of the URL, so the
 * token is not on a command line where other users' `ps` would show it.
 */
export function dashboardCommand(o: { cluster: string; open: boolean; manager: number; json: boolean }): void {
  const state = requireCluster(o.cluster);
  const m = state.managers.find((x) => x.index === o.manager) ?? state.managers[0]!;
  const base = m.url.replace(/\/+$/, '');
  const url = `${base}/#token=${encodeURIComponent(state.clientToken)}`;
  if (o.json) printJson({ url, managers: state.managers.map((x) => ({ index: x.index, url: `${x.url.replace(/\/+$/, '')}/` })) });
  else {
    print(url);
    if (base.startsWith('https:')) {
      process.stderr.write(`the page is served over HTTPS with this cluster's own CA (${join(clusterDir(o.cluster), 'ca.pem')}): trust it in your browser, or accept the warning once\n`);
    }
  }
  if (o.open) {
    const file = join(clusterDir(o.cluster), 'dashboard.html');
    writePrivateFile(file, `<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>dynwork</title><script>location.replace(${JSON.stringify(url)})</script>\n`);
    const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
    const child = spawn(opener, [file], { detached: true, stdio: 'ignore' });
    child.on('error', () => process.stderr.write(`dynwork: could not start ${opener}; open the URL above in a browser\n`));
    child.unref();
  }
}
