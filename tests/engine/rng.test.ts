import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cryptoRng, gaussians, secretRng, seededRng } from '../../engine/rng.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('secret randomness', () => {
  it('secretRng: the same secret and purpose give the same stream; another purpose or secret an unrelated one', () => {
    const secret = cryptoRng.bytes(32);
    const a = secretRng(secret, 'psi').bytes(4096 + 7);
    const b = secretRng(secret, 'psi');
    // Read in uneven pieces across the 4 KiB refill boundary: the same bytes.
    const pieces = [b.bytes(1000), b.bytes(3100), b.bytes(3)];
    expect(Buffer.concat(pieces)).toEqual(Buffer.from(a));
    const other = secretRng(secret, 'flood').bytes(64);
    const otherSecret = secretRng(cryptoRng.bytes(32), 'psi').bytes(64);
    // Equal 64-byte prefixes by chance: probability 2^-512.
    expect(Buffer.from(other)).not.toEqual(Buffer.from(a.subarray(0, 64)));
    expect(Buffer.from(otherSecret)).not.toEqual(Buffer.from(a.subarray(0, 64)));
    // Uniform in [0, 1): mean and variance of 20,000 draws within 5 standard errors.
    const r = secretRng(secret, 'uniform');
    const n = 20000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
      s += x;
      s2 += x * x;
    }
    expect(Math.abs(s / n - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(s2 / n - (s / n) ** 2 - 1 / 12)).toBeLessThan(0.005);
  });

  it('gaussians: n standard normal draws from one call (mean, variance, tails), odd n included, a stream deterministic for its secret', () => {
    const n = 200_001;
    const z = gaussians(secretRng(cryptoRng.bytes(32), 'flood'), n);
    expect(z.length).toBe(n);
    let m = 0;
    let v = 0;
    let beyond3 = 0;
    for (const x of z) m += x;
    m /= n;
    for (const x of z) {
      v += (x - m) ** 2;
      if (Math.abs(x) > 3) beyond3++;
    }
    v /= n - 1;
    // Sampling error of the mean 1/√n ≈ 0.0022, of the variance √(2/n) ≈ 0.0032; P(|Z| > 3) = 0.0027.
    expect(Math.abs(m)).toBeLessThan(0.012);
    expect(Math.abs(v - 1)).toBeLessThan(0.016);
    expect(Math.abs(beyond3 / n - 0.0027)).toBeLessThan(0.0007);
    const secret = cryptoRng.bytes(32);
    expect(gaussians(secretRng(secret, 'a'), 5)).toEqual(gaussians(secretRng(secret, 'a'), 5));
  });

  it('secretRng refuses a secret shorter than 16 bytes', () => {
    expect(() => secretRng(new Uint8Array(8), 'psi')).toThrow(/at least 16 bytes/);
  });

  it('production code takes the statistical generator only for public, reproducible draws', () => {
    // seededRng is xoshiro128**: four consecutive outputs determine its state. It may serve public
    // data splits (the split seed is in the job spec), the lab's synthetic data and a bench's
    // synthetic inputs; every secret comes from secretRng or cryptoRng.
    const allowed = new Set(['engine/rng.ts', 'engine/align.ts', 'server/lab/generate.ts', 'benchmarks/scoring.ts', 'benchmarks/shapes.ts', 'benchmarks/uci.ts']);
    const users = ['engine', 'protocols', 'models', 'server', 'benchmarks', 'notebooks']
      .flatMap(sourceFiles)
      .filter((f) => /\bseededRng\b|Math\.random\b/.test(readFileSync(join(ROOT, f), 'utf8')))
      .map((f) => relative('.', f));
    expect(users.filter((f) => !allowed.has(f))).toEqual([]);
    // The check reads real files: the generator's own module is among those it finds.
    expect(users).toContain('engine/rng.ts');
    expect(typeof seededRng).toBe('function');
  });
});
