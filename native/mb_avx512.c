/*
 * AVX-512 kernels: eight chains in zmm registers, and four in ymm registers
 * with AVX-512VL's rotate and ternary logic, for the tail of a batch and for
 * Skylake-era servers that lower the clock under 512-bit code. Compiled with
 * -mavx512f -mavx512vl only (binding.gyp).
 */
#include <immintrin.h>

#define XOR3(a, b, c) TERN(a, b, c, 0x96)
#define CH(e, f, g) TERN(e, f, g, 0xCA)
#define MAJ(a, b, c) TERN(a, b, c, 0xE8)

#define V __m512i
#define LANES 8
#define KERNEL dw_kernel_avx512x8
#define ADD _mm512_add_epi64
#define SUB _mm512_sub_epi64
#define AND _mm512_and_si512
#define OR _mm512_or_si512
#define XOR _mm512_xor_si512
#define SHR _mm512_srli_epi64
#define SHL _mm512_slli_epi64
#define ROR _mm512_ror_epi64
#define TERN _mm512_ternarylogic_epi64
#define SET1(x) _mm512_set1_epi64((long long)(x))
#define LOADU(p) _mm512_loadu_si512((const void *)(p))
#define STOREU(p, v) _mm512_storeu_si512((void *)(p), v)
#define hex_word hex_word8
#include "mb_kernel.h"
#undef V
#undef LANES
#undef KERNEL
#undef ADD
#undef SUB
#undef AND
#undef OR
#undef XOR
#undef SHR
#undef SHL
#undef ROR
#undef TERN
#undef SET1
#undef LOADU
#undef STOREU
#undef hex_word

#define V __m256i
#define LANES 4
#define KERNEL dw_kernel_avx512vlx4
#define ADD _mm256_add_epi64
#define SUB _mm256_sub_epi64
#define AND _mm256_and_si256
#define OR _mm256_or_si256
#define XOR _mm256_xor_si256
#define SHR _mm256_srli_epi64
#define SHL _mm256_slli_epi64
#define ROR _mm256_ror_epi64
#define TERN _mm256_ternarylogic_epi64
#define SET1(x) _mm256_set1_epi64x((long long)(x))
#define LOADU(p) _mm256_loadu_si256((const __m256i *)(p))
#define STOREU(p, v) _mm256_storeu_si256((__m256i *)(p), v)
#define hex_word hex_word4
#include "mb_kernel.h"
