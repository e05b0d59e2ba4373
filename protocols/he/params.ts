/**
 * Named CKKS parameter sets, each with its security level.
 *
 * Security follows the HomomorphicEncryption.org standard (Albrecht et al., "Homomorphic Encryption
 * Standard", 2018, Table 1, ternary secret, classical 128-bit): N = 8192 allows log₂ q ≤ 218,
 * N = 16384 allows log₂ q ≤ 438. SEAL checks this again when the context is built
 * (`SecurityLevel.tc128`), so a set that breaks the bound cannot load.
 */

export interface CkksParams {
  readonly name: string;
  readonly polyModulusDegree: number;
  /** Bit sizes of the coefficient-modulus primes; the last is the special (key-switching) prime. */
  readonly coeffModulusBits: readonly number[];
  /** log₂ of the encoding scale. */
  readonly scaleBits: number;
  /** Classical security in bits under the HE standard's bound. */
  readonly securityBits: 128;
  /** Multiplicative depth available (rescales). */
  readonly depth: number;
  /**
   * log₂ of the scale of plaintext operands multiplied into a ciphertext without a rescale in
   * between (see `ckks-n8192-l1`); defaults to `scaleBits`.
   */
  readonly operandScaleBits?: number;
}

/**
 * 4096 slots, depth 2, log₂ q = 200 ≤ 218: the vertical-LR set. Depth 1 for the Chebyshev
 * combination, depth 1 for the diagonal matrix product; decryption at the last 60-bit prime leaves
 * 19 bits of integer headroom over a 2^40 scale.
 */
export const CKKS_N8192_D2: CkksParams = {
  name: 'ckks-n8192-d2',
  polyModulusDegree: 8192,
  coeffModulusBits: [60, 40, 40, 60],
  scaleBits: 40,
  securityBits: 128,
  depth: 2,
};

/**
 * 4096 slots, one 60-bit rescale prime, log₂ q = 180 ≤ 218: the vertical-LR set. A fresh
 * ciphertext at 2^40 takes two plaintext multiplications at 2^30 (2^100 < 2^120) before one
 * rescale brings it back to 2^40 under the 60-bit q₀, with 19 bits of integer headroom. Fresh
 * ciphertexts are a third smaller and a third cheaper to encrypt than under `ckks-n8192-d2`, and
 * the middle rescale is gone. Operands at 2^30 round to within ~2.5e-8 per slot.
 */
export const CKKS_N8192_L1: CkksParams = {
  name: 'ckks-n8192-l1',
  polyModulusDegree: 8192,
  coeffModulusBits: [60, 60, 60],
  scaleBits: 40,
  securityBits: 128,
  depth: 1,
  operandScaleBits: 30,
};

/** 8192 slots, depth 6, log₂ q = 360 ≤ 438: for deeper circuits. */
export const CKKS_N16384_D6: CkksParams = {
  name: 'ckks-n16384-d6',
  polyModulusDegree: 16384,
  coeffModulusBits: [60, 40, 40, 40, 40, 40, 40, 60],
  scaleBits: 40,
  securityBits: 128,
  depth: 6,
};

export const CKKS_PARAMS: Readonly<Record<string, CkksParams>> = {
  [CKKS_N8192_D2.name]: CKKS_N8192_D2,
  [CKKS_N8192_L1.name]: CKKS_N8192_L1,
  [CKKS_N16384_D6.name]: CKKS_N16384_D6,
};

/** Upper bounds of log₂ q for 128-bit classical security, HE standard Table 1. */
export const HE_STANDARD_MAX_LOGQ_128: Readonly<Record<number, number>> = {
  1024: 27,
  2048: 54,
  4096: 109,
  8192: 218,
  16384: 438,
  32768: 881,
};
