/*
 * Scheduling chains onto lanes, the single-stream loop, and choosing a path
 * for this CPU. See chains.h.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA512_Init/Update/Final: the fastest single-stream loop */
#include "chains.h"
#include <openssl/sha.h>
#include <string.h>
#include <time.h>

const uint64_t DW_IV[8] = {0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull, 0xa54ff53a5f1d36f1ull,
                           0x510e527fade682d1ull, 0x9b05688c2b3e6c1full, 0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull};

const uint64_t DW_K[80] = {
    0x428a2f98d728ae22ull, 0x7137449123ef65cdull, 0xb5c0fbcfec4d3b2full, 0xe9b5dba58189dbbcull, 0x3956c25bf348b538ull, 0x59f111f1b605d019ull,
    0x923f82a4af194f9bull, 0xab1c5ed5da6d8118ull, 0xd807aa98a3030242ull, 0x12835b0145706fbeull, 0x243185be4ee4b28cull, 0x550c7dc3d5ffb4e2ull,
    0x72be5d74f27b896full, 0x80deb1fe3b1696b1ull, 0x9bdc06a725c71235ull, 0xc19bf174cf692694ull, 0xe49b69c19ef14ad2ull, 0xefbe4786384f25e3ull,
    0x0fc19dc68b8cd5b5ull, 0x240ca1cc77ac9c65ull, 0x2de92c6f592b0275ull, 0x4a7484aa6ea6e483ull, 0x5cb0a9dcbd41fbd4ull, 0x76f988da831153b5ull,
    0x983e5152ee66dfabull, 0xa831c66d2db43210ull, 0xb00327c898fb213full, 0xbf597fc7beef0ee4ull, 0xc6e00bf33da88fc2ull, 0xd5a79147930aa725ull,
    0x06ca6351e003826full, 0x142929670a0e6e70ull, 0x27b70a8546d22ffcull, 0x2e1b21385c26c926ull, 0x4d2c6dfc5ac42aedull, 0x53380d139d95b3dfull,
    0x650a73548baf63deull, 0x766a0abb3c77b2a8ull, 0x81c2c92e47edaee6ull, 0x92722c851482353bull, 0xa2bfe8a14cf10364ull, 0xa81a664bbc423001ull,
    0xc24b8b70d0f89791ull, 0xc76c51a30654be30ull, 0xd192e819d6ef5218ull, 0xd69906245565a910ull, 0xf40e35855771202aull, 0x106aa07032bbd1b8ull,
    0x19a4c116b8d2d0c8ull, 0x1e376c085141ab53ull, 0x2748774cdf8eeb99ull, 0x34b0bcb5e19b48a8ull, 0x391c0cb3c5c95a63ull, 0x4ed8aa4ae3418acbull,
    0x5b9cca4f7763e373ull, 0x682e6ff3d6b2b8a3ull, 0x748f82ee5defb2fcull, 0x78a5636f43172f60ull, 0x84c87814a1f0ab72ull, 0x8cc702081a6439ecull,
    0x90befffa23631e28ull, 0xa4506cebde82bde9ull, 0xbef9a3f7b2c67915ull, 0xc67178f2e372532bull, 0xca273eceea26619cull, 0xd186b8c721c0c207ull,
    0xeada7dd6cde0eb1eull, 0xf57d4f7fee6ed178ull, 0x06f067aa72176fbaull, 0x0a637dc5a2c898a6ull, 0x113f9804bef90daeull, 0x1b710b35131c471bull,
    0x28db77f523047d84ull, 0x32caab7b40c72493ull, 0x3c9ebe0a15c9bebcull, 0x431d67c49c100d4cull, 0x4cc5d4becb3e42b6ull, 0x597f299cfc657e2aull,
    0x5fcb6fab3ad6faecull, 0x6c44198c4a475817ull};

uint64_t DW_PAD_KW[80];

static uint64_t ror(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

void dw_init(void) {
  uint64_t w[80] = {0};
  w[0] = 0x8000000000000000ull; /* the 0x80 byte after the 128-byte message */
  w[15] = 128 * 8;              /* its length in bits */
  for (int t = 16; t < 80; t++) {
    uint64_t s0 = ror(w[t - 15], 1) ^ ror(w[t - 15], 8) ^ (w[t - 15] >> 7);
    uint64_t s1 = ror(w[t - 2], 19) ^ ror(w[t - 2], 61) ^ (w[t - 2] >> 6);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  for (int t = 0; t < 80; t++) DW_PAD_KW[t] = DW_K[t] + w[t];
}

static const char HEX[] = "0123456789abcdef";

void dw_scalar_steps(uint8_t digest[64], uint64_t steps) {
  char h[128];
  SHA512_CTX ctx;
  while (steps--) {
    for (int j = 0; j < 64; j++) {
      h[2 * j] = HEX[digest[j] >> 4];
      h[2 * j + 1] = HEX[digest[j] & 15];
    }
    SHA512_Init(&ctx);
    SHA512_Update(&ctx, h, 128);
    SHA512_Final(digest, &ctx);
  }
}

static const char *const NAMES[DW_PATHS] = {"scalar", "avx2", "avx512vl", "avx512"};

const char *dw_path_name(dw_path p) { return p < DW_PATHS ? NAMES[p] : "?"; }

int dw_path_supported(dw_path p) {
  switch (p) {
    case DW_SCALAR:
      return 1;
#if defined(__x86_64__)
    /* libgcc checks XCR0 too, so these are false where the OS does not save the registers. */
    case DW_AVX2:
      return __builtin_cpu_supports("avx2");
    case DW_AVX512VL:
    case DW_AVX512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
#endif
    default:
      return 0;
  }
}

dw_path dw_path_preferred(void) {
#if defined(__x86_64__)
  if (dw_path_supported(DW_AVX512)) {
    /* Skylake-SP and Cascade Lake lower the core's clock under 512-bit code: 256-bit is safer there. */
    if (__builtin_cpu_is("skylake-avx512") || __builtin_cpu_is("cascadelake")) return DW_AVX512VL;
    return DW_AVX512;
  }
  if (dw_path_supported(DW_AVX2)) return DW_AVX2;
#endif
  return DW_SCALAR;
}

/*
 * A path is a ladder of kernels, widest first, each with its speed with
 * every lane full (steps per second, in millions, measured on an AMD EPYC
 * with AVX-512; only their ratios matter). Wider kernels interleave more
 * independent registers and run faster, but a lane without a chain is a
 * share of that speed lost: with `total` chains in hand a thread runs the
 * kernel that does the most steps, rate × min(total, lanes) / lanes. So a
 * chain alone runs in the single-stream loop (it is faster than one lane of
 * any kernel), and a few run in a narrow kernel.
 */
typedef struct {
  int lanes;
  dw_kernel kernel; /* NULL: the single-stream loop */
  double rate;
} rung;

static int ladder(dw_path p, rung out[6]) {
  int n = 0;
#if defined(__x86_64__)
  if (p == DW_AVX512) {
    out[n++] = (rung){24, dw_kernel_avx512x24, 25.8};
    out[n++] = (rung){16, dw_kernel_avx512x16, 21.4};
    out[n++] = (rung){8, dw_kernel_avx512x8, 13.6};
  }
  if (p == DW_AVX512VL) {
    out[n++] = (rung){12, dw_kernel_avx512vlx12, 13.0};
    out[n++] = (rung){8, dw_kernel_avx512vlx8, 10.7};
  }
  if (p == DW_AVX512 || p == DW_AVX512VL) out[n++] = (rung){4, dw_kernel_avx512vlx4, 6.8};
  if (p == DW_AVX2) {
    out[n++] = (rung){12, dw_kernel_avx2x12, 6.5};
    out[n++] = (rung){8, dw_kernel_avx2x8, 6.2};
    out[n++] = (rung){4, dw_kernel_avx2x4, 4.6};
  }
#endif
  out[n++] = (rung){1, NULL, 3.1};
  return n;
}

/* The rung that does the most steps with `total` chains in hand (the narrower one on a tie). */
static const rung *best_rung(const rung *rungs, int n, size_t total) {
  const rung *best = &rungs[n - 1];
  double most = 0;
  for (int i = n - 1; i >= 0; i--) {
    double steps = rungs[i].rate * (double)(total < (size_t)rungs[i].lanes ? total : (size_t)rungs[i].lanes) / rungs[i].lanes;
    if (steps > most) most = steps, best = &rungs[i];
  }
  return best;
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t load_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

static void store_be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

/* Steps a kernel call runs at most between looks at the clock: about a millisecond. */
#define STEP_CAP 1024

uint64_t dw_run(dw_path p, uint8_t *digests, uint64_t *remaining, size_t n, uint64_t budget_ns) {
  rung rungs[6];
  int nrungs = ladder(p, rungs);
  const uint64_t start = now_ns();
  uint64_t done = 0;
  size_t lane[DW_MAX_LANES];
  int active = 0;
  size_t cursor = 0, waiting = 0;
  for (size_t i = 0; i < n; i++) waiting += remaining[i] > 0;
  uint64_t H[8 * DW_MAX_LANES] __attribute__((aligned(64)));
  for (;;) {
    size_t total = (size_t)active + waiting;
    if (total == 0) break;
    const rung *g = best_rung(rungs, nrungs, total);
    while (active < g->lanes && waiting > 0) {
      while (remaining[cursor] == 0) cursor++;
      lane[active++] = cursor++;
      waiting--;
    }
    /* Chains in hand from a wider kernel wait their turn in a narrower one. */
    const int run = active < g->lanes ? active : g->lanes;
    uint64_t k = STEP_CAP;
    for (int a = 0; a < run; a++)
      if (remaining[lane[a]] < k) k = remaining[lane[a]];
    if (!g->kernel) {
      dw_scalar_steps(digests + 64 * lane[0], k);
    } else {
      const int L = g->lanes;
      memset(H, 0, sizeof H);
      for (int a = 0; a < run; a++)
        for (int w = 0; w < 8; w++) H[w * L + a] = load_be64(digests + 64 * lane[a] + 8 * w);
      g->kernel(H, k);
      for (int a = 0; a < run; a++)
        for (int w = 0; w < 8; w++) store_be64(digests + 64 * lane[a] + 8 * w, H[w * L + a]);
    }
    done += k * (uint64_t)run;
    int kept = 0;
    for (int a = 0; a < active; a++) {
      if (a < run) remaining[lane[a]] -= k;
      if (remaining[lane[a]] > 0) lane[kept++] = lane[a];
    }
    active = kept;
    if (now_ns() - start >= budget_ns) break;
  }
  return done;
}
