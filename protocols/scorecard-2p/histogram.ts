/**
 * The training sample's score histogram by label without an arbiter: the host convolves the
 * guest's encrypted per-row (guest points, label) with its own integer partial points, so the
 * guest decrypts Σ_{g+h=s} N(g, h, y) for every total score s and never the joint table N(g, h, y).
 *
 * Polynomials (BFV, protocols/he/bfv.ts: exact integers, no rounding to argue about). Offsets make
 * every guest points value g' = g − g_min ∈ [0, L_G) and host value h' = h − h_min ∈ [0, L_H) (h_min
 * and L_H from the host's point table's lowest and highest sums, which HostPartialScores already
 * gives the guest); spacing L = L_G + L_H − 1, R = ⌊N/L⌋ rows per block, block c holds rows cR..cR+R−1.
 *   guest   P_c = Σ_r a_r X^{g'_r + rL},  a_r = 1 + B·y_r  (B = 2^⌈log₂(n+1)⌉: count and events in one
 *           coefficient), encrypted under the guest's own BFV key
 *   host    Q_c = Σ_r X^{h'_r − rL}  (X^{−e} = −X^{N−e}),  S = Σ_c P_c·Q_c
 * P_c·Q_c = Σ_{r,r'} a_r X^{g'_r + h'_{r'} + (r − r')L}: the terms r = r' are exactly
 * a_r X^{g'_r + h'_r}, in [0, L); every cross term (r ≠ r') lands in [L, N) (for r − r' < 0 after the
 * negacyclic wrap, since RL ≤ N). The host adds a uniform polynomial mod t on [L, N) (one-time pad:
 * the cross terms, sums over pairs of different rows, are unreadable), re-randomises and floods,
 * and the guest reads coefficient s' of [0, L): count(s) + B·events(s), s = s' + g_min + h_min.
 *
 * Noise: the guest's fresh noise per coefficient is Gaussian (σ = 3.2, |e| ≤ 19.2 at 6σ); each
 * coefficient of S's noise is a sum of at most R·blocks such terms times ±1, so below
 * 2^{log₂(19.2·R·blocks)}; the flood is 2^30 above that bound and at most 2^62, far below
 * Δ/2 ≈ 2^69, so decryption is exact (measured: every count equals the plaintext histogram).
 */
import { IndomainError } from '../../engine/errors.ts';
import type { Rng } from '../../engine/rng.ts';
import { floodBfv, plainPolynomial, readPolynomial, type Bfv } from '../he/bfv.ts';
import type { Encryptor } from 'node-seal/implementation/encryptor.js';
import type { CipherText } from 'node-seal/implementation/cipher-text.js';
import { probabilityOfScore, type Scaling } from '../../models/scorecard.ts';
import { bandEdges, bandsFromEdges, summariseSample, type SampleSummary } from '../../models/report.ts';

/** Bits of statistical margin of the flood above the noise bound. */
export const FLOOD_MARGIN_BITS = 30;

export interface HistogramLayout {
  /** Width of the guest's offset points range, L_G. */
  readonly guestRange: number;
  /** Width of the host's, L_H. */
  readonly hostRange: number;
  /** L = L_G + L_H − 1. */
  readonly spacing: number;
  readonly rowsPerBlock: number;
  readonly blocks: number;
  /** B: events ride above the counts. */
  readonly eventWeight: number;
}

export function histogramLayout(degree: number, rows: number, guestRange: number, hostRange: number, minSpacing = 0): HistogramLayout {
  if (!(Number.isInteger(guestRange) && guestRange >= 1 && Number.isInteger(hostRange) && hostRange >= 1)) {
    throw new IndomainError('SC_BAD_MESSAGE', 'points ranges must be positive integers', { field: 'guestRange' });
  }
  // minSpacing: the attack tests' joint layout only.
  const spacing = Math.max(minSpacing, guestRange + hostRange - 1);
  if (spacing > degree) throw new IndomainError('SC_BAD_CONFIG', `a score range of ${spacing} points does not fit ${degree} coefficients`);
  const eventWeight = 2 ** Math.ceil(Math.log2(rows + 1));
  if (rows * (eventWeight + 1) >= 2 ** 49) throw new IndomainError('SC_BAD_CONFIG', `${rows} training rows are too many for one histogram coefficient`);
  const rowsPerBlock = Math.floor(degree / spacing);
  return { guestRange, hostRange, spacing, rowsPerBlock, blocks: Math.ceil(rows / rowsPerBlock), eventWeight };
}

/** Deviation (log₂) of the host's flood for this layout. */
export function floodBits(l: HistogramLayout): number {
  return Math.min(62, Math.ceil(Math.log2(19.2 * l.rowsPerBlock * l.blocks)) + FLOOD_MARGIN_BITS);
}

/** The guest's blocks P_c, encrypted (symmetric, seeded) under its own key. */
export function guestBlocks(b: Bfv, enc: Encryptor, l: HistogramLayout, offsetPoints: Float64Array, labels: Uint8Array): Uint8Array[] {
  const n = labels.length;
  const out: Uint8Array[] = [];
  const coef = new Float64Array(b.degree);
  for (let c = 0; c < l.blocks; c++) {
    coef.fill(0);
    for (let r = 0; r < l.rowsPerBlock; r++) {
      const i = c * l.rowsPerBlock + r;
      if (i >= n) break;
      coef[offsetPoints[i]! + r * l.spacing] += 1 + l.eventWeight * labels[i]!;
    }
    const pt = plainPolynomial(b, coef);
    const ser = enc.encryptSymmetricSerializable(pt);
    pt.delete();
    out.push(ser.saveArray(b.seal.ComprModeType.none));
    ser.delete();
  }
  return out;
}

/**
 * FOR THE ATTACK TESTS ONLY (tests/attacks/two-party-scorecard-*.test.ts; no job spec, request or
 * CLI flag reaches them). `joint`: convolution off, the host multiplies by X^{L_G·h} instead of
 * X^h, so coefficient g + L_G·h holds N(g, h, y), the joint table (needs spacing ≥ L_G·L_H);
 * `pad: false`: the cross terms of different rows are not padded; `flood: false`: no flooding
 * noise; `rerandomise: false`: no fresh encryption of zero either (the linear-span attack).
 */
export interface HistogramSwitches {
  readonly joint?: boolean;
  readonly pad?: boolean;
  readonly flood?: boolean;
  readonly rerandomise?: boolean;
}

/** The host's side: S = Σ_c P_c·Q_c, the pad on [L, N), re-randomised and flooded. */
export function hostConvolve(
  b: Bfv,
  l: HistogramLayout,
  offsetPoints: Float64Array,
  blocks: readonly CipherText[],
  guestEncryptor: Encryptor,
  rng: Rng,
  switches: HistogramSwitches = {},
): Uint8Array {
  if (blocks.length !== l.blocks) throw new IndomainError('SC_BAD_MESSAGE', `${blocks.length} score blocks, ${l.blocks} expected`, { field: 'blocks' });
  const n = offsetPoints.length;
  const stride = switches.joint ? l.guestRange : 1;
  if (switches.joint && l.spacing < l.guestRange * l.hostRange) throw new IndomainError('SC_BAD_CONFIG', 'the joint table needs spacing L_G·L_H');
  const coef = new Float64Array(b.degree);
  let acc: CipherText | undefined;
  for (let c = 0; c < l.blocks; c++) {
    coef.fill(0);
    for (let r = 0; r < l.rowsPerBlock; r++) {
      const i = c * l.rowsPerBlock + r;
      if (i >= n) break;
      const e = stride * offsetPoints[i]! - r * l.spacing;
      if (e >= 0) coef[e] += 1;
      else coef[b.degree + e] -= 1;
    }
    const q = plainPolynomial(b, coef);
    const prod = b.evaluator.multiplyPlain(blocks[c]!, q) as CipherText;
    q.delete();
    if (acc) {
      b.evaluator.add(acc, prod, acc);
      prod.delete();
    } else acc = prod;
  }
  if (switches.pad !== false) {
    const pad = new Float64Array(b.degree);
    const t = Number(b.t);
    const bytes = rng.bytes(8 * b.degree);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let k = l.spacing; k < b.degree; k++) {
      // 50 uniform bits, reduced mod t (bias < 2^-49·(2^50 − t)/t, negligible), centred.
      const u = (dv.getUint32(8 * k) & 0x3ffff) * 2 ** 32 + dv.getUint32(8 * k + 4);
      const v = u % t;
      pad[k] = v > t / 2 ? v - t : v;
    }
    const p = plainPolynomial(b, pad);
    b.evaluator.addPlain(acc!, p, acc!);
    p.delete();
  }
  const out = floodBfv(b, acc!, guestEncryptor, switches.flood === false ? 0 : floodBits(l), rng, switches.rerandomise !== false);
  acc!.delete();
  return out;
}

/** Per total score (lowest first): rows and events, decoded from the decrypted coefficients. */
export interface ScoreHistogram {
  readonly lowest: number;
  readonly rows: Float64Array;
  readonly events: Float64Array;
}

export function decodeHistogram(coefficients: Float64Array, l: HistogramLayout, lowest: number, rows: number, events: number): ScoreHistogram {
  const count = new Float64Array(l.spacing);
  const ev = new Float64Array(l.spacing);
  for (let s = 0; s < l.spacing; s++) {
    const v = coefficients[s]!;
    const c = ((v % l.eventWeight) + l.eventWeight) % l.eventWeight;
    count[s] = c;
    ev[s] = (v - c) / l.eventWeight;
    if (!(ev[s]! >= 0 && ev[s]! <= c)) throw new IndomainError('SC_BAD_MESSAGE', `score ${s}: ${ev[s]} events among ${c} rows`, { field: 'histogram' });
  }
  const total = count.reduce((a, x) => a + x, 0);
  const totalEvents = ev.reduce((a, x) => a + x, 0);
  if (total !== rows || totalEvents !== events) throw new IndomainError('SC_BAD_MESSAGE', `a histogram of ${total} rows and ${totalEvents} events for ${rows} and ${events}`, { field: 'histogram' });
  return { lowest, rows: count, events: ev };
}

/**
 * The multiset of (points, label) the histogram stands for, as rows in increasing points with the
 * events of each score spread evenly among its rows (so a decile boundary inside a tie splits the
 * tie's events in proportion, where the arbiter's split followed a row order nobody can link).
 */
export function expandHistogram(h: ScoreHistogram): { points: Float64Array; labels: Uint8Array } {
  const n = h.rows.reduce((a, x) => a + x, 0);
  const points = new Float64Array(n);
  const labels = new Uint8Array(n);
  let i = 0;
  h.rows.forEach((c, s) => {
    const e = h.events[s]!;
    for (let k = 0; k < c; k++) {
      points[i] = h.lowest + s;
      // Exactly e of the c rows, evenly spread: row k is an event when ⌊(k+1)e/c⌋ steps up.
      labels[i] = Math.floor(((k + 1) * e) / c) > Math.floor((k * e) / c) ? 1 : 0;
      i++;
    }
  });
  return { points, labels };
}

/**
 * The training side of the report from the histogram alone: each row's probability is its
 * integer score's (probabilityOfScore), the arbiter's was the float joint logit's; the band edges
 * come from the same integer points.
 */
export function summariseHistogram(h: ScoreHistogram, scaling: Scaling): { summary: SampleSummary; edges: number[] } {
  const { points, labels } = expandHistogram(h);
  const prob = points.map((s) => probabilityOfScore(s, scaling));
  const edges = bandEdges(points, scaling.pdo);
  return { summary: summariseSample({ prob, points, labels }, bandsFromEdges(edges)), edges };
}

export { readPolynomial };
