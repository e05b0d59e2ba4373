/**
 * Online federated scoring, the platform's side: for a signed request of the model's bank, the
 * platform's integer partial points of each enterprise it knows and that has a valid authorisation
 * for that bank and purpose at that moment; otherwise a coded outcome, never a default score.
 * See server/scoring/bank-scorer.ts for the whole exchange and what the bank may learn.
 */
import { DEFAULT_LIMITS, type NodeLimits } from '../limits.ts';
import { IndomainError } from '../../engine/errors.ts';
import { binOf } from '../../models/export/model.ts';
import type { SharedCharacteristic } from '../../protocols/scorecard/host.ts';
import { PURPOSES, type AuthorisationRegistry, type Purpose } from '../authz.ts';
import { parseJobSpec, type JobSpec } from '../jobs/spec.ts';
import { loadDataset, type NodeStore } from '../store/node-store.ts';
import { answerSigned } from '../transport/answer.ts';
import { SCORE_EXCHANGE } from '../transport/exchange.ts';
import type { Gate } from '../transport/gate.ts';

interface HostIndex {
  spec: JobSpec;
  registeredAt: number;
  row: Map<string, number>;
  points: Int32Array;
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
  ) {}

  private index(model: string): { spec: JobSpec; idx: HostIndex } {
    const hit = this.cache.get(model);
    // A re-registered dataset (the platform's data refreshed) invalidates the index.
    if (hit && this.store.dataset(hit.spec.host.dataset)?.registeredAt === hit.registeredAt) return { spec: hit.spec, idx: hit };
    const job = this.store.job(model);
    const deployed = this.store.model(model, 'host') as { characteristics?: SharedCharacteristic[]; weights: number[] } | undefined;
    if (!job || !deployed?.characteristics) throw new IndomainError('SC_UNKNOWN_MODEL', `"${model}"`, { field: 'model' });
    const spec = parseJobSpec(job.spec);
    let idx: HostIndex | undefined;
    {
      const d = this.store.dataset(spec.host.dataset);
      if (!d) throw new IndomainError('SC_UNKNOWN_MODEL', `dataset "${spec.host.dataset}" of model "${model}" is gone`);
      const t = loadDataset(d);
      const n = t.ids.length;
      const points = new Int32Array(n);
      for (const c of deployed.characteristics) {
        const col = t.features[t.featureNames.indexOf(c.feature)];
        if (!col) throw new IndomainError('SC_UNKNOWN_MODEL', `feature "${c.feature}" is not in dataset "${d.name}"`);
        for (let i = 0; i < n; i++) {
          const b = binOf(c, col[i]!);
          points[i]! += c.points[b]!;
        }
      }
      idx = { spec, registeredAt: d.registeredAt, row: new Map(t.ids.map((id, i) => [id, i])), points, maxPoints: deployed.characteristics.reduce((s, c) => s + Math.max(...c.points), 0) };
      this.cache.set(model, idx);
    }
    return { spec, idx };
  }

  /**
   * Answer a verified request from `sender` for a batch of enterprises (concurrent requests the
   * bank coalesced); the reply bytes. Each enterprise gets its partial score or a coded outcome.
   */
  answer(sender: string, bytes: Uint8Array): Promise<Uint8Array> {
    return answerSigned(this.store, this.gate, SCORE_EXCHANGE, sender, bytes, this.limits, ({ model, purpose, ids }) => {
      const { spec, idx } = this.index(model);
      if (spec.guest.node !== sender) throw new IndomainError('SRV_UNKNOWN_PARTY', `"${sender}" is not the bank of model "${model}"`);
      if (!(PURPOSES as readonly string[]).includes(purpose)) throw new IndomainError('SRV_BAD_REQUEST', `purpose "${purpose}"`, { field: 'purpose' });
      const now = Date.now();
      const points = new Float64Array(ids.length);
      const outcomes = ids.map((id, k) => {
        // Checked at the moment of use: a revocation takes effect on the next request.
        const why = this.authz.check(id, sender, purpose as Purpose, now);
        if (why !== 'valid') return `AUTH_NOT_AUTHORISED:${why}`;
        const row = idx.row.get(id);
        if (row === undefined) return 'SC_UNKNOWN_ENTERPRISE';
        points[k] = idx.points[row]!;
        return '';
      });
      const scored = ids.filter((_, k) => outcomes[k] === '');
      return { body: { points, maxPoints: idx.maxPoints, outcomes }, recorded: { scored, refused: ids.length - scored.length } };
    });
  }

}
