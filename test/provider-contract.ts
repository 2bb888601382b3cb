/**
 * What every provider promises the CLI and the leader manager (src/providers/types.ts),
 * as one suite each provider's test file runs against its own subject.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Instance, Provider, Role } from '../src/providers/types.js';

export interface ContractSubject {
  provider: Provider;
  /** An id in this provider's form that names no machine. */
  unknownId: string;
  /** A launch config of this role the provider accepts for this cluster (and manager index). */
  config(role: Role, cluster: string, index?: number): Record<string, unknown>;
  /** The machine is still there, asked outside the provider (its PID, the account): list alone would not see one forgotten but still running. */
  exists(instance: Instance): boolean;
  /** The machine stops behind the provider's back (a crash, a power-off), and that has been noticed. */
  stopOutside(instance: Instance): Promise<void>;
  /** Stops by its own means whatever a case left running, and frees what the subject holds. */
  close(): Promise<void>;
}

export const CLUSTER = 'contract-a';
export const OTHER_CLUSTER = 'contract-b';

const LIVE = new Set<Instance['state']>(['pending', 'running']);
const ids = (is: Instance[]) => is.map((i) => i.id).sort();

export function providerContract(name: string, makeSubject: () => Promise<ContractSubject> | ContractSubject): void {
  describe(`provider contract: ${name}`, () => {
    let s: ContractSubject;
    beforeEach(async () => {
      s = await makeSubject();
    });
    afterEach(async () => {
      await s.close();
    });

    const launchManager = async (cluster = CLUSTER, index = 1) => {
      const started = await s.provider.launch('manager', { cluster, index, config: s.config('manager', cluster, index) });
      assert.equal(started.length, 1, 'one manager per launch');
      return started[0]!;
    };
    const launchWorkers = (count: number, cluster = CLUSTER) => s.provider.launch('worker', { cluster, count, config: s.config('worker', cluster) });
    /** These machines still there, live or on their way out: as listed, and as they are. */
    const notGone = async (cluster: string, of: Instance[]) => {
      const wanted = new Set(of.map((i) => i.id));
      const listed = (await s.provider.list({ cluster, includeStopped: true })).filter((i) => wanted.has(i.id) && i.state !== 'stopped').map((i) => `${i.id} listed ${i.state}`);
      return [...listed, ...of.filter((i) => s.exists(i)).map((i) => `${i.id} exists`)];
    };

    test('launch starts a manager by index and n workers; list shows them with role, index, cluster and a live state', async () => {
      const manager = await launchManager();
      const workers = await launchWorkers(2);
      assert.equal(workers.length, 2, 'count workers');
      for (const i of [manager, ...workers]) assert.equal(i.cluster, CLUSTER);

      const listed = await s.provider.list({ cluster: CLUSTER });
      assert.deepEqual(ids(listed), ids([manager, ...workers]));
      for (const i of listed) {
        assert.equal(i.cluster, CLUSTER);
        assert.ok(LIVE.has(i.state), `${i.id} is ${i.state}`);
        assert.ok(!Number.isNaN(Date.parse(i.launchedAt)), `${i.id} launchedAt ${i.launchedAt}`);
      }
      const listedManager = listed.find((i) => i.id === manager.id)!;
      assert.equal(listedManager.role, 'manager');
      assert.equal(listedManager.index, 1);
      for (const w of listed.filter((i) => i.id !== manager.id)) {
        assert.equal(w.role, 'worker');
        assert.equal(w.index, undefined, 'workers have no index');
      }
    });

    test('list filters by role', async () => {
      const manager = await launchManager();
      const workers = await launchWorkers(2);
      assert.deepEqual(ids(await s.provider.list({ cluster: CLUSTER, role: 'manager' })), [manager.id]);
      assert.deepEqual(ids(await s.provider.list({ cluster: CLUSTER, role: 'worker' })), ids(workers));
    });

    test("a second cluster's machines never show in the first's list", async () => {
      const a = [await launchManager(CLUSTER), ...(await launchWorkers(1, CLUSTER))];
      const b = [await launchManager(OTHER_CLUSTER), ...(await launchWorkers(2, OTHER_CLUSTER))];
      assert.deepEqual(ids(await s.provider.list({ cluster: CLUSTER })), ids(a));
      assert.deepEqual(ids(await s.provider.list({ cluster: CLUSTER, role: 'manager', includeStopped: true })), ids(a.filter((i) => i.role === 'manager')));
      assert.deepEqual(ids(await s.provider.list({ cluster: OTHER_CLUSTER })), ids(b));
      assert.deepEqual(await s.provider.list({ cluster: 'contract-none', includeStopped: true }), []);
    });

    test('includeStopped also lists a machine that stopped on its own, as stopped; without it only live ones show', async () => {
      const [gone, live] = await launchWorkers(2);
      await s.stopOutside(gone!);
      const all = await s.provider.list({ cluster: CLUSTER, includeStopped: true });
      assert.deepEqual(ids(all), ids([gone!, live!]));
      assert.equal(all.find((i) => i.id === gone!.id)!.state, 'stopped');
      assert.ok(LIVE.has(all.find((i) => i.id === live!.id)!.state));
      assert.deepEqual(ids(await s.provider.list({ cluster: CLUSTER })), [live!.id]);
    });

    test('terminate resolves once they are gone, and leaves the others alone', async () => {
      const manager = await launchManager();
      const [w1, w2] = await launchWorkers(2);
      await s.provider.terminate([manager.id, w1!.id]);
      assert.deepEqual(await notGone(CLUSTER, [manager, w1!]), [], 'gone when terminate resolves');
      const left = await s.provider.list({ cluster: CLUSTER });
      assert.deepEqual(ids(left), [w2!.id]);
      assert.ok(LIVE.has(left[0]!.state));
      assert.ok(s.exists(w2!));
    });

    test('terminate skips ids unknown or already gone, and still stops the rest', async () => {
      const [w1, w2] = await launchWorkers(2);
      await s.provider.terminate([w1!.id]);
      await s.provider.terminate([s.unknownId, w1!.id, w2!.id]);
      assert.deepEqual(await notGone(CLUSTER, [w1!, w2!]), []);
      await s.provider.terminate([w1!.id, w2!.id]);
      await s.provider.terminate([s.unknownId]);
    });

    test('terminate also takes a machine that stopped on its own', async () => {
      const [w] = await launchWorkers(1);
      await s.stopOutside(w!);
      await s.provider.terminate([w!.id]);
      assert.deepEqual(await s.provider.list({ cluster: CLUSTER, includeStopped: true }), []);
      assert.ok(!s.exists(w!));
    });

    test('terminate of no ids stops nothing', async () => {
      const workers = await launchWorkers(2);
      await s.provider.terminate([]);
      const listed = await s.provider.list({ cluster: CLUSTER });
      assert.deepEqual(ids(listed), ids(workers));
      assert.ok(listed.every((i) => LIVE.has(i.state)));
      assert.ok(workers.every((i) => s.exists(i)));
    });
  });
}
