import { describe, expect, it } from 'vitest';
import { crossGram } from '../../engine/columns.ts';
import { gaussian, seededRng } from '../../engine/rng.ts';
import { CrossGramDealer, CrossGramLeft, CrossGramRight, quantise, ringCross } from '../../protocols/mpc/cross-gram.ts';

const norm = (c: Float64Array) => Math.sqrt(c.reduce((s, v) => s + v * v, 0));

/**
 * Each party rounds its values to 2^-f with 2^f ≈ 2^15 / (its largest column norm), so entry (j, l)
 * is off by about 2^-15·(‖x_j‖·max‖x_H‖ + ‖x_l‖·max‖x_G‖) times a small factor.
 */
function expectNear(gram: Float64Array, left: Float64Array[], right: Float64Array[]) {
  const plain = crossGram(left, right);
  const maxLeft = Math.max(...left.map(norm));
  const maxRight = Math.max(...right.map(norm));
  plain.forEach((v, k) => {
    const j = Math.floor(k / right.length);
    const bound = 2 ** -13 * (norm(left[j]!) * maxRight + norm(right[k % right.length]!) * maxLeft);
    expect(Math.abs(gram[k]! - v)).toBeLessThan(bound);
  });
}

function columns(count: number, rows: number, seed: string, spread = 1): Float64Array[] {
  const r = seededRng(seed);
  return Array.from({ length: count }, (_, j) => Float64Array.from({ length: rows }, () => gaussian(r) * spread * (j + 1)));
}

/** The three roles, as the vfl-lr messages run them. */
function run(left: Float64Array[], right: Float64Array[], rows: number) {
  const dealer = new CrossGramDealer(seededRng('dealer').bytes(32));
  const l = new CrossGramLeft(left, rows, dealer.leftSeed, seededRng('left').bytes(32));
  const r = new CrossGramRight(right, rows);
  const toRight = l.padded();
  const toLeft = r.padded(dealer.rightSeed);
  const leftShare = l.share(toLeft);
  const rightShare = r.share(toRight.padded, toRight.maskSeed);
  const gram = dealer.combine({ share: leftShare, bits: l.q.bits, columns: left.length }, { share: rightShare, bits: r.q.bits, columns: right.length }, rows);
  return { gram, l, r, leftShare, rightShare, toRight, toLeft };
}

describe('cross Gram by a Beaver triple', () => {
  it('equals the plaintext product of the quantised columns exactly, and the float product to the quantisation error', () => {
    const rows = 4096;
    const left = [Float64Array.from({ length: rows }, () => 1), ...columns(13, rows, 'g')];
    const right = columns(10, rows, 'h', 30);
    const { gram, l, r } = run(left, right, rows);
    const exact = ringCross(l.q.values, left.length, r.q.values, right.length, rows);
    const unit = 2 ** -(l.q.bits + r.q.bits);
    exact.forEach((v, k) => expect(gram[k]).toBe(v * unit));
    expectNear(gram, left, right);
  });

  it('keeps every product below 2^30 for any scale of data, so no sum wraps', () => {
    for (const spread of [1e-6, 1, 1e6]) {
      const left = columns(3, 1000, `l${spread}`, spread);
      const right = columns(2, 1000, `r${spread}`, spread);
      const { gram } = run(left, right, 1000);
      expectNear(gram, left, right);
    }
    // Perfectly aligned columns are the worst case for Cauchy–Schwarz.
    const big = [Float64Array.from({ length: 5000 }, (_, i) => (i % 2 ? 1 : -1) * 7.5)];
    const { gram } = run(big, big, 5000);
    expect(gram[0]).toBeCloseTo(5000 * 56.25, 0);
  });

  it('what crosses is uniform: padded samples and shares do not depend on the data', () => {
    const rows = 2048;
    const zeros = [new Float64Array(rows), new Float64Array(rows)];
    const { toRight, toLeft, leftShare, rightShare } = run(zeros, zeros, rows);
    for (const bytes of [toRight.padded, toLeft, leftShare, rightShare]) {
      const words = new Int32Array(new Uint8Array(bytes).buffer);
      // All-zero data: what is sent is the mask alone, and it is not zero.
      expect(words.filter((w) => w === 0).length).toBeLessThanOrEqual(1);
    }
    expect(quantise(zeros, rows).bits).toBe(0);
  });

  it('refuses mismatched shapes and non-finite data with coded errors', () => {
    const rows = 100;
    const l = new CrossGramLeft(columns(2, rows, 'a'), rows, new Uint8Array(32), new Uint8Array(32));
    const r = new CrossGramRight(columns(3, rows, 'b'), rows);
    expect(() => l.share(r.padded(new Uint8Array(32)).subarray(0, 4 * (3 * rows - 1)))).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE' }));
    expect(() => r.share(new Uint8Array(6), new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE' }));
    expect(() => r.share(l.padded().padded, new Uint8Array(16))).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE' }));
    expect(() => quantise([Float64Array.of(1, Number.NaN)], 2)).toThrow(expect.objectContaining({ code: 'VFL_BAD_DATA' }));
  });
});
