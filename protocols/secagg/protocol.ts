/**
 * Secure aggregation (protocol `secagg`): n banks each hold a vector per round; the coordinator
 * learns each round's sum and nothing else, even when banks drop out between stages. Bonawitz et
 * al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017 (the
 * semi-honest protocol with double masking), run over many rounds as in its "multiple rounds"
 * remark and Bell et al., "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS
 * 2020 (keys agreed once per job, per-round pairwise masks derived from them), without their
 * sparse graph.
 *
 * Inputs are fixed-point integers in Z_M, M = 2^52 (`fractionBits` fraction bits; encoding refuses a
 * value whose sum over n banks could wrap), so the output is the exact sum of the encoded inputs:
 * no averaging, no noise. Parties: banks B_1..B_n (configured order; B_i's Shamir point is i),
 * coordinator C. Threshold t > n/2.
 *
 * Set-up, once per job (round 0; every key derived from a Diffie–Hellman secret is bound to the job
 * and its purpose by HKDF):
 *   B_u → C   AdvertiseKeys  two fresh X25519 public keys: sealKey (to seal shares), maskKey (pairwise
 *                            masks), signed with B_u's identity key (Ed25519, config.identities)
 *   C → B_u   KeyList        U1 = banks that advertised (≥ t), with their keys and signatures; each bank
 *                            checks every signature (else C could put its own keys in and open the shares)
 *   B_u → C   ShareKeys      for each v ∈ U1 \ {u}: v's Shamir t-of-n share of u's mask secret key,
 *                            AES-256-GCM under KA(seal_u, seal_v)
 *   C → B_v   Shares         L = banks that sent shares (≥ t): the job's live members; the shares
 *                            sealed for v. Each pair agrees its job key k_uv = KA(mask_u, mask_v).
 * Aggregation round r = 1, 2, … (C opens it for a vector length; L shrinks as banks drop):
 *   B_u → C   MaskedInput    y_u = x_u + PRG(b_u) + Σ_{v ∈ L\{u}} ±PRG(k_uv, r) mod M, with b_u a fresh
 *                            self-mask seed, + when u precedes v, − otherwise (the pairwise masks
 *                            cancel in the sum; PRG(k, r) is AES-256-CTR keyed by k from the counter
 *                            block (r ‖ 0): a fresh stream per round); and for each v ∈ L\{u}, v's
 *                            share of b_u sealed for v
 *   C → B_v   Survivors      S = banks whose masked input arrived (≥ t), and the shares of their
 *                            seeds sealed for v
 *   B_v → C   Unmask         for each u ∈ L: its share of b_u if u ∈ S, of mask_u's secret if not
 *   C         from ≥ t Unmask answers: b_u for u ∈ S, mask secrets of u ∈ L \ S;
 *             Σ_S y − Σ_S PRG(b_u) − (what survivors added for dropped banks' pairs) = Σ_S x
 *   C → B_u   Result         S, and the sum if |S| ≥ 3 (a bank subtracts its own input: from a sum
 *                            over two it would read the other's); then L ← S.
 *
 * A BANK WHOSE MASK KEY WAS RECONSTRUCTED IS OUT FOR THE REST OF THE JOB. Its key opens the pairwise
 * masks of every later round, so if it were summed again the coordinator, given its self-mask seed,
 * would read its input. Every bank drops from L the members it has revealed a key share of, never
 * masks with them again and refuses a survivor list that names them; the coordinator does the same.
 * (A bank left out of S does not get the round's Result and stays out.)
 *
 * Dropout. A stage closes when every bank expected in it has answered or when the driver's deadline
 * passes ({@link SecAggCoordinator.deadline}); the banks missing then have dropped. With fewer than t
 * answers the stage stays open (SECAGG_BELOW_THRESHOLD, nothing lost) and a later deadline, after more
 * answers, resumes it. A bank that drops after sending its masked input is still summed that round
 * (its seed comes from the others' shares); one that drops before is not, and its pairwise masks are
 * removed through its rebuilt mask key.
 *
 * Cost. The set-up costs O(n) key agreements per bank; a round costs each bank one Shamir split,
 * n − 1 seals, opens and AES-CTR mask expansions, and no key agreement; the coordinator's key
 * agreements in a round are |S| per dropped bank.
 *
 * What each party learns:
 *   Coordinator: the banks' public keys; sealed shares it cannot open; masked inputs, each uniform on
 *     its own; per round, for each live member either t shares of its seed of that round (if it
 *     survived) or of its job mask key (if it dropped), never both (each bank answers Survivors once
 *     per round and never names a member again after revealing its key share): the sum of the
 *     surviving inputs of each round, and which banks dropped.
 *   Bank: the other banks' public keys; one share of each other member's mask key and of each
 *     survivor's seed of each round (below t: uniform); the survivor lists; the sums over three
 *     banks or more (a sum over two is withheld from the banks: each would read the other's input).
 * Threat model: semi-honest coordinator and banks. The coordinator together with fewer than t banks
 * learns nothing about the other banks' inputs beyond the sum of those that survived.
 * A malicious coordinator that sends different survivor lists to different banks (Bonawitz's
 * consistency check round) is not defended here: the banks' Survivors answers are signed and
 * audited, so such a coordinator would be caught, not prevented.
 */
import { cryptoRng, type Rng } from '../../engine/rng.ts';
import type { Envelope } from '../message.ts';
import { MemoryTransport, type Party } from '../transport.ts';
import { SecAggBank } from './bank.ts';
import { secAggConfig, type SecAggConfig } from './common.ts';
import { newIdentity } from './crypto.ts';
import { SecAggCoordinator } from './coordinator.ts';

export { SecAggBank, SecAggCoordinator, secAggConfig, type SecAggConfig };
export { decodeFixed, encodeFixed, newIdentity, RING, type Identity } from './crypto.ts';

/** The stage before which a bank goes silent: it sends nothing from then on (its process was killed). */
export type DropPoint = 'advertise' | 'share' | 'mask' | 'unmask';

const SILENCED: Record<DropPoint, string> = { advertise: 'AdvertiseKeys', share: 'ShareKeys', mask: 'MaskedInput', unmask: 'Unmask' };

/** A bank that stops answering once it is about to send the message of stage `at`, and for good. */
export class DroppingBank implements Party {
  at: DropPoint | undefined;
  gone = false;

  constructor(readonly bank: SecAggBank) {}

  get name(): string {
    return this.bank.name;
  }

  get done(): boolean {
    return this.gone || this.bank.done;
  }

  /** Kill this bank before it sends the message of stage `at`. */
  dropBefore(at: DropPoint): void {
    this.at = at;
  }

  private filter(out: Envelope[]): Envelope[] {
    if (this.gone || out.some((e) => this.at && e.type === SILENCED[this.at])) {
      this.gone = true;
      return [];
    }
    return out;
  }

  start(): Envelope[] {
    return this.at === 'advertise' ? ((this.gone = true), []) : this.filter(this.bank.start());
  }

  receive(env: Envelope): Envelope[] {
    return this.gone ? [] : this.filter(this.bank.receive(env));
  }

  submit(round: number, input: Float64Array): Envelope[] {
    return this.gone || !this.bank.done ? [] : this.filter(this.bank.submit(round, input));
  }
}

export interface RoundOutcome {
  readonly round: number;
  readonly sum: Float64Array;
  /** Banks whose inputs the sum holds. */
  readonly banks: string[];
  readonly seconds: number;
  /** Bytes each bank sent in this round (or the set-up). */
  readonly bytesPerBank: Record<string, number>;
  /** Bytes the coordinator sent to each bank in this round (or the set-up). */
  readonly bytesToBank: Record<string, number>;
}

/**
 * All parties of one job in this process over the in-memory transport: {@link setup} once, then
 * {@link aggregate} per round. Each time the transport goes idle, the coordinator's stage deadline
 * passes (the dropped banks will never answer).
 */
export class SecAggJob {
  readonly coordinator: SecAggCoordinator;
  readonly banks: SecAggBank[];
  readonly transport: MemoryTransport;
  private readonly nodes: DroppingBank[];
  setupOutcome: Omit<RoundOutcome, 'sum' | 'banks'> | undefined;

  readonly config: SecAggConfig;

  constructor(
    config: SecAggConfig,
    /** Each bank's secret randomness; the OS generator by default. */
    rng: (bank: string) => Rng = () => cryptoRng,
    /** FOR THE ATTACK TESTS ONLY: see {@link SecAggBank} and {@link SecAggCoordinator}. */
    unsafe: ConstructorParameters<typeof SecAggBank>[3] & ConstructorParameters<typeof SecAggCoordinator>[2] = {},
  ) {
    // In one process every bank gets a fresh identity: the key list is always authenticated.
    const ids = config.identities ? undefined : new Map(config.banks.map((b) => [b, newIdentity()]));
    if (ids) config = { ...config, identities: Object.fromEntries([...ids].map(([b, id]) => [b, id.publicKey])) };
    this.config = config;
    this.banks = config.banks.map((name) => new SecAggBank(name, config, rng(name), unsafe, ids?.get(name)!.sign));
    this.coordinator = new SecAggCoordinator(config.coordinator, config, unsafe);
    this.nodes = this.banks.map((b) => new DroppingBank(b));
    this.transport = new MemoryTransport([this.coordinator, ...this.nodes]);
  }

  /** The key set-up; `drops` kill banks before they advertise or share their keys. */
  async setup(drops: ReadonlyMap<string, 'advertise' | 'share'> = new Map()): Promise<void> {
    const { start, mark } = this.measure();
    for (const [b, at] of drops) this.node(b).dropBefore(at);
    await this.transport.run();
    while (!this.coordinator.done) await this.transport.run(this.coordinator.deadline());
    this.setupOutcome = { round: 0, seconds: (performance.now() - start) / 1000, ...this.bytes(mark) };
  }

  /** One round: every live bank's input summed; `drops` kill banks before their masked input or unmask answer. */
  async aggregate(round: number, inputs: ReadonlyMap<string, Float64Array>, drops: ReadonlyMap<string, 'mask' | 'unmask'> = new Map()): Promise<RoundOutcome> {
    const length = [...inputs.values()][0]!.length;
    const { start, mark } = this.measure();
    for (const [b, at] of drops) this.node(b).dropBefore(at);
    this.coordinator.beginRound(round, length);
    const sent = this.nodes.flatMap((n) => (inputs.has(n.name) ? n.submit(round, inputs.get(n.name)!) : []));
    await this.transport.run(sent);
    while (!this.coordinator.done) await this.transport.run(this.coordinator.deadline());
    const result = this.coordinator.result!;
    return { round, sum: result.sum, banks: result.banks, seconds: (performance.now() - start) / 1000, ...this.bytes(mark) };
  }

  private node(bank: string): DroppingBank {
    return this.nodes.find((n) => n.name === bank)!;
  }

  private measure() {
    return { start: performance.now(), mark: this.transport.log.length };
  }

  private bytes(mark: number) {
    const bytesPerBank: Record<string, number> = {};
    const bytesToBank: Record<string, number> = {};
    for (const r of this.transport.log.slice(mark)) {
      if (r.from === this.config.coordinator) bytesToBank[r.to] = (bytesToBank[r.to] ?? 0) + r.bytes;
      else bytesPerBank[r.from] = (bytesPerBank[r.from] ?? 0) + r.bytes;
    }
    return { bytesPerBank, bytesToBank };
  }
}

export interface AggregateInput {
  readonly config: SecAggConfig;
  readonly inputs: ReadonlyMap<string, Float64Array>;
  /** Banks that drop out, and before which stage. */
  readonly drops?: ReadonlyMap<string, DropPoint>;
  /** Each bank's secret randomness; the OS generator by default. */
  readonly rng?: (bank: string) => Rng;
}

/** A job of one round (set-up, then round 1), all in this process. */
export async function aggregateInMemory(input: AggregateInput): Promise<SecAggJob & { outcome: RoundOutcome }> {
  const job = new SecAggJob(input.config, input.rng);
  const drops = [...(input.drops ?? new Map<string, DropPoint>())];
  await job.setup(new Map(drops.filter((d): d is [string, 'advertise' | 'share'] => d[1] === 'advertise' || d[1] === 'share')));
  const outcome = await job.aggregate(1, input.inputs, new Map(drops.filter((d): d is [string, 'mask' | 'unmask'] => d[1] === 'mask' || d[1] === 'unmask')));
  return Object.assign(job, { outcome });
}
