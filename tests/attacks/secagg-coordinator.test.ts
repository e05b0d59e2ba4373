/**
 * Attack: the coordinator of a secure aggregation reads one bank's input.
 *
 * The coordinator holds every masked input y_u = x_u + PRG(b_u) + Σ_v ±PRG(s_uv). Its best move in
 * Bonawitz et al.'s protocol: after the victim's masked input has arrived, tell the other banks
 * that the victim dropped out. They answer with their shares of the victim's mask key, so the
 * coordinator rebuilds every pairwise mask of the victim and strips them from y_u. What remains is
 * x_u + PRG(b_u): the self-mask (double masking) is the defence, and the banks never reveal shares of
 * both the mask key and the self-mask seed of one bank. With the self-mask switched off (a test-only
 * option of the bank), the same attack reads x_u exactly.
 *
 * Also tried: reading x_u straight from y_u, and from the sum minus the other banks' masked inputs.
 */
import { describe, expect, it } from 'vitest';
import { cryptoRng, seededRng } from '../../engine/rng.ts';
import type { Envelope } from '../../protocols/message.ts';
import { combine, decodeFixed, ringAdd, ringSub } from '../../protocols/secagg/crypto.ts';
import { pairMask, pointOf } from '../../protocols/secagg/common.ts';
import { secAggConfig, SecAggBank } from '../../protocols/secagg/protocol.ts';

const BANKS = ['bank-1', 'bank-2', 'bank-3'];
const LENGTH = 201;

interface Outcome {
  /** Values of the victim's input the coordinator read to within 1e-6 (of LENGTH). */
  exact: number;
  /** Same, straight from the victim's masked input. */
  fromMasked: number;
}

/**
 * A coordinator that runs the protocol honestly until the masked inputs are in, then lies about the
 * victim in the survivor list, and tries to read the victim's input.
 */
function attack(selfMask: boolean): Outcome {
  const config = secAggConfig({ job: `sa-attack-${selfMask}`, banks: BANKS, length: LENGTH, threshold: 2 });
  const r = seededRng('secagg-attack');
  const xs = new Map(BANKS.map((b) => [b, Float64Array.from({ length: LENGTH }, () => (r.next() - 0.5) * 100)]));
  const banks = BANKS.map((b) => new SecAggBank(b, config, xs.get(b)!, cryptoRng, { noSelfMask: !selfMask }));
  const bank = (name: string) => banks.find((b) => b.name === name)!;
  const send = (envs: Envelope[]) => envs.map((e) => bank(e.to).receive(e)[0]!);

  // Stage 1–3 as an honest coordinator would relay them (this is what it receives).
  const adverts = banks.map((b) => b.start()[0]!);
  const keys = new Map(adverts.map((a) => [a.from, { seal: a.body.sealKey as Uint8Array, mask: a.body.maskKey as Uint8Array }]));
  const keyList = { banks: BANKS, sealKeys: BANKS.map((b) => keys.get(b)!.seal), maskKeys: BANKS.map((b) => keys.get(b)!.mask) };
  const shareKeys = send(BANKS.map((b) => ({ job: config.job, protocol: 'secagg', type: 'KeyList', round: 0, from: 'coordinator', to: b, body: keyList })));
  const sealedFor = (to: string) =>
    BANKS.map((from) => {
      if (from === to) return new Uint8Array(0);
      const m = shareKeys.find((e) => e.from === from)!;
      return (m.body.sealed as Uint8Array[])[(m.body.to as string[]).indexOf(to)]!;
    });
  const masked = send(BANKS.map((b) => ({ job: config.job, protocol: 'secagg', type: 'Shares', round: 0, from: 'coordinator', to: b, body: { banks: BANKS, sealed: sealedFor(b) } })));
  const y = new Map(masked.map((m) => [m.from, m.body.masked as Float64Array]));

  // The lie: bank-1 "dropped". The others reveal their shares of its mask key.
  const victim = 'bank-1';
  const others = BANKS.filter((b) => b !== victim);
  const unmask = send(others.map((b) => ({ job: config.job, protocol: 'secagg', type: 'Survivors', round: 0, from: 'coordinator', to: b, body: { banks: others } })));
  const keyShares = unmask.map((m) => {
    const i = (m.body.banks as string[]).indexOf(victim);
    expect((m.body.kinds as string[])[i]).toBe('key');
    return { x: pointOf(config, m.from), y: (m.body.shares as Uint8Array[])[i]! };
  });
  const victimKey = combine(keyShares);
  // Strip the victim's pairwise masks from its own masked input.
  const stripped = y.get(victim)!.slice();
  for (const v of others) {
    const { sign, mask } = pairMask(config, victimKey, victim, keys.get(v)!.mask, v);
    for (let i = 0; i < LENGTH; i++) stripped[i] = sign > 0 ? ringSub(stripped[i]!, mask[i]!) : ringAdd(stripped[i]!, mask[i]!);
  }
  const truth = xs.get(victim)!;
  const count = (guess: Float64Array) => decodeFixed(guess, config.fractionBits).filter((v, i) => Math.abs(v - truth[i]!) < 1e-6).length;
  return { exact: count(stripped), fromMasked: count(y.get(victim)!) };
}

describe('attack: the secure-aggregation coordinator reads one bank’s input', () => {
  it('with double masking the coordinator reads none of the victim’s 201 values; without the self-mask, all of them', () => {
    const on = attack(true);
    const off = attack(false);
    console.log(`secagg coordinator attack: self-mask on: ${on.exact} of ${LENGTH} values read (${on.fromMasked} from the masked input alone); off: ${off.exact} of ${LENGTH}`);
    expect(on.exact).toBe(0);
    expect(on.fromMasked).toBe(0);
    expect(off.exact).toBe(LENGTH);
  });
});
