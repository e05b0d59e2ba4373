/**
 * Attacks on the hybrid consortium (protocols/consortium/hybrid.ts), run on its real messages.
 *
 * 1. The platform reads a bank's labels. Each bank's residual [[σ(z) − y]] and gradient part are
 *    computed from the platform's own basis ciphertexts; the platform solves for the multipliers
 *    (tests/helpers/ckks-span.ts, the attack of linear-span.test.ts), strips the residual to a
 *    ciphertext with c1 = 0 and decrypts it under a key of its own making. Defence: the bank
 *    re-randomises both before they leave it. Switched off (a test-only option of the bank), the
 *    platform reads every label.
 * 2. The coordinator reads one bank's gradient part. It holds the key, so whatever it receives for
 *    one bank alone it reads. Defence: the platform sums every bank's part under encryption before
 *    sending anything to it. Switched off (a test-only option of the platform: forward bank-1's part
 *    alone), the coordinator reads bank-1's round-0 gradient part; on, only the sum over banks.
 */
import { describe, expect, it } from 'vitest';
import { ones } from '../../engine/columns.ts';
import { cryptoRng } from '../../engine/rng.ts';
import { createCkks } from '../../protocols/he/ckks.ts';
import { logit, sigmoid } from '../../models/logistic.ts';
import { hybridLrInMemory } from '../../protocols/consortium/hybrid.ts';
import { hybridSplit } from '../helpers/consortium-data.ts';
import { attackResidual, sweep } from '../helpers/ckks-span.ts';

// 5,120 rows per bank, 4,096 of them training: one full chunk, where round 0's multipliers are constant polynomials.
const ROWS = 3 * 5120;

async function run(unsafe: { bankRerandomise?: boolean; forwardOneBank?: string }) {
  const { pairs } = hybridSplit(3, ROWS);
  const fed = await hybridLrInMemory({ job: `hybrid-attack-${JSON.stringify(unsafe)}`, pairs, config: { maxIterations: 1 }, rng: cryptoRng, unsafe });
  return { fed, pairs };
}

describe('attack: the platform reads a bank’s labels from the hybrid consortium', () => {
  it('re-randomised residuals: the platform reads no better than the majority guess; without re-randomisation, every label', async () => {
    const ckks = await createCkks('ckks-n8192-l1');
    const outcome = async (rerandomise: boolean) => {
      const { fed, pairs } = await run({ bankRerandomise: rerandomise });
      const basis = fed.transport.log.find((r) => r.type === 'PairBasis' && r.to === 'bank-1' && r.round === 0)!.received.body.basis as Uint8Array[][];
      const residual = fed.transport.log.find((r) => r.type === 'PairResidual' && r.from === 'bank-1' && r.round === 0)!.received.body.chunks as Uint8Array[];
      const labels = pairs.get('bank-1')!.y;
      const attack = attackResidual(ckks, basis, residual, labels);
      const swept = sweep(ckks, fed.transport.log);
      const events = labels.reduce((s, y) => s + y, 0);
      return { ...attack, majority: Math.max(events, labels.length - events), swept };
    };
    const on = await outcome(true);
    const off = await outcome(false);
    const spanOf = (s: typeof on.swept, type: string) => `${s.inSpan[`platform<-consortium-hybrid/${type}`] ?? 0} of ${s.checked[`platform<-consortium-hybrid/${type}`] ?? 0}`;
    console.log(
      `hybrid platform label attack (bank-1, ${on.rows} rows): re-randomised: ${on.chunksInSpan} of ${on.chunks} residual chunks in span, ${on.recovered} labels read (majority guess ${on.majority}); ` +
        `residuals in span ${spanOf(on.swept, 'PairResidual')}, gradient parts ${spanOf(on.swept, 'BankGradient')}. ` +
        `Off: ${off.chunksInSpan} of ${off.chunks} chunks, ${off.recovered} of ${off.rows} labels read; residuals in span ${spanOf(off.swept, 'PairResidual')}, gradient parts ${spanOf(off.swept, 'BankGradient')}`,
    );
    expect(on.chunksInSpan).toBe(0);
    expect(on.recovered).toBe(0);
    expect(Object.keys(on.swept.inSpan)).toEqual([]);
    expect(off.chunksInSpan).toBe(off.chunks);
    expect(off.recovered).toBe(off.rows);
  }, 240_000);
});

describe('attack: the coordinator reads one bank’s gradient part in the hybrid consortium', () => {
  it('summed under encryption by the platform: none of bank-1’s values read; forwarded alone, all of them', async () => {
    const read = async (forwardOneBank?: string) => {
      const { fed, pairs } = await run(forwardOneBank ? { forwardOneBank } : {});
      // What the coordinator released to its optimiser in round 0, against bank-1's true part at
      // the round-0 model (intercept logit of the pooled event rate, every other weight 0).
      const released = fed.coordinator.releasedBankParts[0]!;
      const rows = [...pairs.values()].reduce((s, p) => s + p.y.length, 0);
      const events = [...pairs.values()].reduce((s, p) => s + p.y.reduce((a, y) => a + y, 0), 0);
      const p0 = sigmoid(logit(events / rows));
      const own = pairs.get('bank-1')!;
      const design = [ones(own.y.length), ...own.bank];
      const truth = design.map((col) => col.reduce((s, x, i) => s + x * (p0 - own.y[i]!), 0) / rows);
      const tolerance = 1e-5;
      return { values: truth.length, exact: truth.filter((t, j) => Math.abs(released[j]! - t) < tolerance).length, largest: Math.max(...truth.map(Math.abs)) };
    };
    const on = await read();
    const off = await read('bank-1');
    console.log(`hybrid coordinator attack: bank-1's round-0 gradient part (${on.values} values, largest |g| ${on.largest.toExponential(2)}), read to 1e-5: summed ${on.exact} of ${on.values}; forwarded alone ${off.exact} of ${off.values}`);
    expect(on.exact).toBe(0);
    expect(off.exact).toBe(off.values);
  }, 240_000);
});
