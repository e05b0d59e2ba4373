/**
 * Online federated scoring, the bank's side. The bank's `POST /v1/score` takes an enterprise id and the bank's own
 * features, scores the bank's characteristics, asks the platform (signed `POST /v1/peer/score`) for
 * the platform's integer partial points (never a logit or any finer value), and returns score,
 * probability (the one the integer score stands for), band and reason codes. The platform
 * answers only for an enterprise it knows and that has a valid authorisation for that bank and
 * purpose at that moment; otherwise the outcome is an explicit coded error, never a default score.
 * The bank names only enterprises it holds an authorisation for (its copy, server/grants.ts); it
 * refuses the others itself, and their ids never reach the platform.
 * Both sides audit the exchange (group commit, before answering) and the answer passes the
 * platform's egress gate.
 *
 * What the bank may learn of the platform's part (issue 12). A bank that gets a joint score learns
 * the platform's partial points, its score less its own part: no protocol hides that sum from it.
 * So the platform sends the integer sum and nothing finer: a float partial logit is a sum of
 * coefficient × WOE terms that, with the platform's table, identifies every bin of the enterprise
 * (tests/attacks/decode-platform-bins: all 20 bins of 496 of 496 enterprises). Between the integer
 * sum and the bins stands the platform's points table:
 *   `partial`  the bank holds no platform points, coefficients or logits; decoding the sums does no
 *              better than guessing from the bin shares.
 *   `full`     the platform gives the bank its table (model documentation, validation,
 *              explanation); each sum then narrows the enterprise's platform bins down, the more
 *              so the fewer the characteristics: with default_credit's 6, 76% of bins decoded
 *              (all six for 45% of enterprises) against 56% (7%) from the bin shares alone; with
 *              the lab's 20, 58.3% against 57.2%.
 * A platform whose enterprises' bins must stay with it chooses `partial`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IndomainError, isIndomainError } from '../../engine/errors.ts';
import type { PartyTable } from '../../engine/table.ts';
import type { ScorecardModel } from '../../models/export/model.ts';
import type { Purpose } from '../authz.ts';
import type { BankGrants } from '../grants.ts';
import { DEFAULT_LIMITS, type NodeLimits } from '../limits.ts';
import { parseJobSpec, type JobSpec } from '../jobs/spec.ts';
import { loadDataset, type NodeStore } from '../store/node-store.ts';
import { SCORE_EXCHANGE, type SignedClient } from '../transport/exchange.ts';
import type { Peer } from '../transport/peer.ts';
import { bestPoints, combine, guestPart, type PlatformPart, type RowResult, type ScoreResult } from './combine.ts';
import { PlatformParts } from './platform-parts.ts';

/** A deployed scorecard as the bank scores with it. */
interface Deployed {
  m: ScorecardModel;
  own: ScorecardModel['characteristics'];
  /** The best points of each of `own`. */
  best: number[];
}

/** The bank's side: its characteristics here, the platform's partial score over signed HTTP. */
export class BankScorer {
  private readonly models = new Map<string, Deployed & { spec: JobSpec; known: ReadonlySet<string> }>();
  /** The platform's integer partial points, requests coalesced per (model, purpose). */
  private readonly parts: PlatformParts<PlatformPart>;

  constructor(
    private readonly store: NodeStore,
    private readonly peers: ReadonlyMap<string, Peer>,
    client: SignedClient,
    grants: BankGrants,
    private readonly limits: NodeLimits = DEFAULT_LIMITS,
  ) {
    this.parts = new PlatformParts(SCORE_EXCHANGE, client, grants, limits, (b, n) => {
      const r = b as unknown as { points: Float64Array; maxPoints: number };
      if (r.points.length !== n) throw new IndomainError('SRV_BAD_REQUEST', `${r.points.length} partial points for ${n} enterprises`);
      if (!r.points.every(Number.isInteger)) throw new IndomainError('SRV_BAD_REQUEST', 'partial points must be integers', { field: 'points' });
      return (k) => ({ points: r.points[k]!, maxPoints: r.maxPoints });
    });
  }

  private platformPartial(platform: Peer, model: string, purpose: Purpose, id: string): Promise<PlatformPart> {
    return this.parts.get(platform, model, purpose, id);
  }

  /** A deployed scorecard (cached), its bank characteristics, the feature names it knows, and the platform peer. */
  private deployed(model: string): Deployed & { platform: Peer; known: ReadonlySet<string> } {
    let d = this.models.get(model);
    if (!d) {
      const m = this.store.model(model, 'scorecard') as ScorecardModel | undefined;
      const job = this.store.job(model);
      if (!m || !job) throw new IndomainError('SC_UNKNOWN_MODEL', `"${model}"`, { field: 'model' });
      const own = m.characteristics.filter((c) => c.party === 'guest');
      const spec = parseJobSpec(job.spec);
      const columns = this.store.dataset(spec.guest.dataset)?.features;
      const known = new Set([...own.map((c) => c.field.slice('guest_'.length)), ...(columns ? (JSON.parse(columns) as string[]) : [])]);
      this.models.set(model, (d = { m, spec, own, best: bestPoints(own), known }));
    }
    const platform = this.peers.get(d.spec.host.node);
    if (!platform) throw new IndomainError('SRV_UNKNOWN_PEER', d.spec.host.node);
    return { m: d.m, own: d.own, best: d.best, platform, known: d.known };
  }

  /**
   * Score one enterprise. The id is bounded before it is echoed or audited; every feature must be
   * one this bank knows for the model (a characteristic of it, or a column of the dataset it was
   * trained on) with a finite number or null (no value) — a misspelt name or a string is refused
   * with SC_BAD_FEATURE, never taken as a missing value or coerced.
   */
  async score(model: string, id: string, features: Record<string, unknown>, purpose: Purpose = 'pre-loan'): Promise<ScoreResult> {
    if (id.length > this.limits.idLength) throw new IndomainError('SRV_LIMIT_EXCEEDED', `an id longer than ${this.limits.idLength} characters`, { field: 'id' });
    const { m, own, best, platform, known } = this.deployed(model);
    for (const [name, raw] of Object.entries(features)) {
      const field = `features/${name.slice(0, 64)}`;
      if (!known.has(name)) throw new IndomainError('SC_BAD_FEATURE', 'not a feature of this model or of its dataset', { field });
      if (raw !== null && !(typeof raw === 'number' && Number.isFinite(raw))) throw new IndomainError('SC_BAD_FEATURE', 'must be a finite number or null', { field });
    }
    const values = own.map((c) => {
      const raw = features[c.field.slice('guest_'.length)];
      return typeof raw === 'number' ? raw : NaN;
    });
    const g = guestPart(m, own, best, values);
    const p = await this.platformPartial(platform, model, purpose, id);
    return combine(m, own, model, id, g, p);
  }

  /**
   * Federated batch scoring of a registered dataset (the bank's book): the bank scores its part
   * here, the platform its part for the authorised enterprises (in chunks of signed exchanges),
   * the bank combines; every row gets a score with reason codes or its coded outcome. Writes
   * `jobs/MODEL/batch-PURPOSE-TIME.csv` in the bank's data directory.
   */
  async scoreBatch(model: string, dataset: string, purpose: Purpose): Promise<{ rows: number; scored: number; outcomes: Record<string, number>; file: string; seconds: number }> {
    const t0 = Date.now();
    const { table, results } = await this.scoreRows(model, dataset, purpose);
    const lines = ['id,outcome,score,probability,band,reasons'];
    const outcomes: Record<string, number> = {};
    let scored = 0;
    for (const r of results) {
      if (r.code) {
        outcomes[r.code] = (outcomes[r.code] ?? 0) + 1;
        lines.push(`${r.id},${r.code},,,,`);
      } else {
        scored++;
        lines.push(`${r.id},OK,${r.score},${r.probability},"${r.band}",${r.reasonCodes!.join(' ')}`);
      }
    }
    const dir = join(this.store.dir, 'jobs', model);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `batch-${purpose}-${new Date().toISOString().replace(/[:.]/g, '-')}.csv`);
    writeFileSync(file, lines.join('\n') + '\n');
    return { rows: table.ids.length, scored, outcomes, file, seconds: (Date.now() - t0) / 1000 };
  }

  /** Score every row of a registered dataset; each result is a score or a coded outcome. */
  async scoreRows(model: string, dataset: string, purpose: Purpose, chunk = Math.min(2000, this.limits.idsPerRequest)): Promise<{ table: PartyTable; results: RowResult[] }> {
    const d = this.store.dataset(dataset);
    if (!d) throw new IndomainError('SRV_NOT_FOUND', `dataset "${dataset}"`, { field: 'dataset' });
    const t = loadDataset(d);
    const { m: m0, own, best, platform } = this.deployed(model);
    const cols = own.map((c) => {
      const col = t.features[t.featureNames.indexOf(c.field.slice('guest_'.length))];
      if (!col) throw new IndomainError('SC_UNKNOWN_MODEL', `dataset "${dataset}" lacks ${c.field}`, { field: c.field });
      return col;
    });
    const results: RowResult[] = [];
    for (let s = 0; s < t.ids.length; s += chunk) {
      const ids = t.ids.slice(s, s + chunk);
      // Issued in one turn: the platform gets them as one signed exchange.
      const settled = await Promise.allSettled(ids.map((id) => this.platformPartial(platform, model, purpose, id)));
      settled.forEach((r, k) => {
        const i = s + k;
        const id = t.ids[i]!;
        if (r.status === 'rejected') results.push({ id, code: isIndomainError(r.reason) ? r.reason.code : 'SRV_INTERNAL' });
        else results.push({ ...combine(m0, own, model, id, guestPart(m0, own, best, cols.map((c) => c[i]!)), r.value) });
      });
    }
    return { table: t, results };
  }
}

