/**
 * The coordinator in `secagg`: relays keys and sealed shares, collects masked inputs and the shares
 * that remove the masks, and outputs each round's sum. It holds no key that opens a share and never
 * gets both kinds of share for one bank.
 *
 * Each stage closes when every bank expected in it has answered, or when {@link deadline} is called
 * (the driver's timer: the banks that have not answered by then have dropped out). A stage that
 * would close with fewer banks than the threshold stays open and {@link deadline} throws
 * SECAGG_BELOW_THRESHOLD: nothing received is lost, and answers arriving later let a later
 * `deadline` close it (resume).
 */
import { IndomainError } from '../../engine/errors.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { accept, checkLength, checkRound, envelope, MIN_BANKS_FOR_RELEASE, pairKey, pointOf, selfMask, SETUP_ROUND, type SecAggConfig } from './common.ts';
import { addRoundMask, combine, decodeFixed, ringAdd, ringSub, type Share } from './crypto.ts';

export type CoordinatorStage = 'advertise' | 'share' | 'ready' | 'mask' | 'unmask';
const EXPECTS: Record<CoordinatorStage, string> = { advertise: 'AdvertiseKeys', share: 'ShareKeys', ready: '', mask: 'MaskedInput', unmask: 'Unmask' };

export class SecAggCoordinator implements Party {
  stage: CoordinatorStage = 'advertise';
  /** The round in progress or last finished (0: the key set-up). */
  round = SETUP_ROUND;
  /** The last round's decoded sum and the banks whose inputs it holds. */
  result: { round: number; sum: Float64Array; banks: string[] } | undefined;
  /**
   * Banks in each stage: advertised and shared (the job's members) in the set-up; live (members
   * whose mask key no one revealed), masked (sent this round's input) and unmasked in a round.
   */
  readonly members: { advertised: string[]; shared: string[]; live: string[]; masked: string[]; unmasked: string[] } = {
    advertised: [],
    shared: [],
    live: [],
    masked: [],
    unmasked: [],
  };
  private readonly answers = new Map<string, Readonly<Record<string, unknown>>>();
  private readonly keys = new Map<string, { seal: Uint8Array; mask: Uint8Array; signature: Uint8Array }>();
  private length = 0;

  constructor(
    readonly name: string,
    private readonly config: SecAggConfig,
    /**
     * FOR THE ATTACK TESTS ONLY (tests/attacks/secagg-two-banks.test.ts): `releaseSmallSums` sends
     * the banks a round's sum even when it holds fewer than MIN_BANKS_FOR_RELEASE inputs.
     */
    private readonly unsafe: { releaseSmallSums?: boolean } = {},
  ) {}

  /** Nothing pending: the set-up or the last round has finished. */
  get done(): boolean {
    return this.stage === 'ready';
  }

  start(): Envelope[] {
    return [];
  }

  /** Open aggregation round `round` (1, 2, …, increasing) of `length` values: expects a masked input from every live member. */
  beginRound(round: number, length: number): void {
    checkRound(round);
    checkLength(length);
    if (this.stage !== 'ready') throw new IndomainError('SECAGG_WRONG_STAGE', `round ${round} opened in stage "${this.stage}" (expects ready)`, { field: 'round' });
    if (round <= this.round) throw new IndomainError('SECAGG_WRONG_STAGE', `round ${round} after round ${this.round}: rounds only increase`, { field: 'round' });
    if (this.members.live.length < this.config.threshold) {
      throw new IndomainError('SECAGG_BELOW_THRESHOLD', `${this.members.live.length} live members, the threshold is ${this.config.threshold}`, { field: 'banks' });
    }
    this.round = round;
    this.length = length;
    this.members.masked = [];
    this.members.unmasked = [];
    this.stage = 'mask';
  }

  /** Who must answer in the current stage. */
  private expected(): string[] {
    switch (this.stage) {
      case 'advertise':
        return [...this.config.banks];
      case 'share':
        return this.members.advertised;
      case 'mask':
        return this.members.live;
      case 'unmask':
        return this.members.masked;
      default:
        return [];
    }
  }

  receive(env: Envelope): Envelope[] {
    accept(env, this.config, this.round, this.stage, EXPECTS[this.stage]);
    if (!this.expected().includes(env.from)) throw new IndomainError('SECAGG_WRONG_STAGE', `${env.type} from "${env.from}", which is not in this stage`);
    if (this.answers.has(env.from)) throw new IndomainError('SECAGG_WRONG_STAGE', `a second ${env.type} from "${env.from}"`);
    this.check(env);
    this.answers.set(env.from, env.body);
    return this.answers.size === this.expected().length ? this.close() : [];
  }

  /** Close the current stage with whoever has answered (the others dropped out). */
  deadline(): Envelope[] {
    if (this.stage === 'ready') return [];
    return this.close();
  }

  private check(env: Envelope): void {
    const b = env.body as Record<string, never>;
    const others = (list: string[]) => list.filter((x) => x !== env.from).join();
    if (env.type === 'ShareKeys' || env.type === 'MaskedInput') {
      const to = b.to as string[];
      const want = env.type === 'ShareKeys' ? this.members.advertised : this.members.live;
      if (to.join() !== others(want) || (b.sealed as Uint8Array[]).length !== to.length) {
        throw new IndomainError('SECAGG_BAD_MESSAGE', `shares must go to every other ${env.type === 'ShareKeys' ? 'bank of the key list' : 'live member'}, once each, in order`, { field: 'to' });
      }
    }
    if (env.type === 'MaskedInput') {
      const masked = b.masked as Float64Array;
      if (masked.length !== this.length) throw new IndomainError('SECAGG_BAD_MESSAGE', `masked input of ${masked.length} values, ${this.length} expected`, { field: 'masked' });
      if (masked.some((v) => !Number.isInteger(v) || v < 0 || v >= 2 ** 52)) throw new IndomainError('SECAGG_BAD_MESSAGE', 'a masked value is not a ring element', { field: 'masked' });
    }
    if (env.type === 'Unmask') {
      const banks = b.banks as string[];
      const kinds = b.kinds as string[];
      if (banks.join() !== this.members.live.join() || kinds.length !== banks.length || (b.shares as Uint8Array[]).length !== banks.length) {
        throw new IndomainError('SECAGG_BAD_MESSAGE', 'one share for each live member, in order', { field: 'banks' });
      }
      banks.forEach((bank, i) => {
        const want = this.members.masked.includes(bank) ? 'seed' : 'key';
        if (kinds[i] !== want) throw new IndomainError('SECAGG_BAD_MESSAGE', `share ${i} must be a ${want} share`, { field: `kinds[${i}]` });
      });
    }
  }

  private close(): Envelope[] {
    const responders = this.config.banks.filter((b) => this.answers.has(b));
    if (responders.length < this.config.threshold) {
      throw new IndomainError('SECAGG_BELOW_THRESHOLD', `stage "${this.stage}": ${responders.length} banks answered, the threshold is ${this.config.threshold}; waiting for more`, { field: this.stage });
    }
    const answers = new Map(this.answers);
    this.answers.clear();
    switch (this.stage) {
      case 'advertise':
        return this.closeAdvertise(responders, answers);
      case 'share':
        return this.closeShare(responders, answers);
      case 'mask':
        return this.closeMask(responders, answers);
      default:
        return this.closeUnmask(responders, answers);
    }
  }

  private send(type: string, to: string, body: Record<string, unknown>): Envelope {
    return envelope(this.config, this.round, type, this.name, to, body);
  }

  /** For each recipient, what each sender sealed for it (empty for itself), in the senders' order. */
  private relay(senders: string[], answers: Map<string, Readonly<Record<string, unknown>>>, to: string): Uint8Array[] {
    return senders.map((from) => {
      if (from === to) return new Uint8Array(0);
      const a = answers.get(from)!;
      return (a.sealed as Uint8Array[])[(a.to as string[]).indexOf(to)]!;
    });
  }

  private closeAdvertise(banks: string[], answers: Map<string, Readonly<Record<string, unknown>>>): Envelope[] {
    this.members.advertised = banks;
    for (const b of banks) {
      const a = answers.get(b)!;
      this.keys.set(b, { seal: a.sealKey as Uint8Array, mask: a.maskKey as Uint8Array, signature: a.signature as Uint8Array });
    }
    const keys = banks.map((b) => this.keys.get(b)!);
    const body = { banks, sealKeys: keys.map((k) => k.seal), maskKeys: keys.map((k) => k.mask), signatures: keys.map((k) => k.signature) };
    this.stage = 'share';
    return banks.map((b) => this.send('KeyList', b, body));
  }

  private closeShare(banks: string[], answers: Map<string, Readonly<Record<string, unknown>>>): Envelope[] {
    this.members.shared = banks;
    this.members.live = banks;
    this.stage = 'ready';
    return banks.map((to) => this.send('Shares', to, { banks, sealed: this.relay(banks, answers, to) }));
  }

  private masked = new Map<string, Float64Array>();

  private closeMask(banks: string[], answers: Map<string, Readonly<Record<string, unknown>>>): Envelope[] {
    this.members.masked = banks;
    this.masked = new Map(banks.map((b) => [b, answers.get(b)!.masked as Float64Array]));
    this.stage = 'unmask';
    return banks.map((to) => this.send('Survivors', to, { banks, sealed: this.relay(banks, answers, to) }));
  }

  private closeUnmask(banks: string[], answers: Map<string, Readonly<Record<string, unknown>>>): Envelope[] {
    this.members.unmasked = banks;
    const { masked, live } = this.members;
    // Gather each member's shares: this round's self-mask seeds of survivors, mask keys of dropped banks.
    const shares = new Map<string, Share[]>(live.map((b) => [b, []]));
    for (const holder of banks) {
      const a = answers.get(holder)!;
      (a.banks as string[]).forEach((b, i) => shares.get(b)!.push({ x: pointOf(this.config, holder), y: (a.shares as Uint8Array[])[i]! }));
    }
    const sum = new Float64Array(this.length);
    for (const b of masked) {
      const y = this.masked.get(b)!;
      for (let i = 0; i < sum.length; i++) sum[i] = ringAdd(sum[i]!, y[i]!);
    }
    for (const b of masked) {
      const self = selfMask(combine(shares.get(b)!), this.length);
      for (let i = 0; i < sum.length; i++) sum[i] = ringSub(sum[i]!, self[i]!);
    }
    // Each survivor v added sign(v, u)·PRG(k_uv, round) for a dropped u: rebuild u's mask key, remove it.
    const dropped = live.filter((b) => !masked.includes(b));
    for (const u of dropped) {
      const secret = combine(shares.get(u)!);
      for (const v of masked) {
        const { sign, key } = pairKey(this.config, secret, u, this.keys.get(v)!.mask, v);
        // sign is u's; v applied the opposite.
        addRoundMask(sum, key, this.round, sign);
      }
    }
    // A dropped member's mask key is now known: it is out for the rest of the job.
    this.members.live = masked;
    this.masked = new Map();
    const decoded = decodeFixed(sum, this.config.fractionBits);
    this.result = { round: this.round, sum: decoded, banks: masked };
    this.stage = 'ready';
    // A sum over two banks is, to each of them, the other's input: the banks get only who it covers.
    const release = masked.length >= MIN_BANKS_FOR_RELEASE || this.unsafe.releaseSmallSums;
    const sent = release ? decoded : new Float64Array(0);
    return masked.map((b) => this.send('Result', b, { sum: sent, banks: masked }));
  }
}
