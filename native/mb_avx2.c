/* Chains in the 64-bit lanes of AVX2 registers. Compiled with -mavx2 only (binding.gyp). */
#include <immintrin.h>

#include "mb_ymm.h"

/* A rotation by 8 is a byte shuffle: one instruction instead of three. */
#define R_ROR(x, n)                                                                                                                              \
  ((n) == 8 ? _mm256_shuffle_epi8(x, _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8, 1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8)) \
            : _mm256_or_si256(_mm256_srli_epi64(x, n), _mm256_slli_epi64(x, 64 - (n))))

#define KW_FIRST
#define K 1
#define KERNEL dw_kernel_avx2x4
#include "mb_kernel.h"
#define K 2
#define KERNEL dw_kernel_avx2x8
#include "mb_kernel.h"
#define K 3
#define KERNEL dw_kernel_avx2x12
#include "mb_kernel.h"
