import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createAwsClients, type AwsClients } from '../src/providers/aws/clients.js';
import { createAwsProvider } from '../src/providers/aws/provider.js';
import type { Provider } from '../src/providers/types.js';
import { awsError, demoSettings, FakeAws } from './fake-aws.js';

const workerConfig = { managers: [{ index: 1, url: 'http://172.31.0.10:5000' }], workerToken: 'w', threads: 2 };

describe('what the cluster costs per hour (status)', () => {
  let fake: FakeAws;
  let clients: AwsClients;
  let provider: Provider;

  beforeEach(async () => {
    fake = new FakeAws();
    fake.profiles.set('dynwork-demo-us-east-1-worker', { InstanceProfileName: 'dynwork-demo-us-east-1-worker', Roles: [] });
    clients = createAwsClients({ region: 'us-east-1' });
    // Two spot c6i.xlarge workers and one on-demand t3.micro.
    await createAwsProvider({ clients, settings: demoSettings() }).launch('worker', { cluster: 'demo', count: 2, config: workerConfig });
    await createAwsProvider({ clients, settings: demoSettings({ instanceType: 't3.micro', spot: false }) }).launch('worker', { cluster: 'demo', count: 1, config: workerConfig });
    provider = createAwsProvider({ clients });
  });
  afterEach(() => {
    fake.restore();
    clients.destroy();
  });

  test('on-demand at the list price, spot at the current price in its zone; asked once, then remembered', async () => {
    const instances = await provider.list({ cluster: 'demo' });
    assert.deepEqual(
      instances.map((i) => [i.instanceType, i.spot, i.zone]),
      [
        ['c6i.xlarge', true, 'us-east-1a'],
        ['c6i.xlarge', true, 'us-east-1a'],
        ['t3.micro', false, 'us-east-1a'],
      ],
    );
    const cost = await provider.hourlyCost(instances);
    assert.equal(cost.usdPerHour?.toFixed(4), (2 * 0.0651 + 0.0104).toFixed(4));
    assert.equal(cost.basis, '2 × c6i.xlarge spot at $0.0651/h, 1 × t3.micro on-demand at $0.0104/h; machines only');

    assert.deepEqual(fake.calls('pricing:GetProducts'), [
      {
        ServiceCode: 'AmazonEC2',
        Filters: [
          { Type: 'TERM_MATCH', Field: 'regionCode', Value: 'us-east-1' },
          { Type: 'TERM_MATCH', Field: 'instanceType', Value: 't3.micro' },
          { Type: 'TERM_MATCH', Field: 'operatingSystem', Value: 'Linux' },
          { Type: 'TERM_MATCH', Field: 'tenancy', Value: 'Shared' },
          { Type: 'TERM_MATCH', Field: 'preInstalledSw', Value: 'NA' },
          { Type: 'TERM_MATCH', Field: 'capacitystatus', Value: 'Used' },
          { Type: 'TERM_MATCH', Field: 'licenseModel', Value: 'No License required' },
        ],
        MaxResults: 10,
      },
    ]);
    const [spot] = fake.calls('ec2:DescribeSpotPriceHistory');
    assert.deepEqual({ ...spot, StartTime: undefined }, { InstanceTypes: ['c6i.xlarge'], ProductDescriptions: ['Linux/UNIX'], AvailabilityZone: 'us-east-1a', StartTime: undefined, MaxResults: 10 });
    assert.ok(spot!.StartTime instanceof Date);

    fake.clearLog();
    assert.deepEqual(await provider.hourlyCost(instances), cost);
    assert.deepEqual(fake.log, [], 'a second look (status --watch) asks AWS nothing');
  });

  test('no permission, or a type without a price: the cost is unknown and says why; the next look asks again', async () => {
    const instances = await provider.list({ cluster: 'demo' });
    fake.fail(
      'pricing:GetProducts',
      awsError(
        'AccessDeniedException',
        'User: arn:aws:iam::123456789012:user/deployer is not authorized to perform: pricing:GetProducts because no identity-based policy allows the pricing:GetProducts action',
      ),
    );
    assert.deepEqual(await provider.hourlyCost(instances), { usdPerHour: null, basis: 'price unknown: your AWS identity is not allowed to call pricing:GetProducts' });
    assert.equal((await provider.hourlyCost(instances)).usdPerHour?.toFixed(4), '0.1406');

    delete fake.prices.onDemand['t3.micro'];
    const other = createAwsClients({ region: 'us-east-1' });
    try {
      const fresh = createAwsProvider({ clients: other });
      assert.deepEqual(await fresh.hourlyCost(instances), { usdPerHour: null, basis: 'price unknown: no on-demand Linux price for t3.micro in us-east-1' });
    } finally {
      other.destroy();
    }
  });

  test('nothing running costs nothing and asks nothing', async () => {
    fake.clearLog();
    assert.deepEqual(await provider.hourlyCost([]), { usdPerHour: 0, basis: 'no machines running' });
    assert.deepEqual(fake.log, []);
  });
});
