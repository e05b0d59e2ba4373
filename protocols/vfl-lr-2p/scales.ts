/** Scales and sizes both roles of `vfl-lr-2p` derive from the parameter set and the job. */
import type { Ckks } from '../he/ckks.ts';
import type { VflConfig } from '../vfl-lr/config.ts';

/**
 * Scale of the guest's ciphertexts that meet one plaintext product (at the operand scale Δ′) and
 * then one rescale: Δ·q_last/Δ′, so that the result lands at Δ (2^70 under `ckks-n8192-l1`: 2^70 ·
 * 2^30 = 2^100 < 2^120 at the top level, rescaled by the 60-bit prime to 2^40). The coefficient
 * vectors are encrypted at Δ: their product with the basis stays unrescaled at ΔΔ′ and meets the
 * host's diagonals before the one rescale, as in vfl-lr.
 */
export function productScale(ckks: Ckks): number {
  const bits = ckks.params.coeffModulusBits;
  return (ckks.scale * 2 ** bits[bits.length - 2]!) / ckks.operandScale;
}

/** Rows of the initial Hessian's sample: the first rows, at most one ciphertext's slots. */
export function sampleRowsFor(rows: number, config: VflConfig, ckks: Ckks): number {
  return Math.min(rows, config.hessianSampleRows, ckks.slots);
}
