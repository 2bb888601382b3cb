/*
 * The body of a multi-buffer kernel, included by mb_avx2.c and mb_avx512.c
 * once per kernel, each file compiled for its own instruction set only: a
 * kernel built with -march=native would carry AVX-512 instructions into the
 * AVX2 object and crash on an AVX2-only CPU (test/hash-paths.test.ts
 * disassembles the addon to check).
 *
 * The includer defines the register type R holding R_LANES chains, its
 * operations R_ADD … R_STOREU and R_HEX (and R_TERN where the ISA has
 * ternary logic, KW_FIRST where that order of T1 runs faster), K and KERNEL. A value V is K registers: K independent groups of chains
 * interleaved, because one group's rounds form a dependency chain that
 * leaves the vector units idle (8 lanes in one zmm register run at 13.6 M
 * steps/s here, 24 lanes in three at 25.8 M). Everything K-specific is
 * #undef'd at the end, so the file can be included again.
 */
#include "chains.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define V_ CAT(KERNEL, _v)
typedef struct {
  R r[K];
} V_;
#define V V_
#define LANES (R_LANES * K)

#if K == 1
#define EACH(f) f(0)
#elif K == 2
#define EACH(f) f(0) f(1)
#elif K == 3
#define EACH(f) f(0) f(1) f(2)
#endif

#define P_ADD(i) o_.r[i] = R_ADD(x_.r[i], y_.r[i]);
#define P_AND(i) o_.r[i] = R_AND(x_.r[i], y_.r[i]);
#define P_XOR(i) o_.r[i] = R_XOR(x_.r[i], y_.r[i]);
#define P_SHR(i) o_.r[i] = R_SHR(x_.r[i], n_);
#define P_ROR(i) o_.r[i] = R_ROR(x_.r[i], n_);
#define P_LOAD(i) o_.r[i] = R_LOADU(p_ + (i) * R_LANES);
#define P_STORE(i) R_STOREU(p_ + (i) * R_LANES, v_.r[i]);

#define ADD(x, y) ({ V x_ = (x), y_ = (y), o_; EACH(P_ADD) o_; })
#define AND(x, y) ({ V x_ = (x), y_ = (y), o_; EACH(P_AND) o_; })
#define XOR(x, y) ({ V x_ = (x), y_ = (y), o_; EACH(P_XOR) o_; })
/* n_ must stay a constant for the immediate forms: an enum, not a variable. */
#define SHR(x, n) ({ enum { n_ = (n) }; V x_ = (x), o_; EACH(P_SHR) o_; })
#define ROR(x, n) ({ enum { n_ = (n) }; V x_ = (x), o_; EACH(P_ROR) o_; })
#define SET1(c) ({ R s_ = R_SET1(c); V o_; for (int i_ = 0; i_ < K; i_++) o_.r[i_] = s_; o_; })
#define LOADU(p) ({ const uint64_t *p_ = (p); V o_; EACH(P_LOAD) o_; })
#define STOREU(p, v) ({ uint64_t *p_ = (p); V v_ = (v); EACH(P_STORE) (void)0; })

#ifdef R_TERN
#define P_TERN(i) o_.r[i] = R_TERN(x_.r[i], y_.r[i], z_.r[i], m_);
#define TERN(x, y, z, m) ({ enum { m_ = (m) }; V x_ = (x), y_ = (y), z_ = (z), o_; EACH(P_TERN) o_; })
#define XOR3(a, b, c) TERN(a, b, c, 0x96)
#define CH(e, f, g) TERN(e, f, g, 0xCA)
#define MAJ(a, b, c) TERN(a, b, c, 0xE8)
#else
#define XOR3(a, b, c) XOR(XOR(a, b), c)
#define CH(e, f, g) XOR(g, AND(e, XOR(f, g)))
#endif

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

/*
 * The order of T1's additions is the includer's (KW_FIRST): the AVX2 kernels
 * run faster adding Sigma1 last, the AVX-512 ones slower (6.2 against 5.5 M
 * steps/s for avx2x8, 24.0 against 25.5 M for avx512x24, measured here).
 */
#ifdef KW_FIRST
#define T1(e, f, g, h, kw) ADD(ADD(ADD(h, kw), CH(e, f, g)), BSIG1(e))
#else
#define T1(e, f, g, h, kw) ADD(ADD(ADD(h, BSIG1(e)), CH(e, f, g)), kw)
#endif

#define ROUND(a, b, c, d, e, f, g, h, kw, x, y)         \
  do {                                                  \
    V t1_ = T1(e, f, g, h, kw);                         \
    d = ADD(d, t1_);                                    \
    h = ADD(t1_, ADD(BSIG0(a), MAJ_XY(a, b, c, x, y))); \
  } while (0)

#define EIGHT_ROUNDS(KW, t)                       \
  do {                                            \
    ROUND(a, b, c, d, e, f, g, h, KW(t), x, y);     \
    ROUND(h, a, b, c, d, e, f, g, KW(t + 1), y, x); \
    ROUND(g, h, a, b, c, d, e, f, KW(t + 2), x, y); \
    ROUND(f, g, h, a, b, c, d, e, KW(t + 3), y, x); \
    ROUND(e, f, g, h, a, b, c, d, KW(t + 4), x, y); \
    ROUND(d, e, f, g, h, a, b, c, KW(t + 5), y, x); \
    ROUND(c, d, e, f, g, h, a, b, KW(t + 6), x, y); \
    ROUND(b, c, d, e, f, g, h, a, KW(t + 7), y, x); \
  } while (0)

#define KW1(t) ADD(SET1(DW_K[t]), w[(t) & 15])
#define KW2(t) SET1(DW_PAD_KW[t])
#define SCHEDULE(t) (w[(t) & 15] = ADD(ADD(w[(t) & 15], SSIG0(w[((t) + 1) & 15])), ADD(w[((t) + 9) & 15], SSIG1(w[((t) + 14) & 15]))))

/*
 * The message words: the hex characters of each half of a state word, by the
 * includer's byte shuffle (R_HEX, R_HEX_HI, R_HEX_LO: mb_ymm.h, mb_avx512.c),
 * six operations a word where shifts and masks took seventeen.
 */
#define P_HEX(i) o_.r[i] = R_HEX(x_.r[i], half_);
#define HEX_OF(x, half) ({ V x_ = (x), o_; R half_ = (half); EACH(P_HEX) o_; })

void KERNEL(uint64_t *H, uint64_t steps) {
  V s[8];
  for (int i = 0; i < 8; i++) s[i] = LOADU(H + i * LANES);
  while (steps--) {
    V w[16];
    for (int i = 0; i < 8; i++) {
      w[2 * i] = HEX_OF(s[i], R_HEX_HI);
      w[2 * i + 1] = HEX_OF(s[i], R_HEX_LO);
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
    for (int t = 0; t < 80; t += 8) EIGHT_ROUNDS(KW2, t);
    s[0] = ADD(a, m[0]), s[1] = ADD(b, m[1]), s[2] = ADD(c, m[2]), s[3] = ADD(d, m[3]);
    s[4] = ADD(e, m[4]), s[5] = ADD(f, m[5]), s[6] = ADD(g, m[6]), s[7] = ADD(h, m[7]);
  }
  for (int i = 0; i < 8; i++) STOREU(H + i * LANES, s[i]);
}

#undef V_
#undef V
#undef LANES
#undef EACH
#undef TERN
#undef XOR3
#undef CH
#undef MAJ
#undef MAJ_XY
#undef T1
#undef K
#undef KERNEL
