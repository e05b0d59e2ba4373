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
import { randomBytes } from 'node:crypto';
import { seededSplit } from '../../engine/align.ts';
import { crossGram, linearPredictor, ones, transposeTimes } from '../../engine/columns.ts';
import { IndomainError, isIndomainError } from '../../engine/errors.ts';
import { cholesky, choleskySolve, maxAbs } from '../../engine/linalg.ts';
import { secretRng } from '../../engine/rng.ts';
import { selectRows, type PartyTable } from '../../engine/table.ts';
import { fitLogistic, logit, predictLogistic, sigmoid } from '../../models/logistic.ts';
import { binaryMetrics } from '../../models/metrics.ts';
import { DEFAULT_CONSORTIUM_LR, type ConsortiumLrConfig } from '../../protocols/consortium/horizontal.ts';
import { CONSORTIUM_LR } from '../../protocols/consortium/messages.ts';
import { full, upper } from '../../protocols/consortium/symmetric.ts';
import type { Envelope } from '../../protocols/message.ts';
import { SecAggBank, SecAggCoordinator, secAggConfig, type SecAggConfig } from '../../protocols/secagg/protocol.ts';
import { JOB } from '../messages.ts';
import { loadDataset, type NodeStore } from '../store/node-store.ts';
import type { CoordinatorRun, NodeRun } from './run.ts';
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

export interface ConsortiumBankDeps {
  readonly store: NodeStore;
  readonly sign: (data: Uint8Array) => Uint8Array;
  readonly identities: Readonly<Record<string, Uint8Array>>;
}

/** The columns a bank trains on: the spec's features, by name, from its own dataset. */
function columns(t: PartyTable, features: readonly string[]): Float64Array[] {
  return features.map((f) => {
    const j = t.featureNames.indexOf(f);
    if (j < 0) throw new IndomainError('SRV_BAD_REQUEST', `the bank's dataset has no feature column "${f}"`, { field: f });
    return t.features[j]!;
  });
}

export class ConsortiumBankJob implements NodeRun {
  stage = '';
  summary: Record<string, unknown> = {};
  now = 0;
  replaying = false;
  private bank: SecAggBank | undefined;
  private train: { x: Float64Array[]; y: Uint8Array } | undefined;
  private test: { x: Float64Array[]; y: Uint8Array } | undefined;

  constructor(
    readonly spec: ConsortiumSpec,
    readonly role: string,
    private readonly deps: ConsortiumBankDeps,
  ) {}

  private get dataset(): string {
    const i = Number(/^bank-(\d+)$/.exec(this.role)?.[1]) - 1;
    const b = this.spec.banks[i];
    if (!b) throw new IndomainError('SRV_UNKNOWN_PARTY', `role "${this.role}"`);
    return b.dataset;
  }

  async startStage(stage: string): Promise<Envelope[] | null> {
    if (stage !== 'training') throw new IndomainError('SRV_BAD_REQUEST', `a consortium-lr job has no stage "${stage}"`, { field: 'stage' });
    this.stage = stage;
    const store = this.deps.store;
    const d = store.dataset(this.dataset);
    if (!d) throw new IndomainError('SRV_NOT_FOUND', `dataset "${this.dataset}" is not registered on this node`, { field: 'dataset' });
    const t = loadDataset(d);
    if (!t.label) throw new IndomainError('SRV_BAD_REQUEST', `dataset "${this.dataset}" has no label column`, { field: 'dataset' });
    if (!this.replaying) store.tx(() => store.audit.append('data-access', this.spec.id, { dataset: this.dataset, rows: t.ids.length, stage }, this.now));
    const split = seededSplit(t.ids.length, this.spec.testFraction, `${this.spec.seed}:${this.role}`);
    const [tr, te] = [selectRows(t, split.train), selectRows(t, split.test)];
    this.train = { x: columns(tr, this.spec.features), y: tr.label! };
    this.test = { x: columns(te, this.spec.features), y: te.label! };
    const secret = store.secret(this.spec.id, 'secagg-bank', () => randomBytes(32));
    this.bank = new SecAggBank(this.role, consortiumSecAgg(this.spec, this.deps.identities), secretRng(secret, 'secagg-bank'), {}, this.deps.sign);
    this.summary = { stage, trainRows: tr.ids.length, testRows: te.ids.length };
    return this.bank.start();
  }

  async receive(env: Envelope): Promise<Envelope[] | null> {
    if (!this.bank) return null;
    if (env.protocol === 'secagg') return this.bank.receive(env);
    if (env.protocol !== CONSORTIUM_LR || env.type !== 'Iterate') throw new IndomainError('SRV_BAD_REQUEST', `a bank does not take ${env.protocol}/${env.type} in a consortium job`);
    // The next round opens once this bank has the last one's result (or the key set-up).
    if (!this.bank.done) return null;
    const w = env.body.weights as Float64Array;
    if (env.body.final === true) return [this.evaluate(w)];
    return this.bank.submit(env.round, w.length === 0 ? this.counts() : this.sums(w));
  }

  private counts(): Float64Array {
    const y = this.train!.y;
    return Float64Array.of(y.length, y.reduce((s, v) => s + v, 0));
  }

  /** This bank's (n, gradient, upper Hessian) at `w`, as horizontal.ts computes it. */
  private sums(w: Float64Array): Float64Array {
    const { x: cols, y } = this.train!;
    const n = y.length;
    const x = [ones(n), ...cols];
    const d = x.length;
    if (w.length !== d) throw new IndomainError('SRV_BAD_REQUEST', `iterate of ${w.length} values for ${d} columns`, { field: 'weights' });
    const z = linearPredictor(x, w, n);
    const wt = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = sigmoid(z[i]!);
      wt[i] = p * (1 - p);
      z[i] = p - y[i]!;
    }
    const out = new Float64Array(1 + d + (d * (d + 1)) / 2);
    out[0] = n;
    out.set(transposeTimes(x, z), 1);
    out.set(upper(crossGram(x, x, wt), d), 1 + d);
    return out;
  }

  /** The consortium model and this bank's own model on this bank's test rows (kept in its own view). */
  private evaluate(w: Float64Array): Envelope {
    const { x, y } = this.test!;
    const c = binaryMetrics(predictLogistic({ intercept: w[0]!, weights: w.slice(1) }, x), y);
    const own = fitLogistic(this.train!.x, this.train!.y, { lambda: consortiumLrConfig(this.spec).lambda, optimizer: 'newton' });
    const o = binaryMetrics(predictLogistic(own, x), y);
    this.stage = 'evaluation';
    this.summary = {
      ...this.summary,
      stage: 'evaluation',
      model: { intercept: w[0], weights: [...w.slice(1)] },
      consortium: { testAuc: c.auc, testKs: c.ks },
      own: { testAuc: o.auc, testKs: o.ks },
      done: true,
    };
    return envelope(this.spec.id, JOB, 'StageDone', 1, this.role, 'coordinator', { stage: 'evaluation', report: {} });
  }
}
