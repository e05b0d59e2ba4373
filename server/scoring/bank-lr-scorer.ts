/**
 * Federated scoring of an `lr` model, the bank's side: online (`POST /v1/score`) and batch (a
 * registered dataset, the bank's book, in; a CSV of scores out). The bank computes its partial
 * logit, intercept included, from its raw features through its own stored preparation (training
 * mean for a missing value, `<feature>_missing` indicators, z-scores: README "Missing values");
 * the platform computes its partial logit from its own raw values through its own preparation
 * (server/scoring/platform-scorer.ts) and sends that number only (score-lr/PartialLogits). The
 * bank never sees a platform raw value, weight or statistic; the joint logit is the sum, the
 * probability its logistic. Online and batch run the same kernel (engine/scoring-kernel.mjs), on
 * this thread for one enterprise and on the worker pool for a book, so they give the same numbers.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { IndomainError, isIndomainError } from '../../engine/errors.ts';
import { lrPartialLogits, ScoringPool, SharedBatch, type CompiledLr } from '../../engine/scoring.ts';
import { sigmoid } from '../../models/logistic.ts';
import type { Purpose } from '../authz.ts';
import type { BankGrants } from '../grants.ts';
import { DEFAULT_LIMITS, type NodeLimits } from '../limits.ts';
import { parseJobSpec, type JobSpec } from '../jobs/spec.ts';
import { loadDataset, type NodeStore } from '../store/node-store.ts';
import { LR_SCORE_EXCHANGE, type SignedClient } from '../transport/exchange.ts';
import type { Peer } from '../transport/peer.ts';
import { compiledLr, partColumns, storedLr } from './lr-part.ts';
import { PlatformParts } from './platform-parts.ts';

export interface LrScoreResult {
  model: string;
  id: string;
  /** The joint model's probability of default: the logistic of `logit`. */
  probability: number;
  logit: number;
  /** The two partial logits, the bank's with the intercept; their sum is `logit`. */
  partial: { bank: number; platform: number };
}

export class BankLrScorer {
  private readonly models = new Map<string, { k: CompiledLr; spec: JobSpec; known: ReadonlyMap<string, number> }>();
  /** Which models are `lr` models (their job's pipeline), so that a request goes to the right scorer. */
  private readonly pipelines = new Map<string, string>();
  private readonly parts: PlatformParts<number>;

  constructor(
    private readonly store: NodeStore,
    private readonly peers: ReadonlyMap<string, Peer>,
    client: SignedClient,
    grants: BankGrants,
    private readonly limits: NodeLimits = DEFAULT_LIMITS,
  ) {
    this.parts = new PlatformParts(LR_SCORE_EXCHANGE, client, grants, limits, (b, n) => {
      const logits = b.logits as Float64Array;
      if (logits.length !== n) throw new IndomainError('SRV_BAD_REQUEST', `${logits.length} partial logits for ${n} enterprises`);
      if (!logits.every(Number.isFinite)) throw new IndomainError('SRV_BAD_REQUEST', 'partial logits must be finite', { field: 'logits' });
      return (k) => logits[k]!;
    });
  }

  /** Whether `model` is an `lr` job's model on this node. */
  owns(model: string): boolean {
    let p = this.pipelines.get(model);
    if (p === undefined) {
      const job = this.store.job(model);
      if (!job) return false;
      this.pipelines.set(model, (p = parseJobSpec(job.spec).pipeline));
    }
    return p === 'lr';
  }

  /** The bank's compiled part (cached), its feature positions by name, and the platform peer. */
  private deployed(model: string): { k: CompiledLr; known: ReadonlyMap<string, number>; platform: Peer } {
    let d = this.models.get(model);
    if (!d) {
      const job = this.store.job(model);
      if (!job) throw new IndomainError('SC_UNKNOWN_MODEL', `"${model}"`, { field: 'model' });
      const k = compiledLr(model, 'guest', storedLr(this.store, model, 'guest'));
      this.models.set(model, (d = { k, spec: parseJobSpec(job.spec), known: new Map(k.fields.map((f, j) => [f, j])) }));
    }
    const platform = this.peers.get(d.spec.host.node);
    if (!platform) throw new IndomainError('SRV_UNKNOWN_PEER', d.spec.host.node);
    return { k: d.k, known: d.known, platform };
  }

  /**
   * Score one enterprise. Every feature named must be one of the model's bank features, with a
   * finite number or null; a feature left out or null is missing (training mean, and its indicator
   * where the model has one). A misspelt name or a value of another type is SC_BAD_FEATURE naming
   * the field, never taken as missing or coerced.
   */
  async score(model: string, id: string, features: Record<string, unknown>, purpose: Purpose = 'pre-loan'): Promise<LrScoreResult> {
    if (id.length > this.limits.idLength) throw new IndomainError('SRV_LIMIT_EXCEEDED', `an id longer than ${this.limits.idLength} characters`, { field: 'id' });
    const { k, known, platform } = this.deployed(model);
    const cols = k.fields.map(() => Float64Array.of(Number.NaN));
    for (const [name, raw] of Object.entries(features)) {
      const field = `features/${name.slice(0, 64)}`;
      const j = known.get(name);
      if (j === undefined) throw new IndomainError('SC_BAD_FEATURE', 'not a feature of this model', { field });
      if (raw !== null && !(typeof raw === 'number' && Number.isFinite(raw))) throw new IndomainError('SC_BAD_FEATURE', 'must be a finite number or null', { field });
      if (raw !== null) cols[j]![0] = raw;
    }
    const bank = lrPartialLogits(k, cols)[0]!;
    // Finite values can still overflow the sum (|x| near 1e308): refused here, before the platform is asked.
    if (!Number.isFinite(bank)) throw new IndomainError('SC_BAD_FEATURE', OUT_OF_RANGE, { field: 'features' });
    const x = joint(model, id, bank, await this.parts.get(platform, model, purpose, id));
    if (!Number.isFinite(x.logit)) throw new IndomainError('SC_BAD_FEATURE', OUT_OF_RANGE, { field: 'features' });
    return x;
  }

  /**
   * Federated batch scoring of a registered dataset (the bank's book, a CSV with the model's bank
   * features; missing cells are missing values): every row gets its probability and logits or its
   * coded outcome. Writes `jobs/MODEL/batch-PURPOSE-TIME.csv` in the bank's data directory:
   * `id,outcome,probability,logit,bank,platform`, numbers in shortest round-trip form.
   */
  async scoreBatch(model: string, dataset: string, purpose: Purpose, chunk = Math.min(2000, this.limits.idsPerRequest)): Promise<{ rows: number; scored: number; outcomes: Record<string, number>; file: string; seconds: number }> {
    const t0 = Date.now();
    const d = this.store.dataset(dataset);
    if (!d) throw new IndomainError('SRV_NOT_FOUND', `dataset "${dataset}"`, { field: 'dataset' });
    const t = loadDataset(d);
    const { k, platform } = this.deployed(model);
    const bank = await poolLogits(k, partColumns(k, t));
    const lines = ['id,outcome,probability,logit,bank,platform'];
    const outcomes: Record<string, number> = {};
    let scored = 0;
    for (let s = 0; s < t.ids.length; s += chunk) {
      const ids = t.ids.slice(s, s + chunk);
      // Issued in one turn: the platform gets them as one signed exchange. A row whose own part
      // overflowed is refused here and not named to the platform.
      const settled = await Promise.allSettled(ids.map((id, j) => (Number.isFinite(bank[s + j]!) ? this.parts.get(platform, model, purpose, id) : Promise.reject(new IndomainError('SC_BAD_FEATURE', OUT_OF_RANGE)))));
      settled.forEach((r, j) => {
        const id = ids[j]!;
        const x = r.status === 'fulfilled' ? joint(model, id, bank[s + j]!, r.value) : undefined;
        if (!x || !Number.isFinite(x.logit)) {
          const code = r.status === 'fulfilled' ? 'SC_BAD_FEATURE' : isIndomainError(r.reason) ? r.reason.code : 'SRV_INTERNAL';
          outcomes[code] = (outcomes[code] ?? 0) + 1;
          lines.push(`${id},${code},,,,`);
          return;
        }
        scored++;
        lines.push(`${id},OK,${x.probability},${x.logit},${x.partial.bank},${x.partial.platform}`);
      });
    }
    const dir = join(this.store.dir, 'jobs', model);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `batch-${purpose}-${new Date().toISOString().replace(/[:.]/g, '-')}.csv`);
    writeFileSync(file, lines.join('\n') + '\n');
    return { rows: t.ids.length, scored, outcomes, file, seconds: (Date.now() - t0) / 1000 };
  }
}

const OUT_OF_RANGE = "a value is out of the model's range: its partial logit is not a finite number";

function joint(model: string, id: string, bank: number, platform: number): LrScoreResult {
  const logit = bank + platform;
  return { model, id, probability: sigmoid(logit), logit, partial: { bank, platform } };
}

/** The bank's partial logits of a book on the worker pool: the columns in shared memory, the kernel in every worker. */
async function poolLogits(k: CompiledLr, cols: readonly Float64Array[]): Promise<Float64Array> {
  const rows = cols[0]?.length ?? 0;
  const batch = new SharedBatch(cols.length, rows);
  cols.forEach((c, j) => batch.cols[j]!.set(c));
  const pool = new ScoringPool(Math.max(1, Math.min(2, availableParallelism())));
  try {
    await pool.attach(batch);
    return Float64Array.from(await pool.lr(await pool.load(k)));
  } finally {
    await pool.close();
  }
}
