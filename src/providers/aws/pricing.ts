/**
 * What the cluster's machines cost per hour right now: the on-demand list
 * price from the AWS Price List API, the current Spot price from EC2. Only
 * the instances are priced; `docs/aws.md` lists what comes on top.
 */
import type { HourlyCost, Instance } from '../types.js';
import type { AwsClients } from './clients.js';
import { AwsCallError, toDynworkError } from './errors.js';
import { knownInstanceType } from './sdk.js';

/** Prices do not move in minutes: `status --watch` asks once in a while, not every round. */
const KEEP_MS = 10 * 60_000;
const caches = new WeakMap<AwsClients, Map<string, { at: number; usd: Promise<number> }>>();

export async function hourlyCost(clients: AwsClients, instances: Instance[], now = Date.now()): Promise<HourlyCost> {
  const live = instances.filter((i) => i.state === 'pending' || i.state === 'running');
  if (live.length === 0) return { usdPerHour: 0, basis: 'no machines running' };
  const groups = new Map<string, { type: string; spot: boolean; zone: string | undefined; count: number }>();
  for (const i of live) {
    const type = i.instanceType ?? 'unknown';
    const key = i.spot ? `spot ${type} ${i.zone ?? ''}` : `on-demand ${type}`;
    const g = groups.get(key) ?? { type, spot: i.spot === true, zone: i.zone, count: 0 };
    g.count++;
    groups.set(key, g);
  }
  const cache = caches.get(clients) ?? new Map<string, { at: number; usd: Promise<number> }>();
  caches.set(clients, cache);
  try {
    const region = await clients.region();
    const price = (key: string, fetch: () => Promise<number>): Promise<number> => {
      const hit = cache.get(key);
      if (hit && now - hit.at < KEEP_MS) return hit.usd;
      const usd = fetch();
      cache.set(key, { at: now, usd });
      usd.catch(() => cache.delete(key));
      return usd;
    };
    const priced = await Promise.all(
      [...groups.entries()].map(async ([key, g]) => ({
        ...g,
        usd: await price(`${region} ${key}`, () => (g.spot ? spotPrice(clients, g.type, g.zone) : onDemandPrice(clients, region, g.type))),
      })),
    );
    const total = priced.reduce((s, p) => s + p.count * p.usd, 0);
    const parts = priced.map((p) => `${p.count} × ${p.type} ${p.spot ? 'spot' : 'on-demand'} at $${p.usd.toFixed(4)}/h`);
    return { usdPerHour: total, basis: `${parts.join(', ')}; machines only` };
  } catch (err) {
    const why = err instanceof AwsCallError ? toDynworkError(err).message : (err as Error).message;
    return { usdPerHour: null, basis: `price unknown: ${why}` };
  }
}

async function onDemandPrice(clients: AwsClients, region: string, type: string): Promise<number> {
  const term = (Field: string, Value: string) => ({ Type: 'TERM_MATCH' as const, Field, Value });
  const pricing = await clients.pricing();
  const out = await pricing.getProducts({
    ServiceCode: 'AmazonEC2',
    Filters: [
      term('regionCode', region),
      term('instanceType', type),
      term('operatingSystem', 'Linux'),
      term('tenancy', 'Shared'),
      term('preInstalledSw', 'NA'),
      term('capacitystatus', 'Used'),
      term('licenseModel', 'No License required'),
    ],
    MaxResults: 10,
  });
  for (const raw of out.PriceList ?? []) {
    // Each item is a JSON document (a string, or a String-like lazy value).
    const item = (typeof raw === 'object' && !(raw instanceof String) ? raw : JSON.parse(String(raw))) as PriceListItem;
    for (const offer of Object.values(item.terms?.OnDemand ?? {})) {
      for (const d of Object.values(offer.priceDimensions ?? {})) {
        const usd = Number(d.pricePerUnit?.USD);
        if (d.unit === 'Hrs' && Number.isFinite(usd) && usd > 0) return usd;
      }
    }
  }
  throw new Error(`no on-demand Linux price for ${type} in ${region}`);
}

async function spotPrice(clients: AwsClients, type: string, zone: string | undefined): Promise<number> {
  const known = knownInstanceType(type);
  if (!known) throw new Error(`no spot price for ${type}: not an EC2 instance type`);
  const out = await clients.ec2.describeSpotPriceHistory({
    InstanceTypes: [known],
    ProductDescriptions: ['Linux/UNIX'],
    ...(zone ? { AvailabilityZone: zone } : {}),
    // From now: the price in force at this moment, per zone.
    StartTime: new Date(),
    MaxResults: 10,
  });
  const latest = [...(out.SpotPriceHistory ?? [])].sort((a, b) => (b.Timestamp?.getTime() ?? 0) - (a.Timestamp?.getTime() ?? 0))[0];
  const usd = Number(latest?.SpotPrice);
  if (!Number.isFinite(usd) || usd <= 0) throw new Error(`no spot price for ${type}${zone ? ` in ${zone}` : ''}`);
  return usd;
}

interface PriceListItem {
  terms?: { OnDemand?: Record<string, { priceDimensions?: Record<string, { unit?: string; pricePerUnit?: { USD?: string } }> }> };
}
