/**
 * The coordinator's part of a job: it starts each stage on both nodes and moves to the next stage
 * when both nodes report the current one done. It holds no raw data.
 *
 * Three-party jobs (`"arbiter": "coordinator"`, the default): it also runs the arbiter of `vfl-lr`
 * (it holds that protocol's CKKS key and sees only aggregates) and of the scorecard stage
 * (training-sample aggregates and the Fisher information from padded shares, see
 * protocols/scorecard/arbiter.ts).
 *
 * Two-party jobs (`"arbiter": "none"`): no arbiter. It holds no key and receives metadata only:
 * stage reports (counts), and the bank's round numbers (job/TrainingRound) for progress. No
 * BankMetrics either: the bank keeps its test metrics in its own view of the job.
 */
import { IndomainError } from '../../engine/errors.ts';
import { randomBytes } from 'node:crypto';
import { secretRng } from '../../engine/rng.ts';
import { createCkks } from '../../protocols/he/ckks.ts';
import type { Envelope } from '../../protocols/message.ts';
import { vflConfig, VflArbiter } from '../../protocols/vfl-lr/protocol.ts';
import { ScorecardArbiter, scorecardConfig } from '../../protocols/scorecard/protocol.ts';
import { envelope, isTwoParty, STAGES, stripDeclarations, type JobSpec } from './spec.ts';
import { JOB } from '../messages.ts';
import type { NodeStore } from '../store/node-store.ts';

export interface StageTiming {
  stage: string;
  startedAt: number;
  finishedAt?: number;
}

export class CoordinatorJob {
  private arbiter: VflArbiter | undefined;
  private scorecardArbiter: ScorecardArbiter | undefined;
  private readonly reported = new Map<string, Map<string, Record<string, unknown>>>();
  readonly timings: StageTiming[] = [];
  stage = '';
  finished = false;
  result: Record<string, unknown> | undefined;
  /** The bank's test metrics (BankMetrics), shown with its evaluation report. */
  private metrics: Record<string, unknown> | undefined;
  /** Two-party jobs: the last training round the bank reported finished (job/TrainingRound). */
  private reportedRound = 0;

  constructor(
    readonly spec: JobSpec,
    private readonly store: NodeStore,
  ) {}

  private get stages(): readonly string[] {
    return STAGES[this.spec.pipeline];
  }

  /** The messages that start the job: the spec to both nodes, then the first stage. */
  create(): Envelope[] {
    const spec = JSON.stringify(this.spec);
    return [
      envelope(this.spec.id, JOB, 'JobStart', 0, 'coordinator', 'guest', { spec }),
      envelope(this.spec.id, JOB, 'JobStart', 0, 'coordinator', 'host', { spec }),
      ...this.begin(this.stages[0]!, Date.now()),
    ];
  }

  private begin(stage: string, now: number): Envelope[] {
    this.stage = stage;
    this.timings.push({ stage, startedAt: now });
    const round = this.stages.indexOf(stage);
    return [
      envelope(this.spec.id, JOB, 'StageStart', round, 'coordinator', 'guest', { stage }),
      envelope(this.spec.id, JOB, 'StageStart', round, 'coordinator', 'host', { stage }),
    ];
  }

  /** Handle a message; null when it cannot be handled yet. `now` comes from the inbox record. */
  async receive(env: Envelope, now: number): Promise<Envelope[] | null> {
    if (env.protocol === 'vfl-lr') return this.arbiter ? [...this.arbiter.receive(env), ...this.arbiter.flush()] : null;
    if (env.protocol === 'scorecard') return this.scorecardArbiter ? this.scorecardArbiter.receive(env) : null;
    if (env.protocol === JOB && env.type === 'TrainingRound' && isTwoParty(this.spec)) {
      this.reportedRound = Math.max(this.reportedRound, Number(env.body.round));
      return [];
    }
    if (env.protocol === JOB && env.type === 'BankMetrics' && !isTwoParty(this.spec)) {
      this.metrics = { ...env.body };
      return [];
    }
    if (env.protocol !== JOB || env.type !== 'StageDone') throw new IndomainError('SRV_BAD_REQUEST', `the coordinator does not take ${env.protocol}/${env.type}`);
    const stage = env.body.stage as string;
    // Declared sub-fields only (the gates of both ends check them); a legacy report (tests/attacks
    // only) is the sender's summary as a JSON string.
    let summary: Record<string, unknown>;
    if (typeof env.body.summary === 'string') {
      try {
        summary = JSON.parse(env.body.summary) as Record<string, unknown>;
      } catch {
        throw new IndomainError('SRV_BAD_REQUEST', 'StageDone summary is not JSON', { field: 'summary' });
      }
    } else summary = { ...(env.body.report as Record<string, unknown>) };
    if (stage === 'evaluation' && env.from === 'guest' && this.metrics) summary = { ...summary, ...this.metrics };
    if (!this.reported.has(stage)) this.reported.set(stage, new Map());
    this.reported.get(stage)!.set(env.from, summary);
    if (stage !== this.stage || this.reported.get(stage)!.size < 2) return [];
    this.timings[this.timings.length - 1]!.finishedAt = now;
    const next = this.stages[this.stages.indexOf(stage) + 1];
    if (!next) {
      this.finished = true;
      this.result = this.summaries();
      return [];
    }
    const out = this.begin(next, now);
    if (next === 'training' && !isTwoParty(this.spec)) {
      const config = vflConfig(this.spec.id, this.spec.training ?? {});
      const ckks = await createCkks(config.params);
      // Flooding noise and the cross-Gram triple come from a secret seed kept in this node's store
      // (never the job's public seed, which every party knows), so a restarted coordinator replays
      // the same values. The secret key is kept there too, so it can still decrypt.
      const stored = this.store.storedSecret(this.spec.id, 'vfl-lr-ckks-secret');
      const secret = this.store.secret(this.spec.id, 'vfl-lr-arbiter-rng', () => randomBytes(32));
      // A CKKS key pair only where a scorecard stage will use it (training needs none).
      this.arbiter = new VflArbiter(
        ckks,
        config,
        secretRng(secret, 'vfl-lr-arbiter'),
        { ...(stored ? { stored } : {}), keep: (b) => this.store.keepSecret(this.spec.id, 'vfl-lr-ckks-secret', b) },
        { keys: this.stages.includes('scorecard') },
      );
      out.push(...this.arbiter.start());
    }
    if (next === 'scorecard' && !isTwoParty(this.spec)) {
      // The same key pair as training (kept in this node's store), now for the Fisher information.
      const keys = this.arbiter?.keyOwner;
      if (!keys) throw new IndomainError('SRV_JOB_FAILED', 'no arbiter key pair from training');
      const ckks = await createCkks(vflConfig(this.spec.id, this.spec.training ?? {}).params);
      this.scorecardArbiter = new ScorecardArbiter(ckks, keys, scorecardConfig(this.spec.id, stripDeclarations(this.spec.scorecard)));
      out.push(...this.scorecardArbiter.start());
    }
    return out;
  }

  /** The training round: the arbiter's, or in a two-party job the bank's last report. */
  private get round(): number {
    return this.arbiter?.round ?? this.reportedRound;
  }

  summaries(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [stage, m] of this.reported) out[stage] = Object.fromEntries(m);
    return {
      stages: out,
      timings: this.timings.map((t) => ({ stage: t.stage, seconds: t.finishedAt ? (t.finishedAt - t.startedAt) / 1000 : null })),
      training: this.arbiter ? { iterations: this.arbiter.iterations, converged: this.arbiter.converged, gradientNorms: this.arbiter.gradientNorms } : isTwoParty(this.spec) ? { arbiter: 'none', rounds: this.reportedRound } : null,
    };
  }

  /**
   * Progress for status: stage index, training round, and an ETA. The ETA is a bound from what
   * is known: in training, the seconds per round so far times the rounds left to the limit, plus
   * the later stages at the time the earlier non-training stages took; before training, null.
   */
  progress(now = Date.now()): Record<string, unknown> {
    const idx = this.stages.indexOf(this.stage);
    const maxIterations = vflConfig(this.spec.id, this.spec.training ?? {}).maxIterations;
    const t = this.timings[this.timings.length - 1];
    let eta: number | null = null;
    if (this.finished) eta = 0;
    else if (this.stage === 'training' && t && this.round > 0) {
      const perRound = (now - t.startedAt) / 1000 / this.round;
      const rest = this.stages.length - idx - 1;
      eta = perRound * (maxIterations - this.round) + rest * 2;
    }
    return {
      stage: this.stage,
      stageIndex: idx,
      stages: this.stages,
      trainingRound: this.stages.indexOf('training') <= idx && (this.arbiter || isTwoParty(this.spec)) ? this.round : null,
      maxIterations,
      secondsPerStage: this.timings.map((x) => ({ stage: x.stage, seconds: ((x.finishedAt ?? now) - x.startedAt) / 1000 })),
      etaSecondsAtMost: eta,
    };
  }
}
