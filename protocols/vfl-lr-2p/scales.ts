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

/**
 * The guest's columns meet the encrypted residual (ciphertext × ciphertext), so the fresh noise
 * of their encryption, which the guest knows exactly (it made them, it holds the key), multiplies
 * the residual, which carries the host's partial logits. At the operand scale 2^30 that noise is
 * 2.7e-7 of each entry and its term in the result about a third of the host's flood: a noisy
 * linear view of the per-row residual. At the full scale Δ = 2^40 it is 2^10 smaller (measured
 * bound below the flood by 2^8). The residual sits at ΔΔ′ = 2^70, so the product is at 2^110 < 2^120
 * and lands at 2^50 after the rescale, leaving 2^9 of headroom under q₀ = 2^60 for the result,
 * which the extra divisor 8 keeps for any n below 16 million rows (|Σ x d|/(8√n) ≤ √n/8 for
 * standardised x and |d| ≤ 1).
 */
export const GUEST_COLUMN_DIVISOR = 8;

/** Divisor of the guest's encrypted columns: 8·√n (see GUEST_COLUMN_DIVISOR). */
export function guestColumnDivisor(rows: number): number {
  return GUEST_COLUMN_DIVISOR * Math.sqrt(Math.max(1, rows));
}
