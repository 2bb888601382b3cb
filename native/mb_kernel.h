/*
 * The body of a multi-buffer kernel, included once per instruction set by
 * mb_avx2.c and mb_avx512.c, each compiled for its own target only: a kernel
 * built with -march=native would carry AVX-512 instructions into the AVX2
 * object and crash on an AVX2-only CPU (test/hash-paths.test.ts disassembles
 * the addon to check). The includer defines V, LANES, KERNEL and the ops.
 */
#include "chains.h"

#define BSIG0(x) XOR3(ROR(x, 28), ROR(x, 34), ROR(x, 39))
#define BSIG1(x) XOR3(ROR(x, 14), ROR(x, 18), ROR(x, 41))
#define SSIG0(x) XOR3(ROR(x, 1), ROR(x, 8), SHR(x, 7))
#define SSIG1(x) XOR3(ROR(x, 19), ROR(x, 61), SHR(x, 6))

/*
 * Without a ternary-logic instruction, Maj(a,b,c) = b ^ ((a ^ b) & (b ^ c)),
 * and this round's a ^ b is the next round's b ^ c: the rounds alternate which
 * of x and y they read and write (MAJ_XY), saving an operation a round.
 */
#ifdef MAJ
#define MAJ_XY(a, b, c, x, y) MAJ(a, b, c)
#else
#define MAJ_XY(a, b, c, x, y) (y = XOR(a, b), XOR(b, AND(y, x)))
#endif

#define ROUND(a, b, c, d, e, f, g, h, kw, x, y)            \
  do {                                                     \
    V t1_ = ADD(ADD(ADD(h, BSIG1(e)), CH(e, f, g)), kw);   \
    d = ADD(d, t1_);                                       \
    h = ADD(t1_, ADD(BSIG0(a), MAJ_XY(a, b, c, x, y)));    \
  } while (0)

#define EIGHT_ROUNDS(KW, t)                                \
  do {                                                     \
    ROUND(a, b, c, d, e, f, g, h, KW(t), x, y);            \
    ROUND(h, a, b, c, d, e, f, g, KW(t + 1), y, x);        \
    ROUND(g, h, a, b, c, d, e, f, KW(t + 2), x, y);        \
    ROUND(f, g, h, a, b, c, d, e, KW(t + 3), y, x);        \
    ROUND(e, f, g, h, a, b, c, d, KW(t + 4), x, y);        \
    ROUND(d, e, f, g, h, a, b, c, KW(t + 5), y, x);        \
    ROUND(c, d, e, f, g, h, a, b, KW(t + 6), x, y);        \
    ROUND(b, c, d, e, f, g, h, a, KW(t + 7), y, x);        \
  } while (0)

/*
 * Eight lowercase hex characters of the 32-bit values in x, as the
 * big-endian message word SHA-512 reads them: each nibble spread to its own
 * byte, then '0' added, and 'a' - '0' - 10 = 39 more where the nibble is > 9
 * ((t << 8) - t turns each 1 byte of t into 0xff; no carry crosses a byte).
 */
static inline V hex_word(V x) {
  V y = AND(OR(x, SHL(x, 16)), SET1(0x0000FFFF0000FFFFull));
  y = AND(OR(y, SHL(y, 8)), SET1(0x00FF00FF00FF00FFull));
  y = AND(OR(y, SHL(y, 4)), SET1(0x0F0F0F0F0F0F0F0Full));
  V t = AND(SHR(ADD(y, SET1(0x0606060606060606ull)), 4), SET1(0x0101010101010101ull));
  return ADD(ADD(y, SET1(0x3030303030303030ull)), AND(SUB(SHL(t, 8), t), SET1(0x2727272727272727ull)));
}

#define KW1(t) ADD(SET1(DW_K[t]), w[(t) & 15])
#define KW2(t) SET1(DW_PAD_KW[t])
#define SCHEDULE(t) (w[(t) & 15] = ADD(ADD(w[(t) & 15], SSIG0(w[((t) + 1) & 15])), ADD(w[((t) + 9) & 15], SSIG1(w[((t) + 14) & 15]))))

void KERNEL(uint64_t *H, uint64_t steps) {
  V s[8];
  for (int i = 0; i < 8; i++) s[i] = LOADU(H + i * LANES);
  const V low = SET1(0xFFFFFFFFull);
  while (steps--) {
    V w[16];
    for (int i = 0; i < 8; i++) {
      w[2 * i] = hex_word(SHR(s[i], 32));
      w[2 * i + 1] = hex_word(AND(s[i], low));
    }
    V a = SET1(DW_IV[0]), b = SET1(DW_IV[1]), c = SET1(DW_IV[2]), d = SET1(DW_IV[3]);
    V e = SET1(DW_IV[4]), f = SET1(DW_IV[5]), g = SET1(DW_IV[6]), h = SET1(DW_IV[7]);
    V x = XOR(b, c), y = x;
    (void)y; /* unused where MAJ is one instruction */
    for (int t = 0; t < 80; t += 8) {
      if (t >= 16)
        for (int j = 0; j < 8; j++) SCHEDULE(t + j);
      EIGHT_ROUNDS(KW1, t);
    }
    V m[8] = {ADD(a, SET1(DW_IV[0])), ADD(b, SET1(DW_IV[1])), ADD(c, SET1(DW_IV[2])), ADD(d, SET1(DW_IV[3])),
              ADD(e, SET1(DW_IV[4])), ADD(f, SET1(DW_IV[5])), ADD(g, SET1(DW_IV[6])), ADD(h, SET1(DW_IV[7]))};
    a = m[0], b = m[1], c = m[2], d = m[3], e = m[4], f = m[5], g = m[6], h = m[7];
    x = XOR(b, c);
    for (int t = 0; t < 80; t += 8) {
      EIGHT_ROUNDS(KW2, t);
    }
    s[0] = ADD(a, m[0]), s[1] = ADD(b, m[1]), s[2] = ADD(c, m[2]), s[3] = ADD(d, m[3]);
    s[4] = ADD(e, m[4]), s[5] = ADD(f, m[5]), s[6] = ADD(g, m[6]), s[7] = ADD(h, m[7]);
  }
  for (int i = 0; i < 8; i++) STOREU(H + i * LANES, s[i]);
}
