import { describe, expect, it } from 'vitest';
import { IndomainError } from '../../engine/errors.ts';
import { secretRng } from '../../engine/rng.ts';
import { scorecardConfig } from '../../protocols/scorecard/config.ts';
import { gaussianDelta, labelNoiseSigma, noisedCounts, normalCdf, sigmaPerSensitivity } from '../../protocols/scorecard/label-privacy.ts';

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof IndomainError ? `${e.code} ${e.location?.field}` : String(e);
  }
  return 'no error';
}

describe('scorecard label privacy', () => {
  it('configuration: default (ε 1, δ 1e-6); anything else out of range refused with a coded error naming the field', () => {
    expect(scorecardConfig('j').labelPrivacy).toEqual({ epsilon: 1, delta: 1e-6 });
    expect(scorecardConfig('j', { labelPrivacy: { epsilon: 0.5, delta: 1e-9 } }).labelPrivacy.epsilon).toBe(0.5);
    const bad = (labelPrivacy: unknown) => refusal(() => scorecardConfig('j', { labelPrivacy: labelPrivacy as never }));
    expect(bad(null)).toBe('SC_BAD_CONFIG labelPrivacy');
    expect(bad(1)).toBe('SC_BAD_CONFIG labelPrivacy');
    expect(bad({ epsilon: 0, delta: 1e-6 })).toBe('SC_BAD_CONFIG labelPrivacy.epsilon');
    expect(bad({ epsilon: 2, delta: 1e-6 })).toBe('SC_BAD_CONFIG labelPrivacy.epsilon');
    expect(bad({ epsilon: Number.NaN, delta: 1e-6 })).toBe('SC_BAD_CONFIG labelPrivacy.epsilon');
    expect(bad({ epsilon: '1', delta: 1e-6 })).toBe('SC_BAD_CONFIG labelPrivacy.epsilon');
    expect(bad({ epsilon: 1 })).toBe('SC_BAD_CONFIG labelPrivacy.delta');
    expect(bad({ epsilon: 1, delta: 0 })).toBe('SC_BAD_CONFIG labelPrivacy.delta');
    expect(bad({ epsilon: 1, delta: 0.01 })).toBe('SC_BAD_CONFIG labelPrivacy.delta');
    expect(bad({ epsilon: 1, delta: 1e-6, off: true })).toBe('SC_BAD_CONFIG labelPrivacy.off');
    // No value in the message.
    expect(() => scorecardConfig('j', { labelPrivacy: { epsilon: 7.25, delta: 1e-6 } })).toThrow(/^(?!.*7\.25)/s);
  });

  it('σ = √F·√(2 ln(1.25/δ))/ε, and the exact δ of that σ (Balle & Wang 2018) is at most δ over the accepted range', () => {
    expect(labelNoiseSigma({ epsilon: 1, delta: 1e-6 }, 20)).toBeCloseTo(Math.sqrt(20) * Math.sqrt(2 * Math.log(1.25e6)), 12);
    for (const epsilon of [0.01, 0.1, 0.5, 1]) {
      for (const delta of [1e-3, 1e-6, 1e-9, 1e-12]) {
        const d = gaussianDelta(sigmaPerSensitivity({ epsilon, delta }), epsilon);
        expect(d).toBeGreaterThan(0);
        expect(d).toBeLessThanOrEqual(delta);
      }
    }
    // The check can fail: a quarter of the noise does not give (1, 1e-6).
    expect(gaussianDelta(sigmaPerSensitivity({ epsilon: 1, delta: 1e-6 }) / 4, 1)).toBeGreaterThan(1e-3);
  });

  it('Φ against reference values (scipy.stats.norm.cdf, SciPy 1.x) in both tails', () => {
    const ref: [number, number][] = [
      [-8, 6.22096057427174e-16],
      [-5.3, 5.790134039964578e-8],
      [-3.01, 0.0013062384487694675],
      [-2.99, 0.0013948872354922468],
      [-1, 0.15865525393145707],
      [0, 0.5],
      [0.5, 0.6914624612740131],
      [2.99, 0.9986051127645078],
      [5, 0.9999997133484281],
    ];
    for (const [x, p] of ref) expect(Math.abs(normalCdf(x) - p) / p).toBeLessThan(1e-12);
  });

  it('noised counts: N(0, σ²) from a secret stream, clipped to [0, rows of the bin]', () => {
    const rng = secretRng(new Uint8Array(32).fill(7), 'test-label-noise');
    const k = 20_000;
    const totals = new Float64Array(k).fill(1e6);
    const events = new Float64Array(k).fill(5e5);
    const out = noisedCounts(events, totals, 10, rng);
    let m = 0;
    let v = 0;
    for (const x of out) m += x - 5e5;
    m /= k;
    for (const x of out) v += (x - 5e5 - m) ** 2;
    const sd = Math.sqrt(v / (k - 1));
    // Mean within 4 standard errors (10/√k), deviation within 3%.
    expect(Math.abs(m)).toBeLessThan((4 * 10) / Math.sqrt(k));
    expect(Math.abs(sd - 10) / 10).toBeLessThan(0.03);
    const clipped = noisedCounts(Float64Array.of(0, 3, 5), Float64Array.of(5, 5, 5), 50, rng);
    for (const x of clipped) expect(x >= 0 && x <= 5).toBe(true);
  });
});
