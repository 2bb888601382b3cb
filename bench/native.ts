/**
 * The C yardsticks: the job's exact loop in C, built here with the system
 * compiler against libcrypto and timed (CPU time) in its own process, in two
 * forms: the low-level SHA512_Init/Update/Final loop, the fastest
 * single-stream reference, and EVP with a reused context (what the addon's
 * single chain did before the multi-buffer kernels; about a tenth slower).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCE = String.raw`
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static const char HEX[] = "0123456789abcdef";
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  int evp = strcmp(argv[1], "evp") == 0;
  long n = atol(argv[2]);
  unsigned char d[64]; char h[129];
  const char *data = "Hello";
  EVP_MD *md = EVP_MD_fetch(NULL, "SHA512", NULL);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  SHA512_CTX c;
  unsigned int len;
  double a = cpu();
  SHA512((const unsigned char *)data, strlen(data), d);
  for (long i = 1; i <= n; i++) {
    for (int j = 0; j < 64; j++) { h[2*j] = HEX[d[j] >> 4]; h[2*j+1] = HEX[d[j] & 15]; }
    if (i == n) break;
    if (evp) { EVP_DigestInit_ex2(ctx, md, NULL); EVP_DigestUpdate(ctx, h, 128); EVP_DigestFinal_ex(ctx, d, &len); }
    else { SHA512_Init(&c); SHA512_Update(&c, h, 128); SHA512_Final(d, &c); }
  }
  double s = cpu() - a;
  h[128] = 0;
  printf("%s %.0f\n", h, n / s);
  return 0;
}
`;

export type Reference = 'lowlevel' | 'evp';
export const REFERENCE_NAMES: Record<Reference, string> = {
  lowlevel: 'C: OpenSSL SHA512_Init/Update/Final + hex (reference)',
  evp: 'C: OpenSSL EVP, reused context + hex',
};

/** Builds the C loop; `run(kind, steps)` then gives steps per CPU second. Null, with the reason, when it cannot be built. */
export function buildReference(): { run(kind: Reference, steps: number): number; close(): void } | { error: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dynwork-native-'));
  writeFileSync(join(dir, 'loop.c'), SOURCE);
  try {
    execFileSync('cc', ['-O2', '-o', join(dir, 'loop'), join(dir, 'loop.c'), '-lcrypto'], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return { error: `not built (needs cc and libssl-dev): ${(err as Error).message.split('\n')[0]}` };
  }
  return {
    run: (kind, steps) =>
      Number(
        execFileSync(join(dir, 'loop'), [kind, String(steps)], { encoding: 'utf8' })
          .trim()
          .split(' ')[1],
      ),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
