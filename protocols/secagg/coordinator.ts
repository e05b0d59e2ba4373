/**
 * The coordinator in `secagg`: relays keys and sealed shares, collects masked inputs and the shares
 * that remove the masks, and outputs the sum. It holds no key that opens a share and never gets both
 * kinds of share for one bank.
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
import { accept, envelope, pairMask, pointOf, selfMask, type SecAggConfig } from './common.ts';
import { combine, decodeFixed, ringAdd, ringSub, type Share } from './crypto.ts';

type Stage = 'advertise' | 'share' | 'mask' | 'unmask' | 'done';
const EXPECTS: Record<Stage, string> = { advertise: 'AdvertiseKeys', share: 'ShareKeys', mask: 'MaskedInput', unmask: 'Unmask', done: '' };

export class SecAggCoordinator implements Party {
  stage: Stage = 'advertise';
  /** The decoded sum and the banks whose inputs it holds, once done. */
  result: { sum: Float64Array; banks: string[] } | undefined;
  /** Banks in each stage: advertised (U1), shared (U2), masked (U3), unmasking. */
  readonly members: { advertised: string[]; shared: string[]; masked: string[]; unmasked: string[] } = { advertised: [], shared: [], masked: [], unmasked: [] };
  private readonly answers = new Map<string, Readonly<Record<string, unknown>>>();
  private readonly keys = new Map<string, { seal: Uint8Array; mask: Uint8Array }>();
  private readonly inputs = new Map<string, Float64Array>();
  private readonly sealedFor = new Map<string, Map<string, Uint8Array>>();

  constructor(
    readonly name: string,
    private readonly config: SecAggConfig,
  ) {}

  get done(): boolean {
    return this.stage === 'done';
  }

  start(): Envelope[] {
    return [];
  }

  /** Who must answer in the current stage. */
  private expected(): string[] {
    switch (this.stage) {
      case 'advertise':
        return [...this.config.banks];
      case 'share':
        return this.members.advertised;
      case 'mask':
        return this.members.shared;
      case 'unmask':
        return this.members.masked;
      default:
        return [];
    }
  }

  receive(env: Envelope): Envelope[] {
    accept(env, this.config, this.stage, EXPECTS[this.stage]);
    if (!this.expected().includes(env.from)) throw new IndomainError('SECAGG_WRONG_STAGE', `${env.type} from "${env.from}", which is not in this stage`);
    if (this.answers.has(env.from)) throw new IndomainError('SECAGG_WRONG_STAGE', `a second ${env.type} from "${env.from}"`);
    this.check(env);
    this.answers.set(env.from, env.body);
    return this.answers.size === this.expected().length ? this.close() : [];
  }

  /** Close the current stage with whoever has answered (the others dropped out). */
  deadline(): Envelope[] {
    if (this.stage === 'done') return [];
    return this.close();
  }

  private check(env: Envelope): void {
    const b = env.body as Record<string, never>;
    if (env.type === 'ShareKeys') {
      const to = b.to as string[];
      const others = this.members.advertised.filter((x) => x !== env.from);
      if (to.join() !== others.join() || (b.sealed as Uint8Array[]).length !== to.length) {
        throw new IndomainError('SECAGG_BAD_MESSAGE', 'shares must go to every other bank of the key list, once each, in order', { field: 'to' });
      }
    }
    if (env.type === 'MaskedInput' && (b.masked as Float64Array).length !== this.config.length) {
      throw new IndomainError('SECAGG_BAD_MESSAGE', `masked input of ${(b.masked as Float64Array).length} values, ${this.config.length} expected`, { field: 'masked' });
    }
    if (env.type === 'MaskedInput' && (b.masked as Float64Array).some((v) => !Number.isInteger(v) || v < 0 || v >= 2 ** 52)) {
      throw new IndomainError('SECAGG_BAD_MESSAGE', 'a masked value is not a ring element', { field: 'masked' });
    }
    if (env.type === 'Unmask') {
      const banks = b.banks as string[];
      const kinds = b.kinds as string[];
      if (banks.join() !== this.members.shared.join() || kinds.length !== banks.length || (b.shares as Uint8Array[]).length !== banks.length) {
        throw new IndomainError('SECAGG_BAD_MESSAGE', 'one share for each bank that sent shares, in order', { field: 'banks' });
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

  private closeAdvertise(banks: string[], answers: Map<string, Readonly<Record<string, unknown>>>): Envelope[] {
    this.members.advertised = banks;
    for (const b of banks) {
      const a = answers.get(b)!;
      this.keys.set(b, { seal: a.sealKey as Uint8Array, mask: a.maskKey as Uint8Array });
    }
    const body = { banks, sealKeys: banks.map((b) => this.keys.get(b)!.seal), maskKeys: banks.map((b) => this.keys.get(b)!.mask) };
    this.stage = 'share';
    return banks.map((b) => envelope(this.config, 'KeyList', this.name, b, body));
  }

  private closeShare(banks: string[], answers: Map<string, Readonly<Record<string, unknown>>>): Envelope[] {
    this.members.shared = banks;
    for (const from of banks) {
      const a = answers.get(from)!;
      (a.to as string[]).forEach((to, i) => {
        if (!this.sealedFor.has(to)) this.sealedFor.set(to, new Map());
        this.sealedFor.get(to)!.set(from, (a.sealed as Uint8Array[])[i]!);
      });
    }
    this.stage = 'mask';
    return banks.map((to) =>
      envelope(this.config, 'Shares', this.name, to, {
        banks,
        sealed: banks.map((from) => (from === to ? new Uint8Array(0) : this.sealedFor.get(to)!.get(from)!)),
      }),
    );
  }

  private closeMask(banks: string[], answers: Map<string, Readonly<Record<string, unknown>>>): Envelope[] {
    this.members.masked = banks;
    for (const b of banks) this.inputs.set(b, answers.get(b)!.masked as Float64Array);
    this.stage = 'unmask';
    return banks.map((b) => envelope(this.config, 'Survivors', this.name, b, { banks }));
  }

  private closeUnmask(banks: string[], answers: Map<string, Readonly<Record<string, unknown>>>): Envelope[] {
    this.members.unmasked = banks;
    const { masked, shared } = this.members;
    // Gather each bank's shares: self-mask seeds of survivors, mask keys of dropped banks.
    const shares = new Map<string, Share[]>(shared.map((b) => [b, []]));
    for (const holder of banks) {
      const a = answers.get(holder)!;
      (a.banks as string[]).forEach((b, i) => shares.get(b)!.push({ x: pointOf(this.config, holder), y: (a.shares as Uint8Array[])[i]! }));
    }
    const sum = new Float64Array(this.config.length);
    for (const b of masked) {
      const y = this.inputs.get(b)!;
      for (let i = 0; i < sum.length; i++) sum[i] = ringAdd(sum[i]!, y[i]!);
    }
    for (const b of masked) {
      const self = selfMask(this.config, combine(shares.get(b)!));
      for (let i = 0; i < sum.length; i++) sum[i] = ringSub(sum[i]!, self[i]!);
    }
    // Each survivor v added sign(v, u)·PRG(pair(v, u)) for a dropped u: rebuild u's mask key, remove it.
    for (const u of shared.filter((b) => !masked.includes(b))) {
      const secret = combine(shares.get(u)!);
      for (const v of masked) {
        const { sign, mask } = pairMask(this.config, secret, u, this.keys.get(v)!.mask, v);
        // sign is u's; v applied the opposite.
        for (let i = 0; i < sum.length; i++) sum[i] = sign > 0 ? ringAdd(sum[i]!, mask[i]!) : ringSub(sum[i]!, mask[i]!);
      }
    }
    const decoded = decodeFixed(sum, this.config.fractionBits);
    this.result = { sum: decoded, banks: masked };
    this.stage = 'done';
    return masked.map((b) => envelope(this.config, 'Result', this.name, b, { sum: decoded, banks: masked }));
  }
}

