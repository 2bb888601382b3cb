/* Chains in the 64-bit lanes of AVX2 registers. Compiled with -mavx2 only (binding.gyp). */
#include <immintrin.h>

#define R __m256i
#define R_LANES 4
#define R_ADD _mm256_add_epi64
#define R_SUB _mm256_sub_epi64
#define R_AND _mm256_and_si256
#define R_OR _mm256_or_si256
#define R_XOR _mm256_xor_si256
#define R_SHR _mm256_srli_epi64
#define R_SHL _mm256_slli_epi64
/* A rotation by 8 is a byte shuffle: one instruction instead of three. */
#define R_ROR(x, n)                                                                                                                              \
  ((n) == 8 ? _mm256_shuffle_epi8(x, _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8, 1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8)) \
            : _mm256_or_si256(_mm256_srli_epi64(x, n), _mm256_slli_epi64(x, 64 - (n))))
#define R_SET1(c) _mm256_set1_epi64x((long long)(c))
#define R_LOADU(p) _mm256_loadu_si256((const __m256i *)(p))
#define R_STOREU(p, v) _mm256_storeu_si256((__m256i *)(p), v)

#define K 1
#define KERNEL dw_kernel_avx2x4
#include "mb_kernel.h"
#define K 2
#define KERNEL dw_kernel_avx2x8
#include "mb_kernel.h"
