/**
 * The native yardstick: the job's exact loop in C (OpenSSL SHA-512 + hex
 * encoding), built here with the system compiler against libcrypto, timed in
 * its own process. Returns null, with the reason, when it cannot be built.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCE = String.raw`
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static const char HEX[] = "0123456789abcdef";
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  unsigned char d[64]; char h[129];
  const char *data = "Hello";
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  /* The digest is fetched once and the context reused: the fastest honest OpenSSL 3 loop. */
  EVP_MD *md = EVP_MD_fetch(NULL, "SHA512", NULL);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned int len;
  EVP_DigestInit_ex2(ctx, md, NULL); EVP_DigestUpdate(ctx, data, strlen(data)); EVP_DigestFinal_ex(ctx, d, &len);
  for (long i = 1; i <= n; i++) {
    for (int j = 0; j < 64; j++) { h[2*j] = HEX[d[j] >> 4]; h[2*j+1] = HEX[d[j] & 15]; }
    if (i == n) break;
    EVP_DigestInit_ex2(ctx, md, NULL); EVP_DigestUpdate(ctx, h, 128); EVP_DigestFinal_ex(ctx, d, &len);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  h[128] = 0;
  double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  printf("%s %.0f\n", h, n / s);
  return 0;
}
`;

export function nativeHashRate(iterations = 2_000_000, rounds = 3): { perSec: number | null; note: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dynwork-native-'));
  try {
    writeFileSync(join(dir, 'loop.c'), SOURCE);
    try {
      execFileSync('cc', ['-O2', '-o', join(dir, 'loop'), join(dir, 'loop.c'), '-lcrypto'], { stdio: 'pipe' });
    } catch (err) {
      return { perSec: null, note: `not built (needs cc and libssl-dev): ${(err as Error).message.split('\n')[0]}` };
    }
    const rates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const out = execFileSync(join(dir, 'loop'), [String(iterations)], { encoding: 'utf8' })
        .trim()
        .split(' ');
      rates.push(Number(out[1]));
    }
    rates.sort((x, y) => x - y);
    return { perSec: rates[Math.floor(rates.length / 2)]!, note: 'C, OpenSSL 3 EVP SHA-512 (digest fetched once, context reused) + hex, -O2' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
