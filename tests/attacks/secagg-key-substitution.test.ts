/**
 * Attack: the secure-aggregation coordinator substitutes keys in the KeyList it relays and reads a
 * bank's input.
 *
 * Banks never talk directly: each learns the others' public keys from the coordinator's KeyList. A
 * malicious coordinator gives the victim a list in which every other bank's seal and mask keys are
 * key pairs of its own. The victim then seals its key shares and its seed shares under keys the
 * coordinator agrees, and masks with pairwise keys the coordinator computes: it opens t seed
 * shares, rebuilds the self-mask, strips the pairwise masks and reads the input (the victim accepts
 * the coordinator's made-up shares of the others' keys, which it cannot check).
 *
 * Defence: every bank signs its advertised keys with its node identity (Ed25519, the job's
 * configured identities) and checks each bank's signature in the KeyList; the coordinator cannot
 * sign for another bank, so the victim refuses the list. Switched off (a test-only option of the
 * bank, `trustKeyList`), the attack reads every value.
 */
import { describe, expect, it } from 'vitest';
import { cryptoRng, seededRng } from '../../engine/rng.ts';
import type { Envelope } from '../../protocols/message.ts';
import { shareContext } from '../../protocols/secagg/bank.ts';
import { context, pairKey, pointOf, selfMask } from '../../protocols/secagg/common.ts';
import { addRoundMask, agree, combine, decodeFixed, keyPair, open, ringSub, seal, shareNonce, type Share } from '../../protocols/secagg/crypto.ts';
import { newIdentity, secAggConfig, SecAggBank } from '../../protocols/secagg/protocol.ts';

const BANKS = ['bank-1', 'bank-2', 'bank-3', 'bank-4'];
const VICTIM = 'bank-1';
const LENGTH = 201;

function attack(trustKeyList: boolean) {
  const ids = new Map(BANKS.map((b) => [b, newIdentity()]));
  const config = secAggConfig({ job: `sa-substitute-${trustKeyList}`, banks: BANKS, threshold: 3, identities: Object.fromEntries([...ids].map(([b, id]) => [b, id.publicKey])) });
  const banks = BANKS.map((b) => new SecAggBank(b, config, cryptoRng, b === VICTIM ? { trustKeyList } : {}, ids.get(b)!.sign));
  const victim = banks[0]!;
  const adverts = banks.map((b) => b.start()[0]!);
  const env = (type: string, round: number, body: Record<string, unknown>): Envelope => ({ job: config.job, protocol: 'secagg', type, round, from: 'coordinator', to: VICTIM, body });
  const victimSeal = adverts[0]!.body.sealKey as Uint8Array;
  const victimMask = adverts[0]!.body.maskKey as Uint8Array;

  // The coordinator's own key pairs in place of every other bank's; the genuine signatures kept.
  const others = BANKS.filter((b) => b !== VICTIM);
  const fake = new Map(others.map((b) => [b, { seal: keyPair(cryptoRng), mask: keyPair(cryptoRng) }]));
  const sealKey = (w: string) => agree(fake.get(w)!.seal.secret, victimSeal, context(config, 'seal', ...[VICTIM, w].sort()));
  const keyList = {
    banks: BANKS,
    sealKeys: BANKS.map((b) => (b === VICTIM ? victimSeal : fake.get(b)!.seal.public)),
    maskKeys: BANKS.map((b) => (b === VICTIM ? victimMask : fake.get(b)!.mask.public)),
    signatures: adverts.map((a) => a.body.signature),
  };
  let shareKeys: Envelope[];
  try {
    shareKeys = victim.receive(env('KeyList', 0, keyList));
  } catch (e) {
    const { code, location } = e as { code?: string; location?: { field?: string } };
    return { refused: `${code} at ${location?.field}`, read: 0, keySharesOpened: 0, seedSharesOpened: 0 };
  }
  // The victim's shares of its mask key, all opened.
  const sk = shareKeys[0]!.body as { to: string[]; sealed: Uint8Array[] };
  const keySharesOpened = sk.to.filter((w, i) => open(sealKey(w), sk.sealed[i]!, shareContext(config, 0, VICTIM, w)).length === 32).length;
  // Made-up shares of the others' keys, sealed so the victim opens them.
  const sealed = BANKS.map((w) => (w === VICTIM ? new Uint8Array(0) : seal(sealKey(w), cryptoRng.bytes(32), shareContext(config, 0, w, VICTIM), shareNonce(0, pointOf(config, w) < pointOf(config, VICTIM)))));
  victim.receive(env('Shares', 0, { banks: BANKS, sealed }));

  const r = seededRng('substitute');
  const x = Float64Array.from({ length: LENGTH }, (_, i) => (r.next() - 0.5) * 10 ** ((i % 7) - 2));
  const masked = victim.submit(1, x)[0]!.body as { masked: Float64Array; to: string[]; sealed: Uint8Array[] };
  const seedShares: Share[] = masked.to.map((w, i) => ({ x: pointOf(config, w), y: open(sealKey(w), masked.sealed[i]!, shareContext(config, 1, VICTIM, w)) }));
  const y = masked.masked.slice();
  const self = selfMask(combine(seedShares.slice(0, config.threshold)), LENGTH);
  for (let i = 0; i < LENGTH; i++) y[i] = ringSub(y[i]!, self[i]!);
  for (const w of others) {
    const { sign, key } = pairKey(config, fake.get(w)!.mask.secret, w, victimMask, VICTIM);
    addRoundMask(y, key, 1, sign);
  }
  const got = decodeFixed(y, config.fractionBits);
  const want = victim.contribution(x);
  return { refused: 'no', read: want.filter((v, i) => Math.abs(got[i]! - v) < 1e-12).length, keySharesOpened, seedSharesOpened: seedShares.length };
}

describe('attack: the secure-aggregation coordinator substitutes the banks’ keys', () => {
  it('signed keys: the victim refuses the key list, 0 of 201 values read; taken on trust, 201 of 201', () => {
    const on = attack(false);
    const off = attack(true);
    console.log(
      `secagg key substitution (victim bank-1, 4 banks, threshold 3): signed keys checked: KeyList refused (${on.refused}), ${on.read} of ${LENGTH} values read; ` +
        `taken on trust: ${off.keySharesOpened} key shares and ${off.seedSharesOpened} seed shares opened, ${off.read} of ${LENGTH} values read`,
    );
    expect(on.refused).toBe('SECAGG_BAD_MESSAGE at signatures[1]');
    expect(on.read).toBe(0);
    expect(off.read).toBe(LENGTH);
  });
});
