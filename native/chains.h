/*
 * The job's chain, step by step: after the first hash, every step is
 * SHA-512 of the previous digest's 128 lowercase hex characters, so exactly
 * two compressions, the second over a constant padding block. Chains are
 * independent, so a thread advances many side by side in SIMD lanes
 * (multi-buffer hashing, as Intel's isa-l_crypto does); chains.c schedules
 * them and each mb_*.c holds one instruction set's kernel.
 */
#ifndef DYNWORK_CHAINS_H
#define DYNWORK_CHAINS_H
#include <stddef.h>
#include <stdint.h>

extern const uint64_t DW_K[80];
extern const uint64_t DW_IV[8];
/* K[t] + W[t] of the padding block of a 128-byte message: the same for every step. */
extern uint64_t DW_PAD_KW[80];

/*
 * Advances every lane's chain by `steps` steps. H holds the eight state words
 * of LANES lanes word-major: H[w * LANES + lane]. Unused lanes just compute.
 */
typedef void (*dw_kernel)(uint64_t *H, uint64_t steps);

#if defined(__x86_64__)
void dw_kernel_avx2x4(uint64_t *H, uint64_t steps);
void dw_kernel_avx2x8(uint64_t *H, uint64_t steps);
void dw_kernel_avx2x12(uint64_t *H, uint64_t steps);
void dw_kernel_avx512x8(uint64_t *H, uint64_t steps);
void dw_kernel_avx512x16(uint64_t *H, uint64_t steps);
void dw_kernel_avx512x24(uint64_t *H, uint64_t steps);
void dw_kernel_avx512vlx4(uint64_t *H, uint64_t steps);
void dw_kernel_avx512vlx8(uint64_t *H, uint64_t steps);
void dw_kernel_avx512vlx12(uint64_t *H, uint64_t steps);
#endif

/* Most chains a kernel runs at once (avx512: three zmm registers of eight). */
#define DW_MAX_LANES 24

typedef enum { DW_SCALAR, DW_AVX2, DW_AVX512VL, DW_AVX512, DW_PATHS } dw_path;

void dw_init(void);
const char *dw_path_name(dw_path p);
/* Whether this CPU (and OS) can run p. */
int dw_path_supported(dw_path p);
/* The path this CPU runs best: see chains.c. */
dw_path dw_path_preferred(void);

/*
 * Advances n chains: digests holds n SHA-512 digests (64 bytes each, as
 * SHA512() writes them), remaining[n] the steps each has left (0 = done).
 * Lanes are refilled as chains finish; returns once every chain is done or
 * budget_ns has passed (checked about every millisecond), with the digests and
 * remaining counts updated in place, so a caller can resume any chain later,
 * on any thread. Returns the chain steps done.
 */
uint64_t dw_run(dw_path p, uint8_t *digests, uint64_t *remaining, size_t n, uint64_t budget_ns);

/* The single-stream loop (OpenSSL SHA512 over the hex): `steps` steps of one chain. */
void dw_scalar_steps(uint8_t digest[64], uint64_t steps);

#endif
