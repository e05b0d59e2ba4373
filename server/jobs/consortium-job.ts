/**
 * A `consortium-lr` job across processes (protocols/consortium/horizontal.ts, over secure
 * aggregation, protocols/secagg): the coordinator runs secagg's coordinator and the Newton steps on
 * the secure sums; each bank node runs secagg's bank role on its own dataset. The flow is the
 * in-memory one, with the iterate sent to the banks in `consortium-lr/Iterate`:
 *   coordinator → bank-i   JobStart, StageStart training
 *   bank-i ↔ coordinator   secagg key set-up (round 0), signed with each bank node's pinned key
 *   coordinator → bank-i   Iterate (empty)      → secagg round 1: (n_b, Σy)
 *   coordinator → bank-i   Iterate (w)          → secagg round r: (n_b, X_bᵀ(p − y), upper X_bᵀWX_b)
 *   coordinator → bank-i   Iterate (final)      → each bank evaluates on its own test rows
 *   bank-i → coordinator   StageDone evaluation (no figures: the bank keeps its metrics in its own view)
 * Dropout: a secagg stage that has waited `stageTimeoutSeconds` (default 10) closes with the banks
 * that answered (a StageDeadline the coordinator stores in its own inbox, so a restart replays it);
 * below the threshold it stays open for a later deadline. Banks do not approve jobs (only the
 * platform's analyst does, and a consortium job has no platform).
 *
 * Each bank splits its own rows (seeded by the job's seed and its role) into training and test.
 */
import { IndomainError, isIndomainError } from '../../engine/errors.ts';
import { cholesky, choleskySolve, maxAbs } from '../../engine/linalg.ts';
import { logit } from '../../models/logistic.ts';
import { DEFAULT_CONSORTIUM_LR, type ConsortiumLrConfig } from '../../protocols/consortium/horizontal.ts';
import { CONSORTIUM_LR } from '../../protocols/consortium/messages.ts';
import { full } from '../../protocols/consortium/symmetric.ts';
import type { Envelope } from '../../protocols/message.ts';
import { SecAggCoordinator, secAggConfig, type SecAggConfig } from '../../protocols/secagg/protocol.ts';
import { JOB } from '../messages.ts';
import type { CoordinatorRun } from './run.ts';
import { bankRole, envelope, type ConsortiumSpec } from './spec.ts';

export const DEFAULT_STAGE_TIMEOUT_SECONDS = 10;

export function consortiumLrConfig(spec: ConsortiumSpec): ConsortiumLrConfig {
  return { ...DEFAULT_CONSORTIUM_LR, ...(spec.training ?? {}), job: spec.id, ...(spec.threshold !== undefined ? { threshold: spec.threshold } : {}) };
}

/** The secagg configuration of a job: banks bank-1..n, each with its node's pinned Ed25519 key (SPKI DER). */
export function consortiumSecAgg(spec: ConsortiumSpec, identities: Readonly<Record<string, Uint8Array>> | undefined): SecAggConfig {
  const c = consortiumLrConfig(spec);
  return secAggConfig({
    job: spec.id,
    banks: spec.banks.map((_, i) => bankRole(i + 1)),
    fractionBits: c.fractionBits,
    coordinator: 'coordinator',
    ...(c.threshold !== undefined ? { threshold: c.threshold } : {}),
    ...(identities ? { identities } : {}),
  });
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Each bank role's identity key, from the raw Ed25519 keys of the pinned peers. */
export function bankIdentities(spec: ConsortiumSpec, publicKeyOf: (node: string) => Uint8Array | undefined): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  spec.banks.forEach((b, i) => {
    const k = publicKeyOf(b.node);
    if (!k) throw new IndomainError('SRV_UNKNOWN_PARTY', `no pinned key for bank node "${b.node}"`, { field: `banks[${i}]` });
    out[bankRole(i + 1)] = new Uint8Array(Buffer.concat([SPKI_PREFIX, Buffer.from(k)]));
  });
  return out;
}

export class ConsortiumCoordinatorJob implements CoordinatorRun {
  stage = '';
  finished = false;
  result: Record<string, unknown> | undefined;
  private readonly secagg: SecAggCoordinator;
  private readonly config: ConsortiumLrConfig;
  private readonly d: number;
  private w: Float64Array | undefined;
  private iterations = 0;
  private converged = false;
  private rows = 0;
  private finalBanks: string[] | undefined;
  private readonly reported = new Set<string>();
  private readonly rounds: { round: number; banks: string[]; seconds: number }[] = [];
  private readonly startedAt = Date.now();
  /** When the current secagg stage opened, and how many stages have opened (the deadline's round). */
  private openedAt = 0;
  private opened = 0;
  private openKey = '';

  constructor(
    readonly spec: ConsortiumSpec,
    identities: Readonly<Record<string, Uint8Array>> | undefined,
  ) {
    this.config = consortiumLrConfig(spec);
    this.secagg = new SecAggCoordinator('coordinator', consortiumSecAgg(spec, identities));
    this.d = spec.features.length + 1;
  }

  private get roles(): string[] {
    return this.spec.banks.map((_, i) => bankRole(i + 1));
  }

  create(): Envelope[] {
    const spec = JSON.stringify(this.spec);
    this.stage = 'training';
    this.mark(Date.now());
    return [
      ...this.roles.map((r) => envelope(this.spec.id, JOB, 'JobStart', 0, 'coordinator', r, { spec })),
      ...this.roles.map((r) => envelope(this.spec.id, JOB, 'StageStart', 0, 'coordinator', r, { stage: 'training' })),
    ];
  }

  /** Note a new secagg stage (for the deadline). */
  private mark(now: number): void {
    const key = `${this.secagg.round}:${this.secagg.stage}`;
    if (key !== this.openKey) {
      this.openKey = key;
      this.openedAt = now;
      this.opened++;
    }
  }

  /** The round of the StageDeadline due now, if the current stage has waited its time. */
  deadlineDue(now: number): number | undefined {
    if (this.finished || this.secagg.done) return undefined;
    const timeout = (this.spec.stageTimeoutSeconds ?? DEFAULT_STAGE_TIMEOUT_SECONDS) * 1000;
    return now - this.openedAt >= timeout ? this.opened : undefined;
  }

  async receive(env: Envelope, now: number): Promise<Envelope[] | null> {
    if (env.protocol === JOB && env.type === 'StageDeadline') {
      if (env.round !== this.opened) return [];
      let out: Envelope[];
      try {
        out = this.secagg.deadline();
      } catch (e) {
        // Below the threshold: the stage stays open (nothing lost); the next deadline tries again.
        if (isIndomainError(e) && e.code === 'SECAGG_BELOW_THRESHOLD') {
          this.openKey = '';
          this.mark(now);
          return [];
        }
        throw e;
      }
      return this.after(out, now);
    }
    if (env.protocol === 'secagg') return this.after(this.secagg.receive(env), now);
    if (env.protocol === JOB && env.type === 'StageDone') {
      this.reported.add(env.from);
      if (this.finalBanks && this.finalBanks.every((b) => this.reported.has(b))) {
        this.finished = true;
        this.stage = 'evaluation';
        this.result = this.summary(now);
      }
      return [];
    }
    throw new IndomainError('SRV_BAD_REQUEST', `the coordinator does not take ${env.protocol}/${env.type} in a consortium job`);
  }

  /** After secagg moved: open the next round, take a Newton step, or send the final model. */
  private after(out: Envelope[], now: number): Envelope[] {
    if (!this.secagg.done) {
      this.mark(now);
      return out;
    }
    const round = this.secagg.round;
    if (round === 0) return [...out, ...this.open(1, new Float64Array(0), now)];
    const r = this.secagg.result!;
    this.rounds.push({ round, banks: r.banks, seconds: (now - this.openedAt) / 1000 });
    const sums = r.sum;
    const d = this.d;
    if (round === 1) {
      const w = new Float64Array(d);
      w[0] = logit(Math.min(1 - 1e-6, Math.max(1e-6, sums[1]! / sums[0]!)));
      this.w = w;
      this.rows = sums[0]!;
      return [...out, ...this.open(2, w, now)];
    }
    const w = this.w!;
    this.rows = sums[0]!;
    const g = sums.slice(1, 1 + d);
    for (let j = 0; j < d; j++) g[j] = g[j]! / this.rows + (j > 0 ? this.config.lambda * w[j]! : 0);
    if (maxAbs(g) <= this.config.tolerance) this.converged = true;
    if (this.converged || this.iterations === this.config.maxIterations) return [...out, ...this.finish(round + 1)];
    const h = full(sums.slice(1 + d), d);
    for (let k = 0; k < d * d; k++) h[k] = h[k]! / this.rows;
    for (let j = 0; j < d; j++) h[j * d + j] += (j > 0 ? this.config.lambda : 0) + 1e-12;
    const step = choleskySolve(cholesky(h, d), d, g);
    for (let j = 0; j < d; j++) w[j] -= step[j]!;
    this.iterations++;
    return [...out, ...this.open(round + 1, w, now)];
  }

  private open(round: number, w: Float64Array, now: number): Envelope[] {
    const d = this.d;
    this.secagg.beginRound(round, round === 1 ? 2 : 1 + d + (d * (d + 1)) / 2);
    this.mark(now);
    return this.secagg.members.live.map((b) => envelope(this.spec.id, CONSORTIUM_LR, 'Iterate', round, 'coordinator', b, { weights: w.slice(), final: false }));
  }

  private finish(round: number): Envelope[] {
    this.finalBanks = [...this.secagg.members.live];
    return this.finalBanks.map((b) => envelope(this.spec.id, CONSORTIUM_LR, 'Iterate', round, 'coordinator', b, { weights: this.w!.slice(), final: true }));
  }

  private summary(now: number): Record<string, unknown> {
    return {
      pipeline: 'consortium-lr',
      model: { intercept: this.w![0], weights: [...this.w!.slice(1)], features: this.spec.features },
      iterations: this.iterations,
      converged: this.converged,
      rows: this.rows,
      banks: this.finalBanks,
      dropped: this.roles.filter((r) => !this.finalBanks!.includes(r)),
      rounds: this.rounds,
      seconds: (now - this.startedAt) / 1000,
    };
  }

  progress(): Record<string, unknown> {
    return { stage: this.stage, secaggRound: this.secagg.round, secaggStage: this.secagg.stage, iterations: this.iterations, maxIterations: this.config.maxIterations, live: this.secagg.members.live };
  }
}
