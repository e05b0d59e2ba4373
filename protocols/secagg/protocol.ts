/**
 * Secure aggregation (protocol `secagg`): n banks each hold a vector; the coordinator learns their
 * sum and nothing else, even when banks drop out between stages. Bonawitz et al., "Practical Secure
 * Aggregation for Privacy-Preserving Machine Learning", CCS 2017 (the semi-honest protocol with
 * double masking); parameters and seeds as in Bell et al., CCS 2020, without their sparse graph.
 *
 * Inputs are fixed-point integers in Z_M, M = 2^52 (`fractionBits` fraction bits; encoding refuses a
 * value whose sum over n banks could wrap), so the output is the exact sum of the encoded inputs:
 * no averaging, no noise. Parties: banks B_1..B_n (configured order; B_i's Shamir point is i),
 * coordinator C. Threshold t > n/2.
 *
 * Flow (one aggregation; fresh keys every time; every key derived from a Diffie–Hellman secret is
 * bound to the job, the round and its purpose by HKDF):
 *   B_u → C   AdvertiseKeys  two X25519 public keys: sealKey (to seal shares), maskKey (pairwise masks)
 *   C → B_u   KeyList        U1 = banks that advertised (≥ t), with their keys
 *   B_u       Shamir t-of-n shares of its mask secret key and of a fresh self-mask seed b_u
 *   B_u → C   ShareKeys      for each v ∈ U1 \ {u}: v's shares, AES-256-GCM under KA(seal_u, seal_v)
 *   C → B_v   Shares         U2 = banks that sent shares (≥ t), and the shares sealed for v
 *   B_u → C   MaskedInput    y_u = x_u + PRG(b_u) + Σ_{v ∈ U2\{u}} ±PRG(KA(mask_u, mask_v)) mod M,
 *                            + when u precedes v, − otherwise: the pairwise masks cancel in the sum
 *   C → B_u   Survivors      U3 = banks whose masked input arrived (≥ t)
 *   B_u → C   Unmask         for each v ∈ U2: its share of b_v if v ∈ U3, of mask_v's secret if not
 *   C         from ≥ t Unmask answers: b_v for v ∈ U3, mask secrets of v ∈ U2 \ U3;
 *             Σ_{U3} y − Σ_{U3} PRG(b_v) − (what survivors added for dropped banks' pairs) = Σ_{U3} x
 *   C → B_u   Result         the sum and U3
 *
 * Dropout. A stage closes when every bank expected in it has answered or when the driver's deadline
 * passes ({@link SecAggCoordinator.deadline}); the banks missing then have dropped. With fewer than t
 * answers the stage stays open (SECAGG_BELOW_THRESHOLD, nothing lost) and a later deadline, after more
 * answers, resumes it. A bank that drops after sending its masked input is still summed (its self-mask
 * seed comes from the others' shares); one that drops before is not, and its pairwise masks are
 * removed through its rebuilt mask key.
 *
 * What each party learns:
 *   Coordinator: the banks' public keys; sealed shares it cannot open; masked inputs, each uniform on
 *     its own; for each bank either t shares of its self-mask seed (if it survived) or of its mask key
 *     (if it dropped), never both (each bank answers Survivors once and refuses to reveal both kinds
 *     for one bank): the sum of the surviving inputs, and which banks dropped.
 *   Bank: the other banks' public keys; one share of each other bank's two secrets (below t: uniform);
 *     the survivor list; the sum.
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
import { SecAggCoordinator } from './coordinator.ts';

export { SecAggBank, SecAggCoordinator, secAggConfig, type SecAggConfig };
export { decodeFixed, encodeFixed, RING } from './crypto.ts';

/** The stage before which a bank goes silent: it sends nothing from then on. */
export type DropPoint = 'advertise' | 'share' | 'mask' | 'unmask';

/** A bank that stops answering once it reaches `at` (its process was killed). */
export class DroppingBank implements Party {
  constructor(
    readonly bank: SecAggBank,
    private readonly at: DropPoint,
  ) {}

  get name(): string {
    return this.bank.name;
  }

  get done(): boolean {
    return true;
  }

  start(): Envelope[] {
    return this.at === 'advertise' ? [] : this.bank.start();
  }

  receive(env: Envelope): Envelope[] {
    if (this.bank.stage === this.at || this.bank.stage === 'done') return [];
    const out = this.bank.receive(env);
    return this.bank.stage === this.at ? [] : out;
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

export interface AggregateRun {
  readonly coordinator: SecAggCoordinator;
  readonly banks: SecAggBank[];
  readonly transport: MemoryTransport;
}

/**
 * All parties in this process over the in-memory transport. Each time the transport goes idle, the
 * coordinator's stage deadline passes (the dropped banks will never answer).
 */
export async function aggregateInMemory(input: AggregateInput): Promise<AggregateRun> {
  const { config } = input;
  const banks = config.banks.map((name) => new SecAggBank(name, config, input.inputs.get(name)!, input.rng?.(name) ?? cryptoRng));
  const coordinator = new SecAggCoordinator(config.coordinator, config);
  const parties: Party[] = [coordinator, ...banks.map((b) => (input.drops?.has(b.name) ? new DroppingBank(b, input.drops.get(b.name)!) : b))];
  const transport = new MemoryTransport(parties);
  await transport.run();
  while (!coordinator.done) await transport.run(coordinator.deadline());
  return { coordinator, banks, transport };
}
