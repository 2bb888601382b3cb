/*
 * The 256-bit operations that the AVX2 kernels (mb_avx2.c) and the
 * AVX-512VL ones (mb_avx512.c) share; each file adds its own rotate (and
 * ternary logic), and is compiled for its own instruction set.
 */
#define R __m256i
#define R_LANES 4
#define R_ADD _mm256_add_epi64
#define R_AND _mm256_and_si256
#define R_XOR _mm256_xor_si256
#define R_SHR _mm256_srli_epi64
#define R_SET1(c) _mm256_set1_epi64x((long long)(c))
#define R_LOADU(p) _mm256_loadu_si256((const __m256i *)(p))
#define R_STOREU(p, v) _mm256_storeu_si256((__m256i *)(p), v)

/*
 * The message word of one half of a state word (R_HEX_HI: its high 32 bits,
 * R_HEX_LO: its low), as hex characters: each byte of the half twice, high
 * byte last (SHA-512 reads the message big-endian); then the odd copies take
 * their high nibble, the even ones their low, and a table lookup gives the
 * character. vpshufb is AVX2, so both files that include this have it.
 */
#define R_HEX_HI _mm256_setr_epi8(4, 4, 5, 5, 6, 6, 7, 7, 12, 12, 13, 13, 14, 14, 15, 15, 4, 4, 5, 5, 6, 6, 7, 7, 12, 12, 13, 13, 14, 14, 15, 15)
#define R_HEX_LO _mm256_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 8, 8, 9, 9, 10, 10, 11, 11, 0, 0, 1, 1, 2, 2, 3, 3, 8, 8, 9, 9, 10, 10, 11, 11)
#define R_HEX(x, half)                                                                                                                    \
  ({                                                                                                                                      \
    __m256i v_ = _mm256_shuffle_epi8(x, half);                                                                                            \
    __m256i n_ = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi64(v_, 4), _mm256_set1_epi64x(0x0F000F000F000F00ll)),                   \
                                 _mm256_and_si256(v_, _mm256_set1_epi64x(0x000F000F000F000Fll)));                                         \
    _mm256_shuffle_epi8(_mm256_setr_epi8('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f', '0', '1', '2', '3', \
                                         '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'),                                     \
                        n_);                                                                                                              \
  })
