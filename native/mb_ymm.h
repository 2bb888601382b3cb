/*
 * The 256-bit operations that the AVX2 kernels (mb_avx2.c) and the
 * AVX-512VL ones (mb_avx512.c) share; each file adds its own rotate (and
 * ternary logic), and is compiled for its own instruction set.
 */
#define R __m256i
#define R_LANES 4
#define R_ADD _mm256_add_epi64
#define R_SUB _mm256_sub_epi64
#define R_AND _mm256_and_si256
#define R_OR _mm256_or_si256
#define R_XOR _mm256_xor_si256
#define R_SHR _mm256_srli_epi64
#define R_SHL _mm256_slli_epi64
#define R_SET1(c) _mm256_set1_epi64x((long long)(c))
#define R_LOADU(p) _mm256_loadu_si256((const __m256i *)(p))
#define R_STOREU(p, v) _mm256_storeu_si256((__m256i *)(p), v)
