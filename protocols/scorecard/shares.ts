/**
 * Additive shares of per-row training values for the arbiter (the scorecard stage's training-side
 * report and Fisher weights), so that no per-row training value of one party reaches the other.
 *
 * Guest and host derive, from a 32-byte seed the guest draws and sends the host only (ShareSeed),
 * one permutation π of the training rows and, per shared column, one-time pads r_k uniform in
 * [0, 2^52). Values are fixed point (2^-32) in the ring Z/2^52 (every intermediate below 2^53, so
 * exact in a double). The guest sends fix(v_G[π(k)]) + r_k, the host fix(v_H[π(k)]) − r_k; alone
 * each is uniform, together the arbiter gets v_G + v_H at position k: the joint values of the
 * training rows in an order it cannot link to a row or an enterprise without the seed.
 * DO NOT SEND THE SEED TO THE ARBITER: with it, the arbiter could unmask both parties' values.
 */
import { IndomainError } from '../../engine/errors.ts';
import { permutation, secretRng } from '../../engine/rng.ts';

const RING = 2 ** 52;
const HALF = 2 ** 51;
const FRACTION = 2 ** 32;
/** |value| must stay below this for the fixed-point encoding to be exact and unambiguous. */
const LIMIT = HALF / FRACTION;

/** The permutation and pads both parties derive from the shared seed. */
export interface ShareLayout {
  /** Position k of the shares holds training row order[k]. */
  readonly order: Uint32Array;
  /** One pad per shared column, per position. */
  readonly pads: readonly Float64Array[];
}

export function shareLayout(seed: Uint8Array, rows: number, columns: number): ShareLayout {
  if (seed.length !== 32) throw new IndomainError('SC_BAD_MESSAGE', `share seed of ${seed.length} bytes, 32 expected`, { field: 'seed' });
  const rng = secretRng(seed, 'scorecard/train-shares');
  const order = permutation(rows, rng);
  const pads = Array.from({ length: columns }, () => {
    const bytes = rng.bytes(8 * rows);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // 52 uniform bits: 20 of the high word, 32 of the low.
    return Float64Array.from({ length: rows }, (_, i) => (v.getUint32(8 * i) & 0xfffff) * 2 ** 32 + v.getUint32(8 * i + 4));
  });
  return { order, pads };
}

/** This party's shares of its columns, in the layout's order: + pad for the guest, − pad for the host. */
export function padShares(layout: ShareLayout, columns: readonly Float64Array[], side: 'guest' | 'host'): Float64Array[] {
  return columns.map((col, c) => {
    const pad = layout.pads[c]!;
    return Float64Array.from(layout.order, (row, k) => {
      const v = col[row]!;
      if (!(Math.abs(v) < LIMIT)) throw new IndomainError('SC_BAD_MESSAGE', `a value out of the share range ±${LIMIT}`, { field: `column ${c}` });
      const fixed = Math.round(v * FRACTION);
      const s = side === 'guest' ? fixed + pad[k]! : fixed - pad[k]!;
      return ((s % RING) + RING) % RING;
    });
  });
}

/** The arbiter's sum of the two parties' shares: the joint values, in the shares' order. */
export function combineShares(a: Float64Array, b: Float64Array): Float64Array {
  if (a.length !== b.length) throw new IndomainError('SC_BAD_MESSAGE', `${a.length} and ${b.length} shares`, { field: 'logit' });
  return Float64Array.from(a, (x, k) => {
    if (!(Number.isInteger(x) && x >= 0 && x < RING && Number.isInteger(b[k]!) && b[k]! >= 0 && b[k]! < RING)) {
      throw new IndomainError('SC_BAD_MESSAGE', 'a share outside the ring', { field: 'logit', line: k });
    }
    const s = (x + b[k]!) % RING;
    return (s >= HALF ? s - RING : s) / FRACTION;
  });
}

/** A column in the layout's order (what each party multiplies the arbiter's [[w]] by). */
export function permuted(layout: ShareLayout, col: Float64Array): Float64Array {
  return Float64Array.from(layout.order, (row) => col[row]!);
}
