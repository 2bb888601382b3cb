import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { autoscalePolicy, autoscaleSettingsFor, scalingTimes, type AutoscaleSettings } from '../src/settings/autoscale.js';
import { secondsOption } from '../src/commands/options.js';
import { DEPLOY_RANGES } from '../src/settings/bounds.js';
import { workerConfigSchema } from '../src/settings/worker.js';

/** A value the CLI takes is one the cluster runs with (#11 item 6): the leader's policy and the workers' config accept it. */
describe('deploy flags and the runtime agree', () => {
  const scaleUp = secondsOption('--scale-up-after', DEPLOY_RANGES.scaleUpAfterS);
  const idle = secondsOption('--idle-timeout', DEPLOY_RANGES.idleTimeoutS);
  const base: AutoscaleSettings = autoscaleSettingsFor({ provider: 'local', root: '/tmp/dynwork', members: [], maxWorkers: 2, scaleUpAfterS: 20, idleTimeoutS: 300 });

  test('every accepted value, at the edges and between, passes the leader policy and the worker config', () => {
    const raws = ['0.001', '0.002', '0.999', '1', '2.005', '19.5', '86400'];
    for (const a of raws) {
      for (const b of [...raws, '604800']) {
        const times = scalingTimes(scaleUp(a), idle(b));
        assert.doesNotThrow(() => autoscalePolicy({ ...base, ...times }), `--scale-up-after ${a} --idle-timeout ${b}`);
        assert.ok(workerConfigSchema.safeParse({ managers: [{ index: 1, url: 'http://127.0.0.1:1' }], workerToken: 'x'.repeat(32), idleTimeoutMs: times.workerIdleTimeoutMs }).success, b);
      }
    }
  });

  test('values the runtime would refuse are refused by the CLI first, naming the flag', () => {
    for (const raw of ['0.0001', '2.0005', '0', '-1', '1e3', '12345678901234567890', '86400.001', 'abc', '']) {
      assert.throws(() => scaleUp(raw), /--scale-up-after must be a number of seconds from 0\.001 to 86400/, raw);
    }
    assert.throws(() => idle('604800.5'), /--idle-timeout must be a number of seconds from 0\.001 to 604800/);
  });
});
