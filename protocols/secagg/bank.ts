/**
 * A bank in `secagg`: for the job, two X25519 key pairs and the pairwise keys agreed from them; for
 * each round, one input vector and a fresh self-mask seed. Stages: advertise → share → ready, then
 * per round (ready →) mask → unmask → ready. A bank left out of a round's survivors never gets
 * back to `ready`: it is out of the job. Any other message in a stage is refused with a coded error.
 */
import { IndomainError } from '../../engine/errors.ts';
import type { Rng } from '../../engine/rng.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { accept, checkRound, context, envelope, keyStatement, MIN_BANKS_FOR_RELEASE, pairKey, pointOf, selfMask, SETUP_ROUND, subsetOf, type PairKey, type SecAggConfig } from './common.ts';
import { addRoundMask, agree, decodeFixed, encodeFixed, keyPair, open, ringAdd, seal, shareNonce, split, verifySignature, type KeyPair } from './crypto.ts';

export type BankStage = 'advertise' | 'share' | 'ready' | 'mask' | 'unmask';
const EXPECTS: Record<BankStage, string> = { advertise: 'KeyList', share: 'Shares', ready: '', mask: 'Survivors', unmask: 'Result' };
const SECRET = 32;

const contexts = new WeakMap<SecAggConfig, Map<string, string>>();

/**
 * Associated data of a sealed share: the job, the purpose, sender and receiver (JSON, so
 * unambiguous), then the round. Built once per pair: a round seals and opens n − 1 shares per bank.
 */
export function shareContext(config: SecAggConfig, round: number, from: string, to: string): string {
  let byPair = contexts.get(config);
  if (!byPair) contexts.set(config, (byPair = new Map()));
  const k = `${from}\u0000${to}`;
  let base = byPair.get(k);
  if (base === undefined) byPair.set(k, (base = context(config, 'share', from, to)));
  return `${base}#${round}`;
}

export class SecAggBank implements Party {
  stage: BankStage = 'advertise';
  /** The round in progress or last finished (0: the key set-up). */
  round = SETUP_ROUND;
  /**
   * The last round's sum and the banks it covers, once the coordinator has sent it; `sum` is
   * undefined when the round covered fewer than MIN_BANKS_FOR_RELEASE banks (withheld).
   */
  result: { round: number; sum: Float64Array | undefined; banks: string[] } | undefined;
  private readonly sealPair: KeyPair;
  private readonly maskPair: KeyPair;
  private keys = new Map<string, { seal: Uint8Array; mask: Uint8Array }>();
  private readonly sealKeys = new Map<string, Uint8Array>();
  /** Members whose mask key no one has revealed a share of: the banks this one masks with. */
  private live: string[] = [];
  private readonly pairs = new Map<string, PairKey>();
  /** This bank's share of each member's mask secret key (its own included). */
  private readonly keyShares = new Map<string, Uint8Array>();
  /** This round: the input length, and this bank's share of its own self-mask seed. */
  private length = 0;
  private ownSeedShare: Uint8Array = new Uint8Array(0);

  constructor(
    readonly name: string,
    private readonly config: SecAggConfig,
    /** This bank's secret randomness (keys, seeds, share polynomials, nonces). */
    private readonly rng: Rng,
    /**
     * FOR THE ATTACK TESTS ONLY (tests/attacks/secagg-coordinator.test.ts): `noSelfMask` leaves the
     * self-mask out (a coordinator that calls a bank dropped after its masked input arrived rebuilds
     * its pairwise masks and reads its input); `forgetRevealed` keeps masking with, and revealing
     * seed shares of, a bank whose mask key this bank has revealed a share of; `noSeal`
     * (tests/attacks/secagg-eavesdropper.test.ts) sends shares unsealed through the coordinator;
     * `trustKeyList` (tests/attacks/secagg-key-substitution.test.ts) takes the KeyList's keys
     * without checking the banks' signatures.
     */
    private readonly unsafe: { noSelfMask?: boolean; forgetRevealed?: boolean; noSeal?: boolean; trustKeyList?: boolean } = {},
    /** Signs with this bank's node identity (required when the configuration lists identities). */
    private readonly sign?: (data: Uint8Array) => Uint8Array,
  ) {
    pointOf(config, name);
    if (config.identities && !sign) throw new IndomainError('SECAGG_BAD_CONFIG', `bank "${name}" has no identity key to sign with`, { field: 'identities' });
    this.sealPair = keyPair(rng);
    this.maskPair = keyPair(rng);
  }

  get done(): boolean {
    return this.stage === 'ready';
  }

  /** The members this bank still masks with (the job's members less those dropped). */
  members(): string[] {
    return [...this.live];
  }

  start(): Envelope[] {
    const { public: sealKey } = this.sealPair;
    const { public: maskKey } = this.maskPair;
    const signature = this.config.identities ? this.sign!(keyStatement(this.config, this.name, sealKey, maskKey)) : new Uint8Array(0);
    return [this.send(SETUP_ROUND, 'AdvertiseKeys', { sealKey, maskKey, signature })];
  }

  receive(env: Envelope): Envelope[] {
    if (env.from !== this.config.coordinator) throw new IndomainError('SECAGG_BAD_MESSAGE', `${env.type} from "${env.from}", not the coordinator`);
    accept(env, this.config, this.round, this.stage, EXPECTS[this.stage]);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'KeyList':
        return this.onKeyList(b.banks, b.sealKeys, b.maskKeys, b.signatures);
      case 'Shares':
        return this.onShares(b.banks, b.sealed);
      case 'Survivors':
        return this.onSurvivors(b.banks, b.sealed);
      default:
        return this.onResult(b.sum, b.banks);
    }
  }

  /**
   * Start aggregation round `round` (1, 2, …, increasing) with this bank's input: its masked input
   * and, sealed for each other live member, Shamir shares of a fresh self-mask seed.
   */
  submit(round: number, input: Float64Array): Envelope[] {
    checkRound(round);
    if (this.stage !== 'ready') throw new IndomainError('SECAGG_WRONG_STAGE', `round ${round} submitted in stage "${this.stage}" (expects ready)`, { field: 'round' });
    if (round <= this.round) throw new IndomainError('SECAGG_WRONG_STAGE', `round ${round} after round ${this.round}: rounds only increase`, { field: 'round' });
    this.enough(this.live.length, 'live members');
    const encoded = encodeFixed(input, this.config.fractionBits, this.config.banks.length);
    this.round = round;
    this.length = input.length;
    const seed = this.rng.bytes(SECRET);
    const shares = split(seed, this.config.banks.length, this.config.threshold, this.rng);
    const to: string[] = [];
    const sealed: Uint8Array[] = [];
    for (const bank of this.live) {
      const share = shares[pointOf(this.config, bank) - 1]!.y;
      if (bank === this.name) {
        this.ownSeedShare = share;
        continue;
      }
      to.push(bank);
      sealed.push(this.sealShare(bank, round, share));
    }
    // y = x + PRG(seed) + Σ_v ±PRG(k_uv, round) over every other live member.
    const y = encoded;
    if (!this.unsafe.noSelfMask) {
      const self = selfMask(seed, y.length);
      for (let i = 0; i < y.length; i++) y[i] = ringAdd(y[i]!, self[i]!);
    }
    for (const bank of this.live) {
      if (bank === this.name) continue;
      const { sign, key } = this.pairs.get(bank)!;
      addRoundMask(y, key, round, sign);
    }
    this.stage = 'mask';
    return [this.send(round, 'MaskedInput', { masked: y, to, sealed })];
  }

  /** The key this bank and `bank` seal shares under (one agreement serves both directions and every round). */
  private sealKey(bank: string): Uint8Array {
    let key = this.sealKeys.get(bank);
    if (!key) {
      key = agree(this.sealPair.secret, this.keys.get(bank)!.seal, context(this.config, 'seal', ...[this.name, bank].sort()));
      this.sealKeys.set(bank, key);
    }
    return key;
  }

  /** A share for `bank`, sealed under the key only the two of them agree (AES-256-GCM). */
  private sealShare(bank: string, round: number, share: Uint8Array): Uint8Array {
    if (this.unsafe.noSeal) return share.slice();
    return seal(this.sealKey(bank), share, shareContext(this.config, round, this.name, bank), shareNonce(round, pointOf(this.config, this.name) < pointOf(this.config, bank)));
  }

  /**
   * Opens the share `bank` sealed for this bank. One that does not authenticate (tampered by its
   * sender or the relay: this bank cannot tell which) stops the round here, named by its position:
   * skipping it would let a relay that corrupts an honest bank's share get both kinds of share of it.
   */
  private openShare(bank: string, round: number, sealed: Uint8Array, position: number): Uint8Array {
    if (this.unsafe.noSeal) return sealed.slice();
    try {
      return open(this.sealKey(bank), sealed, shareContext(this.config, round, bank, this.name));
    } catch (e) {
      if (e instanceof IndomainError) throw new IndomainError(e.code, `share ${position} does not open`, { field: `sealed[${position}]` });
      throw e;
    }
  }

  private send(round: number, type: string, body: Record<string, unknown>): Envelope {
    return envelope(this.config, round, type, this.name, this.config.coordinator, body);
  }

  private enough(count: number, what: string): void {
    if (count < this.config.threshold) {
      throw new IndomainError('SECAGG_BELOW_THRESHOLD', `${count} ${what}, the threshold is ${this.config.threshold}`, { field: 'banks' });
    }
  }

  private onKeyList(banks: string[], sealKeys: Uint8Array[], maskKeys: Uint8Array[], signatures: Uint8Array[]): Envelope[] {
    const members = subsetOf(this.config, banks, this.config.banks, 'banks');
    if (members.join() !== banks.join() || sealKeys.length !== banks.length || maskKeys.length !== banks.length || signatures.length !== banks.length) {
      throw new IndomainError('SECAGG_BAD_MESSAGE', 'the key list must give both keys of each bank, in the configured order', { field: 'banks' });
    }
    const me = banks.indexOf(this.name);
    if (me < 0 || !Buffer.from(sealKeys[me]!).equals(Buffer.from(this.sealPair.public)) || !Buffer.from(maskKeys[me]!).equals(Buffer.from(this.maskPair.public))) {
      throw new IndomainError('SECAGG_BAD_MESSAGE', 'the key list does not hold this bank with its own keys', { field: 'banks' });
    }
    this.enough(banks.length, 'banks advertised keys');
    // Keys the coordinator relays are a bank's only if that bank signed them: a substituted key
    // would let the relay open every share sealed under it.
    const identities = this.config.identities;
    if (identities && !this.unsafe.trustKeyList) {
      banks.forEach((bank, i) => {
        if (!verifySignature(identities[bank]!, keyStatement(this.config, bank, sealKeys[i]!, maskKeys[i]!), signatures[i]!)) {
          throw new IndomainError('SECAGG_BAD_MESSAGE', `the keys of bank ${i} of the list are not signed by it`, { field: `signatures[${i}]` });
        }
      });
    }
    banks.forEach((bank, i) => this.keys.set(bank, { seal: sealKeys[i]!, mask: maskKeys[i]! }));
    // Shares at every configured point, so a bank's point does not depend on who advertised.
    const shares = split(this.maskPair.secret, this.config.banks.length, this.config.threshold, this.rng);
    const to: string[] = [];
    const sealed: Uint8Array[] = [];
    for (const bank of banks) {
      const share = shares[pointOf(this.config, bank) - 1]!.y;
      if (bank === this.name) {
        this.keyShares.set(bank, share);
        continue;
      }
      to.push(bank);
      sealed.push(this.sealShare(bank, SETUP_ROUND, share));
    }
    this.stage = 'share';
    return [this.send(SETUP_ROUND, 'ShareKeys', { to, sealed })];
  }

  private onShares(banks: string[], sealed: Uint8Array[]): Envelope[] {
    const senders = subsetOf(this.config, banks, [...this.keys.keys()], 'banks');
    if (senders.join() !== banks.join() || sealed.length !== banks.length || !banks.includes(this.name)) {
      throw new IndomainError('SECAGG_BAD_MESSAGE', 'the shares must list this bank and each sender once, in the configured order', { field: 'banks' });
    }
    this.enough(banks.length, 'banks sent shares');
    banks.forEach((bank, i) => {
      if (bank === this.name) return;
      const plain = this.openShare(bank, SETUP_ROUND, sealed[i]!, i);
      if (plain.length !== SECRET) throw new IndomainError('SECAGG_BAD_MESSAGE', `share from ${bank} of ${plain.length} bytes`, { field: 'sealed' });
      this.keyShares.set(bank, plain);
      this.pairs.set(bank, pairKey(this.config, this.maskPair.secret, this.name, this.keys.get(bank)!.mask, bank));
    });
    this.live = banks;
    this.stage = 'ready';
    return [];
  }

  private onSurvivors(banks: string[], sealed: Uint8Array[]): Envelope[] {
    const survivors = subsetOf(this.config, banks, this.live, 'banks');
    if (survivors.join() !== banks.join() || sealed.length !== banks.length || !survivors.includes(this.name)) {
      throw new IndomainError('SECAGG_BAD_MESSAGE', 'the survivor list must hold this bank and live members only, once each, in the configured order, each with its sealed seed share', { field: 'banks' });
    }
    this.enough(survivors.length, 'banks sent masked inputs');
    const seedShares = new Map<string, Uint8Array>([[this.name, this.ownSeedShare]]);
    banks.forEach((bank, i) => {
      if (bank === this.name) return;
      const plain = this.openShare(bank, this.round, sealed[i]!, i);
      if (plain.length !== SECRET) throw new IndomainError('SECAGG_BAD_MESSAGE', `seed share from ${bank} of ${plain.length} bytes`, { field: 'sealed' });
      seedShares.set(bank, plain);
    });
    // For a survivor its seed share of this round, for a dropped member its mask-key share: never
    // both in a job, because a dropped member is never live again.
    const names: string[] = [];
    const kinds: string[] = [];
    const shares: Uint8Array[] = [];
    for (const bank of this.live) {
      const survived = survivors.includes(bank);
      names.push(bank);
      kinds.push(survived ? 'seed' : 'key');
      shares.push(survived ? seedShares.get(bank)! : this.keyShares.get(bank)!);
    }
    if (!this.unsafe.forgetRevealed) this.live = survivors;
    this.stage = 'unmask';
    return [this.send(this.round, 'Unmask', { banks: names, kinds, shares })];
  }

  private onResult(sum: Float64Array, banks: string[]): Envelope[] {
    subsetOf(this.config, banks, this.config.banks, 'banks');
    const withheld = sum.length === 0 && banks.length < MIN_BANKS_FOR_RELEASE;
    if (!withheld && sum.length !== this.length) throw new IndomainError('SECAGG_BAD_MESSAGE', `sum of ${sum.length} values, ${this.length} expected`, { field: 'sum' });
    this.result = { round: this.round, sum: withheld ? undefined : sum, banks };
    this.stage = 'ready';
    return [];
  }

  /** The fixed-point value an input contributes (what the sum holds for it), for checks. */
  contribution(input: Float64Array): Float64Array {
    return decodeFixed(encodeFixed(input, this.config.fractionBits, this.config.banks.length), this.config.fractionBits);
  }
}
