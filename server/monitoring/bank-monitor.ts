/**
 * Post-loan monitoring. The bank rescores its portfolio with a deployed scorecard (federated batch
 * scoring, purpose `post-loan`), compares it with the development sample's validation (test) rows,
 * the only rows whose joint score the bank holds (score stability and the stability of each of its
 * characteristics) and with the previous run (grade migration, score
 * drops), asks the platform for new public credit events (dishonest-debtor listing, enforcement
 * cases) on its authorised monitored enterprises, and stores alerts that its API lists.
 *
 * The platform keeps, per model, a snapshot of those records for the development sample taken when
 * the model was deployed, and reports only increases since the last check.
 */
import { DEFAULT_LIMITS, type NodeLimits } from '../limits.ts';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { csvRows } from '../../engine/csv.ts';
import { IndomainError } from '../../engine/errors.ts';
import { binOf, type ScorecardModel } from '../../models/export/model.ts';
import { shares, stabilityIndex } from '../../models/stability.ts';
import type { Envelope } from '../../protocols/message.ts';
import type { BankGrants } from '../grants.ts';
import { parseJobSpec } from '../jobs/spec.ts';
import type { BankScorer } from '../scoring/bank-scorer.ts';
import { loadDataset, type NodeStore } from '../store/node-store.ts';
import { MONITOR_EXCHANGE, type SignedClient } from '../transport/exchange.ts';
import type { Peer } from '../transport/peer.ts';

export interface MonitorOptions {
  model: string;
  dataset: string;
  /** Alert when an enterprise's score fell by more than this many points since the last run (or development). */
  dropPoints: number;
  /** Alert when a stability index exceeds this. */
  stabilityThreshold: number;
}

export interface Alert {
  seq?: number;
  model: string;
  runAt: number;
  kind: 'score-stability' | 'feature-stability' | 'score-drop' | 'dishonest-debtor' | 'enforcement';
  enterprise: string | null;
  detail: Record<string, unknown>;
}

/** The bank's side: a monitoring run and its alerts. */
export class BankMonitor {
  constructor(
    private readonly store: NodeStore,
    private readonly peers: ReadonlyMap<string, Peer>,
    private readonly scorer: BankScorer,
    private readonly client: SignedClient,
    private readonly grants: BankGrants,
    private readonly limits: NodeLimits = DEFAULT_LIMITS,
  ) {}

  alerts(model?: string): Alert[] {
    const rows = (model ? this.store.db.prepare('SELECT * FROM alerts WHERE model = ? ORDER BY seq').all(model) : this.store.db.prepare('SELECT * FROM alerts ORDER BY seq').all()) as {
      seq: number;
      model: string;
      run_at: number;
      kind: Alert['kind'];
      enterprise: string | null;
      detail: string;
    }[];
    return rows.map((r) => ({ seq: r.seq, model: r.model, runAt: r.run_at, kind: r.kind, enterprise: r.enterprise, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  async run(o: MonitorOptions) {
    const runAt = Date.now();
    const m = this.store.model(o.model, 'scorecard') as ScorecardModel | undefined;
    const job = this.store.job(o.model);
    if (!m || !job) throw new IndomainError('SC_UNKNOWN_MODEL', `"${o.model}"`, { field: 'model' });
    const spec = parseJobSpec(job.spec);
    const platform = this.peers.get(spec.host.node);
    if (!platform) throw new IndomainError('SRV_UNKNOWN_PEER', spec.host.node);
    // 1. Rescore the portfolio (federated batch scoring, post-loan purpose).
    const batch = await this.scorer.scoreRows(o.model, o.dataset, 'post-loan');
    const scored = batch.results.filter((r) => r.score !== undefined);
    // 2. Baseline: the development sample's validation (test) rows, their scores and their rows of
    // the bank's own data (scores.csv holds no training row: the bank has no platform value of one).
    const dev = csvRows(readFileSync(join(this.store.dir, 'jobs', o.model, 'scores.csv'), 'utf8')).slice(1).filter((r) => r[1] === 'test');
    const pdo = m.scaling.pdo;
    const band = (p: number) => Math.floor(p / pdo) * pdo;
    const devBands = dev.map((r) => band(Number(r[3])));
    const lo = Math.min(...devBands);
    const hi = Math.max(...devBands);
    const slot = (p: number) => Math.min(hi, Math.max(lo, band(p)));
    const count = (ps: number[]) => {
      const c = new Array<number>((hi - lo) / pdo + 1).fill(0);
      for (const p of ps) c[(slot(p) - lo) / pdo]!++;
      return c;
    };
    const scoreStability = stabilityIndex(shares(count(devBands)), shares(count(scored.map((r) => r.score!))));
    const devSet = this.store.dataset(spec.guest.dataset);
    if (!devSet) throw new IndomainError('SC_UNKNOWN_MODEL', `development dataset "${spec.guest.dataset}" is gone`);
    const devData = loadDataset(devSet);
    const devRow = new Map(devData.ids.map((id, i) => [id, i]));
    const devIds = dev.map((r) => r[0]!).filter((id) => devRow.has(id));
    const featureStability: Record<string, number> = {};
    for (const c of m.characteristics.filter((x) => x.party === 'guest')) {
      const name = c.field.slice('guest_'.length);
      const dj = devData.featureNames.indexOf(name);
      const pj = batch.table.featureNames.indexOf(name);
      if (dj < 0 || pj < 0) continue;
      const a = new Array<number>(c.spec.bins).fill(0);
      const b = new Array<number>(c.spec.bins).fill(0);
      for (const id of devIds) a[binOf(c.spec, devData.features[dj]![devRow.get(id)!]!)]!++;
      for (let i = 0; i < batch.table.ids.length; i++) b[binOf(c.spec, batch.table.features[pj]![i]!)]!++;
      featureStability[c.field] = stabilityIndex(shares(a), shares(b));
    }
    // 3. Previous scores: the last run, else the development sample's validation rows.
    const previous = new Map<string, number>(dev.map((r) => [r[0]!, Number(r[3])]));
    for (const r of this.store.db.prepare('SELECT id, score FROM monitor_scores WHERE model = ?').all(o.model) as { id: string; score: number }[]) previous.set(r.id, r.score);
    const migration: Record<string, Record<string, number>> = {};
    const alerts: Alert[] = [];
    for (const r of scored) {
      const before = previous.get(r.id);
      if (before === undefined) continue;
      const from = `[${band(before)}, ${band(before) + pdo})`;
      migration[from] ??= {};
      migration[from][r.band!] = (migration[from][r.band!] ?? 0) + 1;
      if (before - r.score! > o.dropPoints) alerts.push({ model: o.model, runAt, kind: 'score-drop', enterprise: r.id, detail: { before, now: r.score, drop: before - r.score! } });
    }
    if (scoreStability > o.stabilityThreshold) alerts.push({ model: o.model, runAt, kind: 'score-stability', enterprise: null, detail: { stability: scoreStability, threshold: o.stabilityThreshold } });
    for (const [f, v] of Object.entries(featureStability)) {
      if (v > o.stabilityThreshold) alerts.push({ model: o.model, runAt, kind: 'feature-stability', enterprise: null, detail: { feature: f, stability: v, threshold: o.stabilityThreshold } });
    }
    // 4. New public credit events on the platform for the monitored enterprises the bank holds a
    // post-loan authorisation for; the others are refused here and not named to the platform.
    const { allowed, refused: refusedHere } = await this.grants.split(platform, o.model, 'post-loan', batch.table.ids);
    const ev = allowed.length === 0 ? { ids: [], kinds: [], refused: 0 } : await this.events(platform, o.model, allowed);
    ev.ids.forEach((id, k) => alerts.push({ model: o.model, runAt, kind: ev.kinds[k] === 'enforcement' ? 'enforcement' : 'dishonest-debtor', enterprise: id, detail: { source: 'platform' } }));
    // 5. Store this run's scores and the alerts.
    const putScore = this.store.db.prepare('INSERT OR REPLACE INTO monitor_scores (model, id, score, band, at) VALUES (?, ?, ?, ?, ?)');
    const putAlert = this.store.db.prepare('INSERT INTO alerts (model, run_at, kind, enterprise, detail) VALUES (?, ?, ?, ?, ?)');
    this.store.tx(() => {
      for (const r of scored) putScore.run(o.model, r.id, r.score!, r.band!, runAt);
      for (const a of alerts) putAlert.run(a.model, a.runAt, a.kind, a.enterprise, JSON.stringify(a.detail));
      this.store.audit.append('data-access', o.model, { dataset: o.dataset, stage: 'monitoring', rows: batch.table.ids.length, alerts: alerts.length });
    });
    const byKind: Record<string, number> = {};
    for (const a of alerts) byKind[a.kind] = (byKind[a.kind] ?? 0) + 1;
    return { rows: batch.table.ids.length, scored: scored.length, refused: batch.results.length - scored.length, scoreStability, featureStability, migration, alerts: byKind, platformRefused: ev.refused, refusedByBank: refusedHere.size };
  }

  /**
   * The platform's new public credit events for these (authorised) enterprises, in requests of at
   * most the ids one request may carry (the platform keeps its snapshot per enterprise).
   */
  private async events(platform: Peer, model: string, all: string[]): Promise<{ ids: string[]; kinds: string[]; refused: number }> {
    const out = { ids: [] as string[], kinds: [] as string[], refused: 0 };
    for (let s = 0; s < all.length; s += this.limits.idsPerRequest) {
      const ids = all.slice(s, s + this.limits.idsPerRequest);
      const request: Envelope = { job: model, protocol: 'monitor', type: 'EventsRequest', round: 0, from: 'guest', to: 'host', body: { request: randomBytes(12).toString('hex'), model, purpose: 'post-loan', ids } };
      const reply = await this.client.exchange(platform, MONITOR_EXCHANGE, request, { sent: { enterprises: ids.length } });
      const r = reply.body as { ids: string[]; kinds: string[]; refused: number };
      out.ids.push(...r.ids);
      out.kinds.push(...r.kinds);
      out.refused += r.refused;
    }
    return out;
  }

}
