/**
 * A bank in `secagg`: holds one input vector, and for this aggregation two X25519 key pairs and a
 * self-mask seed, all fresh. Stages: advertise → share → mask → unmask → done; any other message in
 * a stage is refused with a coded error.
 */
import { IndomainError } from '../../engine/errors.ts';
import type { Rng } from '../../engine/rng.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { accept, context, envelope, pairMask, pointOf, selfMask, subsetOf, type SecAggConfig } from './common.ts';
import { agree, decodeFixed, encodeFixed, keyPair, open, ringAdd, ringSub, seal, split, type KeyPair } from './crypto.ts';

type Stage = 'advertise' | 'share' | 'mask' | 'unmask' | 'done';
const EXPECTS: Record<Stage, string> = { advertise: 'KeyList', share: 'Shares', mask: 'Survivors', unmask: 'Result', done: '' };
const SECRET = 32;

export class SecAggBank implements Party {
  stage: Stage = 'advertise';
  /** The sum and the banks it covers, once the coordinator has sent it. */
  result: { sum: Float64Array; banks: string[] } | undefined;
  private readonly sealPair: KeyPair;
  private readonly maskPair: KeyPair;
  private readonly seed: Uint8Array;
  private readonly encoded: Float64Array;
  private keys = new Map<string, { seal: Uint8Array; mask: Uint8Array }>();
  /** The shares this bank holds, of each bank's mask secret key and self-mask seed (its own included). */
  private readonly held = new Map<string, { key: Uint8Array; seed: Uint8Array }>();
  private shareSenders: string[] = [];
  private readonly sealKeys = new Map<string, Uint8Array>();

  constructor(
    readonly name: string,
    private readonly config: SecAggConfig,
    input: Float64Array,
    /** This bank's secret randomness (keys, seed, share polynomials, nonces). */
    private readonly rng: Rng,
    /**
     * FOR THE ATTACK TESTS ONLY (tests/attacks/secagg-coordinator.test.ts): without the self-mask, a
     * coordinator that calls a bank dropped after its masked input arrived rebuilds its pairwise
     * masks and reads its input.
     */
    private readonly unsafe: { noSelfMask?: boolean } = {},
  ) {
    pointOf(config, name);
    if (input.length !== config.length) {
      throw new IndomainError('SECAGG_BAD_CONFIG', `input of ${input.length} values, the aggregation sums ${config.length}`, { field: 'input' });
    }
    this.encoded = encodeFixed(input, config.fractionBits, config.banks.length);
    this.sealPair = keyPair(rng);
    this.maskPair = keyPair(rng);
    this.seed = rng.bytes(SECRET);
  }

  get done(): boolean {
    return this.stage === 'done';
  }

  start(): Envelope[] {
    return [this.send('AdvertiseKeys', { sealKey: this.sealPair.public, maskKey: this.maskPair.public })];
  }

  receive(env: Envelope): Envelope[] {
    if (env.from !== this.config.coordinator) throw new IndomainError('SECAGG_BAD_MESSAGE', `${env.type} from "${env.from}", not the coordinator`);
    accept(env, this.config, this.stage, EXPECTS[this.stage]);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'KeyList':
        return this.onKeyList(b.banks, b.sealKeys, b.maskKeys);
      case 'Shares':
        return this.onShares(b.banks, b.sealed);
      case 'Survivors':
        return this.onSurvivors(b.banks);
      default:
        return this.onResult(b.sum, b.banks);
    }
  }

  /** The key this bank and `bank` seal shares under (one agreement serves both directions). */
  private sealKey(bank: string): Uint8Array {
    let key = this.sealKeys.get(bank);
    if (!key) {
      key = agree(this.sealPair.secret, this.keys.get(bank)!.seal, context(this.config, 'seal', ...[this.name, bank].sort()));
      this.sealKeys.set(bank, key);
    }
    return key;
  }

  private send(type: string, body: Record<string, unknown>): Envelope {
    return envelope(this.config, type, this.name, this.config.coordinator, body);
  }

  private enough(count: number, what: string): void {
    if (count < this.config.threshold) {
      throw new IndomainError('SECAGG_BELOW_THRESHOLD', `${count} ${what}, the threshold is ${this.config.threshold}`, { field: 'banks' });
    }
  }

  private onKeyList(banks: string[], sealKeys: Uint8Array[], maskKeys: Uint8Array[]): Envelope[] {
    const members = subsetOf(this.config, banks, this.config.banks, 'banks');
    if (members.join() !== banks.join() || sealKeys.length !== banks.length || maskKeys.length !== banks.length) {
      throw new IndomainError('SECAGG_BAD_MESSAGE', 'the key list must give both keys of each bank, in the configured order', { field: 'banks' });
    }
    const me = banks.indexOf(this.name);
    if (me < 0 || !Buffer.from(sealKeys[me]!).equals(Buffer.from(this.sealPair.public)) || !Buffer.from(maskKeys[me]!).equals(Buffer.from(this.maskPair.public))) {
      throw new IndomainError('SECAGG_BAD_MESSAGE', 'the key list does not hold this bank with its own keys', { field: 'banks' });
    }
    this.enough(banks.length, 'banks advertised keys');
    banks.forEach((bank, i) => this.keys.set(bank, { seal: sealKeys[i]!, mask: maskKeys[i]! }));
    // Shares at every configured point, so a bank's point does not depend on who advertised.
    const n = this.config.banks.length;
    const keyShares = split(this.maskPair.secret, n, this.config.threshold, this.rng);
    const seedShares = split(this.seed, n, this.config.threshold, this.rng);
    const to: string[] = [];
    const sealed: Uint8Array[] = [];
    for (const bank of banks) {
      const x = pointOf(this.config, bank) - 1;
      const plain = new Uint8Array(2 * SECRET);
      plain.set(keyShares[x]!.y, 0);
      plain.set(seedShares[x]!.y, SECRET);
      if (bank === this.name) {
        this.held.set(bank, { key: keyShares[x]!.y, seed: seedShares[x]!.y });
        continue;
      }
      const key = this.sealKey(bank);
      to.push(bank);
      sealed.push(seal(key, plain, context(this.config, 'share', this.name, bank), this.rng));
    }
    this.stage = 'share';
    return [this.send('ShareKeys', { to, sealed })];
  }

  private onShares(banks: string[], sealed: Uint8Array[]): Envelope[] {
    const senders = subsetOf(this.config, banks, [...this.keys.keys()], 'banks');
    if (senders.join() !== banks.join() || sealed.length !== banks.length || !banks.includes(this.name)) {
      throw new IndomainError('SECAGG_BAD_MESSAGE', 'the shares must list this bank and each sender once, in the configured order', { field: 'banks' });
    }
    this.enough(banks.length, 'banks sent shares');
    banks.forEach((bank, i) => {
      if (bank === this.name) return;
      const key = this.sealKey(bank);
      const plain = open(key, sealed[i]!, context(this.config, 'share', bank, this.name));
      if (plain.length !== 2 * SECRET) throw new IndomainError('SECAGG_BAD_MESSAGE', `share from ${bank} of ${plain.length} bytes`, { field: 'sealed' });
      this.held.set(bank, { key: plain.slice(0, SECRET), seed: plain.slice(SECRET) });
    });
    this.shareSenders = banks;
    // y = x + PRG(seed) + Σ_v ±PRG(pair(v)) over every other bank that sent shares.
    const y = this.encoded.slice();
    if (!this.unsafe.noSelfMask) {
      const self = selfMask(this.config, this.seed);
      for (let i = 0; i < y.length; i++) y[i] = ringAdd(y[i]!, self[i]!);
    }
    for (const bank of banks) {
      if (bank === this.name) continue;
      const { sign, mask } = pairMask(this.config, this.maskPair.secret, this.name, this.keys.get(bank)!.mask, bank);
      for (let i = 0; i < y.length; i++) y[i] = sign > 0 ? ringAdd(y[i]!, mask[i]!) : ringSub(y[i]!, mask[i]!);
    }
    this.stage = 'mask';
    return [this.send('MaskedInput', { masked: y })];
  }

  private onSurvivors(banks: string[]): Envelope[] {
    const survivors = subsetOf(this.config, banks, this.shareSenders, 'banks');
    if (!survivors.includes(this.name)) throw new IndomainError('SECAGG_BAD_MESSAGE', 'the survivor list does not hold this bank', { field: 'banks' });
    this.enough(survivors.length, 'banks sent masked inputs');
    // For a survivor its self-mask seed share, for a dropped bank its mask-key share: never both.
    const names: string[] = [];
    const kinds: string[] = [];
    const shares: Uint8Array[] = [];
    for (const bank of this.shareSenders) {
      const held = this.held.get(bank)!;
      const survived = survivors.includes(bank);
      names.push(bank);
      kinds.push(survived ? 'seed' : 'key');
      shares.push(survived ? held.seed : held.key);
    }
    this.stage = 'unmask';
    return [this.send('Unmask', { banks: names, kinds, shares })];
  }

  private onResult(sum: Float64Array, banks: string[]): Envelope[] {
    if (sum.length !== this.config.length) throw new IndomainError('SECAGG_BAD_MESSAGE', `sum of ${sum.length} values, ${this.config.length} expected`, { field: 'sum' });
    this.result = { sum, banks };
    this.stage = 'done';
    return [];
  }

  /** The fixed-point value this bank contributes (what the sum holds for it), for checks. */
  contribution(): Float64Array {
    return decodeFixed(this.encoded, this.config.fractionBits);
  }
}
