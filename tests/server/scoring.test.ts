import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvRows } from '../../engine/csv.ts';
import { onlineLab } from '../../benchmarks/online.ts';
import { verifyAudit } from '../../server/audit-verify.ts';
import type { Cluster } from '../../server/cluster.ts';
import { generateFollowUp, LABEL, usccFromNumber } from '../../server/lab/generate.ts';
import { tempDir } from '../helpers/tmp.ts';

interface Score {
  score: number;
  probability: number;
  band: string;
  reasonCodes: string[];
  partial: { bank: number; platform: number };
}

describe('online federated scoring between bank and platform processes', () => {
  let lab: Awaited<ReturnType<typeof onlineLab>>;
  let c: Cluster;
  const score = (id: string, features: Record<string, unknown> = {}) =>
    c.admin<Score>('bank-1', 'POST', '/v1/score', { model: lab.model, id, features }).then(
      (s) => ({ ok: true as const, s }),
      (e: { code: string; message: string }) => ({ ok: false as const, code: e.code, message: e.message }),
    );

  beforeAll(async () => {
    lab = await onlineLab(tempDir('indomain-scoring-'), 0, () => {});
    c = lab.cluster;
  }, 400_000);
  afterAll(async () => {
    await c.stop();
  });

  it('gives each authorised enterprise the points the scorecard job computed for it', async () => {
    // The job's own scores of its test rows (bank and platform parts combined there; the bank holds
    // no platform value of a training row, so scores.csv has test rows only).
    const scores = csvRows(readFileSync(join(c.dataDir('bank-1'), 'jobs', lab.model, 'scores.csv'), 'utf8'));
    const points = new Map(scores.slice(1).map((r) => [r[0]!, Number(r[3])]));
    let checked = 0;
    for (const req of lab.requests.slice(0, 300)) {
      if (!points.has(req.id)) continue;
      const r = await score(req.id, req.features);
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect(r.s.score).toBe(points.get(req.id));
      expect(r.s.partial.bank + r.s.partial.platform).toBe(r.s.score);
      expect(r.s.probability).toBeGreaterThan(0);
      expect(r.s.probability).toBeLessThan(1);
      expect(r.s.reasonCodes.length).toBeLessThanOrEqual(3);
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('answers an unauthorised enterprise and an unknown one with their coded outcomes, never a score', async () => {
    const unauthorised = await score(lab.unauthorised[0]!);
    expect(unauthorised).toMatchObject({ ok: false, code: 'AUTH_NOT_AUTHORISED' });
    // Authorised, but the platform has no record of it.
    const stranger = usccFromNumber(99_999_999);
    await c.admin('platform', 'POST', '/v1/admin/authorisations', { uscc: stranger, bank: 'bank-1', purpose: 'pre-loan', valid_from: '2020-01-01', valid_to: '2030-01-01', source_ref: 'TEST' });
    expect(await score(stranger)).toMatchObject({ ok: false, code: 'SC_UNKNOWN_ENTERPRISE' });
    expect(await score(lab.requests[0]!.id, { loan_amount_10k: 'lots' })).toMatchObject({ ok: false, code: 'SRV_BAD_REQUEST' });
  });

  it('refuses a misspelt feature name (SC_BAD_FEATURE) and a number given as a string (no coercion), naming the field', async () => {
    const req = lab.requests[1]!;
    const [name, value] = Object.entries(req.features).find(([, v]) => typeof v === 'number')!;
    expect((await score(req.id, req.features)).ok).toBe(true);
    const misspelt = await score(req.id, { ...req.features, [`${name}x`]: value });
    expect(misspelt).toMatchObject({ ok: false, code: 'SC_BAD_FEATURE' });
    expect(misspelt.ok ? '' : misspelt.message).toContain(`field "features/${name}x"`);
    const asText = await score(req.id, { ...req.features, [name]: String(value) });
    expect(asText).toMatchObject({ ok: false, code: 'SRV_BAD_REQUEST' });
    expect(asText.ok ? '' : asText.message).toContain(`body/features/${name}`);
  });

  it("batch-scores the bank's book: the job's points for authorised enterprises, a coded outcome for every other row", async () => {
    const r = await c.admin<{ rows: number; scored: number; outcomes: Record<string, number>; file: string }>('bank-1', 'POST', '/v1/admin/score-batch', { model: lab.model, dataset: 'loans', purpose: 'pre-loan' });
    expect(r.rows).toBe(2000);
    expect(r.scored).toBe(lab.requests.length);
    expect(r.outcomes).toEqual({ AUTH_NOT_AUTHORISED: 2000 - lab.requests.length });
    const job = csvRows(readFileSync(join(c.dataDir('bank-1'), 'jobs', lab.model, 'scores.csv'), 'utf8'));
    const points = new Map(job.slice(1).map((x) => [x[0]!, Number(x[3])]));
    const rows = csvRows(readFileSync(r.file, 'utf8')).slice(1);
    let same = 0;
    for (const x of rows) {
      if (x[1] !== 'OK') {
        expect(x[2]).toBe('');
        continue;
      }
      if (points.has(x[0]!)) {
        expect(Number(x[2])).toBe(points.get(x[0]!));
        same++;
      }
    }
    // scores.csv holds the job's test rows only: a fifth of the development sample.
    expect(same).toBeGreaterThan(300);
  });

  it('refuses at scoring time an enterprise whose authorisation was revoked after training', async () => {
    const req = lab.requests[5]!;
    expect((await score(req.id, req.features)).ok).toBe(true);
    await c.admin('platform', 'POST', '/v1/admin/authorisations/revoke', { uscc: req.id, bank: 'bank-1', purpose: 'pre-loan' });
    const after = await score(req.id, req.features);
    expect(after).toMatchObject({ ok: false, code: 'AUTH_NOT_AUTHORISED' });
    expect(after.ok ? '' : after.message).toMatch(/revoked/);
  });

  it('monitors the book twelve months on: alerts for score drops and new platform records, listed by the bank node', async () => {
    const later = generateFollowUp(lab.data, 'online');
    await c.admin('platform', 'POST', '/v1/admin/datasets', { name: 'platform-credit', path: later.platform, idColumn: 'id', uscc: true });
    await c.admin('bank-1', 'POST', '/v1/admin/datasets', { name: 'book-t1', path: later.books[0], idColumn: 'id', labelColumn: LABEL, uscc: true });
    const run = await c.admin<{ scored: number; alerts: Record<string, number>; migration: Record<string, Record<string, number>>; featureStability: Record<string, number> }>('bank-1', 'POST', '/v1/admin/monitor', { model: lab.model, dataset: 'book-t1', dropPoints: 15 });
    expect(run.scored).toBeGreaterThan(1000);
    expect(run.alerts['score-drop']).toBeGreaterThan(0);
    expect((run.alerts['dishonest-debtor'] ?? 0) + (run.alerts.enforcement ?? 0)).toBeGreaterThan(0);
    expect(Object.keys(run.featureStability).length).toBeGreaterThan(0);
    const alerts = await c.admin<{ kind: string; enterprise: string | null }[]>('bank-1', 'GET', `/v1/admin/alerts?model=${lab.model}`);
    expect(alerts.length).toBe(Object.values(run.alerts).reduce((a, b) => a + b, 0));
    // Platform events concern deteriorated enterprises only; score drops mostly too.
    for (const a of alerts.filter((x) => x.kind === 'dishonest-debtor' || x.kind === 'enforcement')) expect(later.deteriorated.has(a.enterprise!)).toBe(true);
    // A second run against the same data finds no new platform records.
    const again = await c.admin<{ alerts: Record<string, number> }>('bank-1', 'POST', '/v1/admin/monitor', { model: lab.model, dataset: 'book-t1', dropPoints: 15 });
    expect(again.alerts['dishonest-debtor'] ?? 0).toBe(0);
    expect(again.alerts.enforcement ?? 0).toBe(0);
    expect(again.alerts['score-drop'] ?? 0).toBe(0);
  });

  it('a request while the platform is down: a coded refusal and a delivery-failed record, not a finding', async () => {
    const req = lab.requests[7]!;
    await c.kill('platform', 'SIGKILL');
    const r = await score(req.id, req.features);
    expect(r).toMatchObject({ ok: false, code: 'SRV_PEER_UNREACHABLE' });
    await c.start('platform');
    expect((await score(req.id, req.features)).ok).toBe(true);
    const db = new Database(join(c.dataDir('bank-1'), 'node.db'), { readonly: true });
    const failed = db.prepare("SELECT body FROM audit WHERE kind = 'delivery-failed' ORDER BY seq DESC LIMIT 1").get() as { body: string };
    db.close();
    expect(JSON.parse(failed.body)).toMatchObject({ peer: 'platform', code: 'SRV_PEER_UNREACHABLE' });
  }, 60_000);

  it('leaves audit chains that verify, scoring exchanges included', async () => {
    await c.stop();
    const r = verifyAudit([join(c.dir)]);
    expect(r.findings).toEqual([]);
    // The request sent while the platform was down is explained by the bank's record of its failure.
    expect(r.explained.failedDeliveries).toBeGreaterThanOrEqual(1);
    expect(r.ledger.some((e) => e.type === 'score/PartialScoreRequest' && e.receiver === 'platform')).toBe(true);
    expect(r.ledger.some((e) => e.type === 'score/PartialScores' && e.receiver === 'bank-1')).toBe(true);
  });
});
