import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { dynwork, isAlive, killAll } from './cli.js';
import { launchBrowser } from './browser.js';
import { freePorts, tempDir, waitFor } from './helpers.js';

/** Where tests leave what a person would look at (screenshots). */
const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url));

describe('the dashboard, in a real browser', () => {
  let tmp: ReturnType<typeof tempDir>;
  let browser: Browser;
  const pids = new Set<number>();
  /** The managers' addresses as deploy reported them (a taken port moves a manager to the next free one). */
  let urls: string[];
  const cli = (...args: string[]) => dynwork(tmp.dir, [...args, '--cluster', 'board']);

  before(async () => {
    tmp = tempDir();
    const d = await cli('deploy', '--port', String((await freePorts(1))[0]), '--scale-up-after', '1', '--max-workers', '1', '--json');
    assert.equal(d.code, 0, d.stderr);
    urls = (JSON.parse(d.stdout) as { managers: { url: string }[] }).managers.map((m) => m.url);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    const s = JSON.parse((await cli('status', '--json')).stdout) as { managers: { pid: number | null }[]; workers: { pid: number | null }[] };
    for (const p of [...s.managers, ...s.workers]) if (p.pid) pids.add(p.pid);
    await cli('teardown');
    const left = [...pids].filter(isAlive);
    killAll(left);
    tmp.cleanup();
    assert.deepEqual(left, [], 'processes left running after teardown');
  });

  const dashboardUrl = async (): Promise<string> => (JSON.parse((await cli('dashboard', '--json')).stdout) as { url: string }).url;

  test('without the token: a prompt and no numbers; a wrong token is refused', async () => {
    const url = await dashboardUrl();
    const page = await browser.newPage({ ignoreHTTPSErrors: true });
    try {
      await page.goto(url.replace(/#.*/, ''));
      await page.locator('#login').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#board').isVisible(), false);
      assert.equal(await page.locator('#t-queued').textContent(), '');
      assert.equal(await page.locator('#managers tbody tr').count(), 0);
      await page.fill('#token', 'not-the-token-at-all-0123456789');
      await page.click('#login button');
      await page.locator('#login-error').filter({ hasText: 'not accepted' }).waitFor();
      assert.equal(await page.locator('#board').isVisible(), false);
    } finally {
      await page.close();
    }
  });

  test('with the token from the link: live numbers, charts and workers change as jobs run', async () => {
    const url = await dashboardUrl();
    const page = await browser.newPage({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 1100 } });
    try {
      await page.goto(url);
      await page.locator('#board').waitFor({ state: 'visible' });
      assert.doesNotMatch(page.url(), /token/, 'the token is taken out of the address bar');
      await page.locator('#managers tbody tr').nth(1).waitFor();
      const managers = await page.locator('#managers tbody tr').allTextContents();
      assert.ok(managers[0]!.startsWith(`1 (this)${urls[0]}healthyleader`), managers[0]);
      assert.ok(managers[1]!.startsWith(`2${urls[1]}healthyfollower`), managers[1]);
      assert.equal(await page.locator('#workers tbody tr').count(), 0);

      // Enough work for one worker to take a while, even with every SIMD lane full (480 M steps):
      // the backlog outlasts a 10 s chart sample, a worker starts, results come.
      const lines = Array.from({ length: 60 }, (_, i) => `board-${i}`).join('\n') + '\n';
      const e = await dynwork(tmp.dir, ['enqueue', '--cluster', 'board', '--iterations', '8000000', '--file', '-'], { input: lines });
      assert.equal(e.code, 0, e.stderr);
      const number = async (selector: string, attr?: string) => Number(((attr ? await page.locator(selector).getAttribute(attr) : await page.locator(selector).textContent()) ?? '').replace(/,/g, ''));
      await waitFor('the backlog in the tiles', async () => (await number('#t-queued')) > 0, 20_000, 200);
      await page.locator('#workers tbody tr').first().waitFor({ timeout: 30_000 });
      const worker = await page.locator('#workers tbody tr').first().locator('td').allTextContents();
      assert.match(worker[7]!, /^(working|idle)$/);
      assert.match((await page.locator('#events').textContent()) ?? '', /launched 1 worker\(s\): 60 jobs queued, oldest \(job \d+\) waited/);
      // Charts: samples with the backlog, then completions (one sample per 10 s).
      await waitFor('the backlog in the chart', async () => (await number('#chart-jobs', 'data-max-queued')) > 0, 40_000, 250);
      await waitFor('completions in the chart', async () => (await number('#chart-rate', 'data-max-rate')) > 0, 60_000, 250);

      // The job lookup tells a finished job's story.
      const id = (await dynwork(tmp.dir, ['jobs', '--cluster', 'board', '--state', 'completed', '--limit', '1', '--json'])).stdout;
      const jobId = (JSON.parse(id) as { id: number }[])[0]!.id;
      await page.fill('#job-id', String(jobId));
      await page.click('#job-form button');
      await page
        .locator('#job')
        .filter({ hasText: `job ${jobId}: completed` })
        .waitFor();
      assert.match((await page.locator('#job').textContent()) ?? '', /1 {2}worker \S+ {2}\S+ → \S+ {2}completed/);

      mkdirSync(OUTPUT, { recursive: true });
      await page.screenshot({ path: join(OUTPUT, 'dashboard.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });
});
