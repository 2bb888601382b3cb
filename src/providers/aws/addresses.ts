/**
 * Managers keep one private address for life, so peers and workers never
 * need to learn a new one when a manager is replaced. These pick it.
 */
function toInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

function toIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * `count` free addresses of `cidr`, highest first (EC2 hands out addresses
 * from anywhere; the top of the range is least likely to be taken next).
 * AWS reserves the first four and the last address of every subnet.
 */
export function pickAddresses(cidr: string, used: Iterable<string>, count: number): string[] {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!base || !Number.isInteger(bits) || bits < 16 || bits > 28) throw new Error(`unsupported subnet CIDR ${cidr}`);
  const size = 2 ** (32 - bits);
  const first = (toInt(base) & ~(size - 1)) >>> 0;
  const taken = new Set(used);
  const out: string[] = [];
  for (let n = first + size - 2; n >= first + 4 && out.length < count; n--) {
    const ip = toIp(n);
    if (!taken.has(ip)) out.push(ip);
  }
  if (out.length < count) throw new Error(`subnet ${cidr} has fewer than ${count} free addresses`);
  return out;
}
