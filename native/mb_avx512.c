/*
 * AVX-512 kernels: chains in zmm registers, and in ymm registers with
 * AVX-512VL's rotate and ternary logic (for Skylake-era servers, which lower
 * the clock under 512-bit code, and for a handful of chains). Compiled with
 * -mavx512f -mavx512vl -mavx512bw only (binding.gyp): the byte shuffle that
 * builds the hex message words on zmm registers is AVX-512BW, which every
 * CPU with AVX-512VL has (chains.c requires all three).
 */
#include <immintrin.h>

#define R __m512i
#define R_LANES 8
#define R_ADD _mm512_add_epi64
#define R_AND _mm512_and_si512
#define R_XOR _mm512_xor_si512
#define R_SHR _mm512_srli_epi64
#define R_ROR _mm512_ror_epi64
#define R_TERN _mm512_ternarylogic_epi64
#define R_SET1(c) _mm512_set1_epi64((long long)(c))
#define R_LOADU(p) _mm512_loadu_si512((const void *)(p))
#define R_STOREU(p, v) _mm512_storeu_si512((void *)(p), v)
/* As R_HEX in mb_ymm.h, on four 128-bit lanes: 4-5 % more steps a second than shifts and masks. */
#define R_HEX_HI _mm512_set4_epi64(0x0f0f0e0e0d0d0c0cll, 0x0707060605050404ll, 0x0f0f0e0e0d0d0c0cll, 0x0707060605050404ll)
#define R_HEX_LO _mm512_set4_epi64(0x0b0b0a0a09090808ll, 0x0303020201010000ll, 0x0b0b0a0a09090808ll, 0x0303020201010000ll)
#define R_HEX(x, half)                                                                                                                   \
  ({                                                                                                                                     \
    __m512i v_ = _mm512_shuffle_epi8(x, half);                                                                                           \
    __m512i n_ = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi64(v_, 4), _mm512_set1_epi64(0x0F000F000F000F00ll)),                    \
                                 _mm512_and_si512(v_, _mm512_set1_epi64(0x000F000F000F000Fll)));                                          \
    _mm512_shuffle_epi8(_mm512_set4_epi64(0x6665646362613938ll, 0x3736353433323130ll, 0x6665646362613938ll, 0x3736353433323130ll), n_); \
  })

#define K 1
#define KERNEL dw_kernel_avx512x8
#include "mb_kernel.h"
#define K 2
#define KERNEL dw_kernel_avx512x16
#include "mb_kernel.h"
#define K 3
#define KERNEL dw_kernel_avx512x24
#include "mb_kernel.h"

#undef R
#undef R_LANES
#undef R_ADD
#undef R_AND
#undef R_XOR
#undef R_SHR
#undef R_ROR
#undef R_TERN
#undef R_SET1
#undef R_LOADU
#undef R_STOREU
#undef R_HEX_HI
#undef R_HEX_LO
#undef R_HEX

#include "mb_ymm.h"
#define R_ROR _mm256_ror_epi64
#define R_TERN _mm256_ternarylogic_epi64

#define K 1
#define KERNEL dw_kernel_avx512vlx4
#include "mb_kernel.h"
#define K 2
#define KERNEL dw_kernel_avx512vlx8
#include "mb_kernel.h"
#define K 3
#define KERNEL dw_kernel_avx512vlx12
#include "mb_kernel.h"
