/* Four chains in the 64-bit lanes of AVX2 registers. Compiled with -mavx2 only (binding.gyp). */
#include <immintrin.h>

#define V __m256i
#define LANES 4
#define KERNEL dw_kernel_avx2x4
#define ADD _mm256_add_epi64
#define SUB _mm256_sub_epi64
#define AND _mm256_and_si256
#define OR _mm256_or_si256
#define XOR _mm256_xor_si256
#define SHR _mm256_srli_epi64
#define SHL _mm256_slli_epi64
#define SET1(x) _mm256_set1_epi64x((long long)(x))
#define LOADU(p) _mm256_loadu_si256((const __m256i *)(p))
#define STOREU(p, v) _mm256_storeu_si256((__m256i *)(p), v)
/* A rotation by 8 is a byte shuffle: one instruction instead of three. */
#define ROR(x, n) ((n) == 8 ? _mm256_shuffle_epi8(x, _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8, 1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8)) : OR(SHR(x, n), SHL(x, 64 - (n))))
#define XOR3(a, b, c) XOR(XOR(a, b), c)
#define CH(e, f, g) XOR(g, AND(e, XOR(f, g)))

#include "mb_kernel.h"
