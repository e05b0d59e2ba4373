/**
 * Online federated scoring, the platform's side: for a signed request of the model's bank, the
 * platform's part of each enterprise it knows and that has a valid authorisation for that bank and
 * purpose at that moment; otherwise a coded outcome, never a default score. A scorecard's part is
 * its integer partial points (server/scoring/bank-scorer.ts: the whole exchange and what the bank
 * may learn); an `lr` model's (one answerer per pipeline, each at its own path) is its partial
 * logit, from its raw values through its own stored preparation (server/scoring/lr-part.ts).
 */
import { DEFAULT_LIMITS, type NodeLimits } from '../limits.ts';
import { IndomainError } from '../../engine/errors.ts';
import { binOf } from '../../models/export/model.ts';
import type { SharedCharacteristic } from '../../protocols/scorecard/host.ts';
import { SCORING_PURPOSES, type AuthorisationRegistry, type Purpose } from '../authz.ts';
import { parseJobSpec, type JobSpec } from '../jobs/spec.ts';
import { loadDataset, type NodeStore } from '../store/node-store.ts';
import { answerSigned } from '../transport/answer.ts';
import { LR_SCORE_EXCHANGE, SCORE_EXCHANGE } from '../transport/exchange.ts';
import { lrPartialLogits } from '../../engine/scoring.ts';
import { compiledLr, partColumns, storedLr } from './lr-part.ts';
import type { Gate } from '../transport/gate.ts';

interface HostIndex {
  spec: JobSpec;
  registeredAt: number;
  row: Map<string, number>;
  /** Integer partial points (scorecard) or partial logits (`lr`) per row of the dataset. */
  values: Float64Array;
  maxPoints: number;
}

/** The platform's side: partial scores of its own enterprises, for authorised requests only. */
export class PlatformScorer {
  private readonly cache = new Map<string, HostIndex>();

  constructor(
    private readonly store: NodeStore,
    private readonly authz: AuthorisationRegistry,
    private readonly gate: Gate,
    private readonly limits: NodeLimits = DEFAULT_LIMITS,
    private readonly pipeline: 'scorecard' | 'lr' = 'scorecard',
    /** The purposes a score is given for; only tests/attacks/score-purpose.test.ts widens them. */
    private readonly purposes: readonly string[] = SCORING_PURPOSES,
  ) {}

  private index(model: string): { spec: JobSpec; idx: HostIndex } {
    const hit = this.cache.get(model);
    // A re-registered dataset (the platform's data refreshed) invalidates the index.
    if (hit && this.store.dataset(hit.spec.host.dataset)?.registeredAt === hit.registeredAt) return { spec: hit.spec, idx: hit };
    const job = this.store.job(model);
    if (!job) throw new IndomainError('SC_UNKNOWN_MODEL', `"${model}"`, { field: 'model' });
    const spec = parseJobSpec(job.spec);
    if (spec.pipeline !== this.pipeline) throw new IndomainError('SC_UNKNOWN_MODEL', `"${model}"`, { field: 'model' });
    const d = this.store.dataset(spec.host.dataset);
    if (!d) throw new IndomainError('SC_UNKNOWN_MODEL', `dataset "${spec.host.dataset}" of model "${model}" is gone`);
    const t = loadDataset(d);
    const part = spec.pipeline === 'lr' ? this.lrPart(model, t) : this.points(model, t);
    const idx: HostIndex = { spec, registeredAt: d.registeredAt, row: new Map(t.ids.map((id, i) => [id, i])), ...part };
    this.cache.set(model, idx);
    return { spec, idx };
  }

  /** A scorecard's integer partial points of every row, and the highest possible. */
  private points(model: string, t: ReturnType<typeof loadDataset>): { values: Float64Array; maxPoints: number } {
    const deployed = this.store.model(model, 'host') as { characteristics?: SharedCharacteristic[] } | undefined;
    if (!deployed?.characteristics) throw new IndomainError('SC_UNKNOWN_MODEL', `"${model}"`, { field: 'model' });
    const values = new Float64Array(t.ids.length);
    for (const c of deployed.characteristics) {
      const col = t.features[t.featureNames.indexOf(c.feature)];
      if (!col) throw new IndomainError('SC_UNKNOWN_MODEL', `feature "${c.feature}" is not in the model's dataset`);
      for (let i = 0; i < values.length; i++) values[i]! += c.points[binOf(c, col[i]!)]!;
    }
    return { values, maxPoints: deployed.characteristics.reduce((s, c) => s + Math.max(...c.points), 0) };
  }

  /** An `lr` model's partial logit of every row: the platform's raw columns through its own preparation. */
  private lrPart(model: string, t: ReturnType<typeof loadDataset>): { values: Float64Array; maxPoints: number } {
    const k = compiledLr(model, 'host', storedLr(this.store, model, 'host'));
    let cols: Float64Array[];
    try {
      cols = partColumns(k, t);
    } catch {
      // The refusal goes to the bank: the platform's feature names stay here.
      throw new IndomainError('SC_UNKNOWN_MODEL', "a feature of the model is not in the model's dataset");
    }
    return { values: lrPartialLogits(k, cols), maxPoints: 0 };
  }

  /**
   * Answer a verified request from `sender` for a batch of enterprises (concurrent requests the
   * bank coalesced); the reply bytes. Each enterprise gets its partial score or a coded outcome.
   */
  answer(sender: string, bytes: Uint8Array): Promise<Uint8Array> {
    const lr = this.pipeline === 'lr';
    return answerSigned(this.store, this.gate, lr ? LR_SCORE_EXCHANGE : SCORE_EXCHANGE, sender, bytes, this.limits, ({ model, purpose, ids }) => {
      const { spec, idx } = this.index(model);
      if (spec.guest.node !== sender) throw new IndomainError('SRV_UNKNOWN_PARTY', `"${sender}" is not the bank of model "${model}"`);
      // A modelling authorisation is consent to train, not to be scored (server/authz.ts SCORING_PURPOSES).
      if (!this.purposes.includes(purpose)) throw new IndomainError('SRV_BAD_REQUEST', 'not a purpose a score is given for', { field: 'purpose' });
      const now = Date.now();
      const values = new Float64Array(ids.length);
      const outcomes = ids.map((id, k) => {
        // Checked at the moment of use: a revocation takes effect on the next request.
        const why = this.authz.check(id, sender, purpose as Purpose, now);
        if (why !== 'valid') return `AUTH_NOT_AUTHORISED:${why}`;
        const row = idx.row.get(id);
        if (row === undefined) return 'SC_UNKNOWN_ENTERPRISE';
        // An enterprise whose values overflow its part (|x| near 1e308) is refused alone: the reply's
        // declared f64 holds finite numbers only, and one such row would have blocked the whole batch.
        if (!Number.isFinite(idx.values[row]!)) return 'SC_BAD_FEATURE:out of range';
        values[k] = idx.values[row]!;
        return '';
      });
      const scored = ids.filter((_, k) => outcomes[k] === '');
      return { body: lr ? { logits: values, outcomes } : { points: values, maxPoints: idx.maxPoints, outcomes }, recorded: { scored, refused: ids.length - scored.length } };
    });
  }

}
