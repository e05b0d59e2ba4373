/**
 * Attack: a bank reads another bank's input from the traffic the coordinator relays.
 *
 * Every share of a bank's mask key (set-up) and of its seed (each round) travels through the
 * coordinator, one share for each other bank. A bank that reads everything the coordinator relays
 * (its traffic, or a ledger that keeps message bodies) would hold every share of the victim's mask
 * key and seed, and the victim's masked input: it rebuilds both and strips every mask. Defence:
 * each share is sealed (AES-256-GCM) under a key only its sender and its receiver agree (X25519),
 * so the attacker opens only the shares addressed to itself, one per secret, below the threshold.
 * With sealing switched off (a test-only option of the banks), the attacker reads the victim's input.
 */
import { describe, expect, it } from 'vitest';
import { seededRng } from '../../engine/rng.ts';
import { pairKey, pointOf } from '../../protocols/secagg/common.ts';
import { addRoundMask, combine, decodeFixed, expandMask, ringSub, type Share } from '../../protocols/secagg/crypto.ts';
import { SecAggJob, secAggConfig } from '../../protocols/secagg/protocol.ts';

const BANKS = ['bank-1', 'bank-2', 'bank-3', 'bank-4', 'bank-5'];
const ATTACKER = 'bank-1';
const VICTIM = 'bank-2';
const LENGTH = 201;

async function eavesdrop(sealed: boolean) {
  const config = secAggConfig({ job: `sa-eavesdrop-${sealed}`, banks: BANKS, threshold: 3 });
  const job = new SecAggJob(config, undefined, { noSeal: !sealed });
  await job.setup();
  const r = seededRng('eavesdrop');
  const xs = new Map(BANKS.map((b) => [b, Float64Array.from({ length: LENGTH }, () => (r.next() - 0.5) * 100)]));
  await job.aggregate(1, xs);
  const log = job.transport.log;
  // Everything the coordinator relayed: public keys, sealed shares, masked inputs.
  const keyList = log.find((m) => m.type === 'KeyList')!.received.body;
  const maskKeys = new Map((keyList.banks as string[]).map((b, i) => [b, (keyList.maskKeys as Uint8Array[])[i]!]));
  /** The shares of the victim's secret addressed to other banks that the attacker can read: those that are 32 plain bytes. */
  const readable = (type: 'ShareKeys' | 'MaskedInput'): Share[] => {
    const m = log.find((e) => e.type === type && e.from === VICTIM && e.round === (type === 'ShareKeys' ? 0 : 1))!.received.body;
    return (m.to as string[]).flatMap((to, i) => {
      if (to === ATTACKER) return [];
      const bytes = (m.sealed as Uint8Array[])[i]!;
      return bytes.length === 32 ? [{ x: pointOf(config, to), y: bytes }] : [];
    });
  };
  const keyShares = readable('ShareKeys');
  const seedShares = readable('MaskedInput');
  const y = log.find((e) => e.type === 'MaskedInput' && e.from === VICTIM)!.received.body.masked as Float64Array;
  const truth = xs.get(VICTIM)!;
  let exact = 0;
  // Its own share of each secret (opened by its bank) adds one: 1 < 3 when the rest stay sealed.
  if (keyShares.length >= config.threshold && seedShares.length >= config.threshold) {
    const key = combine(keyShares);
    const seed = combine(seedShares);
    const guess = y.slice();
    for (const v of BANKS.filter((b) => b !== VICTIM)) {
      const { sign, key: k } = pairKey(config, key, VICTIM, maskKeys.get(v)!, v);
      addRoundMask(guess, k, 1, sign > 0 ? -1 : 1);
    }
    const self = expandMask(seed, LENGTH);
    for (let i = 0; i < LENGTH; i++) guess[i] = ringSub(guess[i]!, self[i]!);
    exact = decodeFixed(guess, config.fractionBits).filter((v, i) => Math.abs(v - truth[i]!) < 1e-6).length;
  }
  return { keyShares: keyShares.length, seedShares: seedShares.length, exact };
}

describe('attack: a bank reads another bank’s input from the relayed traffic', () => {
  it('sealed shares: the eavesdropping bank reads none of the victim’s 201 values; unsealed, all of them', async () => {
    const on = await eavesdrop(true);
    const off = await eavesdrop(false);
    console.log(
      `secagg eavesdropper (${ATTACKER} reads all relayed traffic, victim ${VICTIM}, threshold 3 of 5): sealed: ${on.keyShares} key and ${on.seedShares} seed shares readable beyond its own, ${on.exact} of ${LENGTH} values read; unsealed: ${off.keyShares} and ${off.seedShares}, ${off.exact} of ${LENGTH}`,
    );
    expect(on.keyShares).toBe(0);
    expect(on.seedShares).toBe(0);
    expect(on.exact).toBe(0);
    expect(off.exact).toBe(LENGTH);
  });
});
