/**
 * Attack on the hybrid consortium (protocols/consortium/hybrid.ts), run on its real messages: the
 * coordinator reads one bank's gradient part after the others drop out.
 *
 * The platform sums every bank's encrypted gradient part before the coordinator (the key owner)
 * decrypts anything (tests/attacks/hybrid-consortium.test.ts). But a round closes at the platform's
 * deadline over whoever answered: when every bank but one has dropped (killed, or simply slow), the
 * "sum" is that one bank's part, and the coordinator decrypts it. Defence: the platform refuses to
 * close a round that fewer than two banks answered, and the coordinator refuses a GradientSum over
 * fewer than two (VFL_TOO_FEW_BANKS); the job stops instead. Switched off (a test-only option
 * of hybridLrInMemory, `loneBank`), the coordinator reads every value of bank-1's round-0 part.
 */
import { describe, expect, it } from 'vitest';
import { ones } from '../../engine/columns.ts';
import { cryptoRng } from '../../engine/rng.ts';
import { logit, sigmoid } from '../../models/logistic.ts';
import { HybridCoordinator, HybridPlatform, hybridLrInMemory } from '../../protocols/consortium/hybrid.ts';
import { createCkks } from '../../protocols/he/ckks.ts';
import { vflConfig } from '../../protocols/vfl-lr/config.ts';
import { hybridSplit } from '../helpers/consortium-data.ts';

describe('attack: the coordinator reads a lone bank’s gradient part in the hybrid consortium', () => {
  it('two of three banks killed in round 0: refused (0 values read); without the minimum, all of bank-1’s values', async () => {
    const { pairs } = hybridSplit(3, 3000);
    const drops = [
      { bank: 'bank-2', round: 0 },
      { bank: 'bank-3', round: 0 },
    ];
    // bank-1's true round-0 part at the round-0 model (intercept logit of the pooled event rate,
    // every other weight 0), over the rows of the banks that remain (bank-1's), as the coordinator rescales it.
    const rows = [...pairs.values()].reduce((s, p) => s + p.y.length, 0);
    const events = [...pairs.values()].reduce((s, p) => s + p.y.reduce((a, y) => a + y, 0), 0);
    const p0 = sigmoid(logit(events / rows));
    const own = pairs.get('bank-1')!;
    const truth = [ones(own.y.length), ...own.bank].map((col) => col.reduce((s, x, i) => s + x * (p0 - own.y[i]!), 0) / own.y.length);
    const tolerance = 1e-5;

    const on = await hybridLrInMemory({ job: 'hybrid-lone-on', pairs, drops, config: { maxIterations: 1 }, rng: cryptoRng }).then(
      (fed) => ({ code: 'none', released: fed.coordinator.releasedBankParts.length }),
      (e: { code?: string }) => ({ code: e.code ?? String(e), released: 0 }),
    );
    const off = await hybridLrInMemory({ job: 'hybrid-lone-off', pairs, drops, config: { maxIterations: 1 }, rng: cryptoRng, unsafe: { loneBank: true } });
    const released = off.coordinator.releasedBankParts[0]!;
    const read = truth.filter((t, j) => Math.abs(released[j]! - t) < tolerance).length;
    console.log(
      `hybrid lone-bank attack (bank-1, ${own.y.length} rows, ${truth.length} values, largest |g| ${Math.max(...truth.map(Math.abs)).toExponential(2)}): ` +
        `minimum of two banks per sum: round refused (${on.code}), ${on.released} sums released, 0 of ${truth.length} read; ` +
        `without it: round 0 summed over [${off.coordinator.roundBanks[0]!.join(', ')}], ${read} of ${truth.length} values read to 1e-5`,
    );
    expect(on.code).toBe('VFL_TOO_FEW_BANKS');
    expect(on.released).toBe(0);
    expect(off.coordinator.roundBanks[0]).toEqual(['bank-1']);
    expect(read).toBe(truth.length);
  }, 240_000);

  it('a job of one bank is refused by the platform and the coordinator', async () => {
    const { pairs } = hybridSplit(2, 400);
    const one = new Map([...pairs].slice(0, 1));
    // secagg refuses a single bank first; the roles refuse on their own too.
    await expect(hybridLrInMemory({ job: 'hybrid-one', pairs: one })).rejects.toMatchObject({ code: 'SECAGG_BAD_CONFIG' });
    const config = vflConfig('hybrid-one');
    const ckks = await createCkks(config.params);
    expect(() => new HybridPlatform(ckks, new Map([['bank-1', one.get('bank-1')!.platform]]), 14, config)).toThrow(expect.objectContaining({ code: 'VFL_TOO_FEW_BANKS' }));
    expect(() => new HybridCoordinator(ckks, ['bank-1'], { rows: 1, events: 0, gram: new Float64Array(1) }, config, cryptoRng)).toThrow(expect.objectContaining({ code: 'VFL_TOO_FEW_BANKS' }));
  }, 60_000);
});
