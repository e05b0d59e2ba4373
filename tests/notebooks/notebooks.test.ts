import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../notebooks/joint-lr-default-credit.ts', import.meta.url));

describe('notebooks', () => {
  it('joint-lr-default-credit runs from the public surface: the federated model matches the centralised one, nothing but declared classes crossed', () => {
    const text = execFileSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 120_000 });
    const line = text.split('\n').find((l) => l.startsWith('RESULT '));
    expect(line).toBeDefined();
    const r = JSON.parse(line!.slice('RESULT '.length)) as { intersection: number; federatedAuc: number; centralAuc: number; bankOnlyAuc: number; iterations: number; classes: string[] };
    expect(r.intersection).toBe(30000);
    expect(Math.abs(r.federatedAuc - r.centralAuc)).toBeLessThan(0.002);
    // The platform's features are worth having: the joint model beats the bank's own.
    expect(r.federatedAuc - r.bankOnlyAuc).toBeGreaterThan(0.03);
    for (const c of r.classes) {
      const [to, privacy] = c.split(':');
      expect(to === 'arbiter' ? ['aggregate', 'metadata'] : ['ciphertext', 'metadata', 'model']).toContain(privacy);
    }
    expect(text).toContain('| federated (threads) |');
  }, 180_000);
});
