/**
 * The server's `lr` pipeline on real nodes (createNode, 127.0.0.1): a platform column with 20% of
 * its cells blank trains with the documented imputation (engine/impute.ts, README "Missing
 * values"), each party's statistics from its own training rows, stored with its model; a validator
 * holding both raw files replicates the rule and the reported test AUC from the stored statistics
 * and weights. And a run that cannot converge fails the job with VFL_NOT_CONVERGED, seen by the
 * bank and the coordinator (the code only; the feature names stay with each party).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignTo, seededSplit } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { applyLrPreparation, fitLrPreparation, lrPreparationFromJson, lrPreparationJson } from '../../engine/impute.ts';
import { seededRng } from '../../engine/rng.ts';
import { selectRows } from '../../engine/table.ts';
import { auc } from '../../models/metrics.ts';
import type { JobView } from '../../server/cluster.ts';
import { TestNodes } from '../helpers/nodes.ts';

interface StoredLr {
  weights: number[];
  testAuc?: number;
  preparation: Parameters<typeof lrPreparationFromJson>[0];
}

describe('server lr pipeline: imputation and refusals', () => {
  let t: TestNodes;
  let files: { guest: string; host: string };
  beforeAll(async () => {
    t = await TestNodes.start();
    files = await t.breast();
    // The platform's file with 20% of x3 blank (seeded), registered as its own dataset.
    const r = seededRng('blank-x3');
    const [head, ...lines] = readFileSync(files.host, 'utf8').trimEnd().split('\n');
    const col = head!.split(',').indexOf('x3');
    const blanked = lines.map((l) => (r.next() < 0.2 ? l.split(',').map((v, i) => (i === col ? '' : v)).join(',') : l));
    writeFileSync(join(t.dataRoot, 'host-missing.csv'), [head, ...blanked].join('\n') + '\n');
    await t.admin('platform', 'POST', '/v1/admin/datasets', { name: 'credit-missing', path: 'host-missing.csv', idColumn: 'id', uscc: true });
    // The bank's file with a column that copies the label (a leak), and the platform's with a constant column.
    const [gHead, ...gLines] = readFileSync(files.guest, 'utf8').trimEnd().split('\n');
    const y = gHead!.split(',').indexOf('y');
    writeFileSync(join(t.dataRoot, 'guest-leak.csv'), [`${gHead},leak`, ...gLines.map((l) => `${l},${l.split(',')[y]}`)].join('\n') + '\n');
    await t.admin('bank-a', 'POST', '/v1/admin/datasets', { name: 'loans-leak', path: 'guest-leak.csv', idColumn: 'id', labelColumn: 'y', uscc: true });
    writeFileSync(join(t.dataRoot, 'host-flat.csv'), [`${head},flat`, ...lines.map((l) => `${l},7`)].join('\n') + '\n');
    await t.admin('platform', 'POST', '/v1/admin/datasets', { name: 'credit-flat', path: 'host-flat.csv', idColumn: 'id', uscc: true });
    // The platform's file with a column that encodes the bank's label (an outcome leak on its side).
    const label = new Map(gLines.map((l) => [l.slice(0, l.indexOf(',')), l.split(',')[y]!]));
    writeFileSync(join(t.dataRoot, 'host-leak.csv'), [`${head},outcome_code`, ...lines.map((l) => `${l},${label.get(l.slice(0, l.indexOf(',')))}`)].join('\n') + '\n');
    await t.admin('platform', 'POST', '/v1/admin/datasets', { name: 'credit-leak', path: 'host-leak.csv', idColumn: 'id', uscc: true });
  }, 120_000);
  afterAll(async () => t?.close());

  const spec = (id: string, training: Record<string, unknown>, guest = 'loans', host = 'credit-missing') => ({ id, pipeline: 'lr', coordinator: 'coordinator', guest: { node: 'bank-a', dataset: guest }, host: { node: 'platform', dataset: host }, seed: '5', testFraction: 0.25, training });
  const stored = (node: string, job: string, name: string): StoredLr => {
    const db = new Database(join(t.node(node).dir, 'node.db'), { readonly: true });
    try {
      return JSON.parse((db.prepare('SELECT model FROM models WHERE job = ? AND name = ?').get(job, name) as { model: string }).model) as StoredLr;
    } finally {
      db.close();
    }
  };

  it('missing platform values: imputed with training statistics, stored, and the reported test AUC replicated from the raw files', async () => {
    await t.admin('coordinator', 'POST', '/v1/admin/jobs', spec('lr-missing', { lambda: 0.05 }));
    const j = await t.settle('lr-missing', 900_000);
    expect(j.status).toBe('completed');
    const host = stored('platform', 'lr-missing', 'host');
    const guest = stored('bank-a', 'lr-missing', 'guest');
    expect(host.preparation.names).toContain('x3_missing');
    expect(guest.preparation.names.some((n) => n.endsWith('_missing'))).toBe(false);

    // A validator with both raw files: the same split (intersection sorted by id, the job's seed).
    const g = loadCsv(files.guest, { idColumn: 'id', labelColumn: 'y', idFormat: 'uscc' });
    const h = loadCsv(join(t.dataRoot, 'host-missing.csv'), { idColumn: 'id', idFormat: 'uscc' });
    const ids = g.ids.filter((id) => new Set(h.ids).has(id)).sort();
    const split = seededSplit(ids.length, 0.25, '5');
    const part = (tab: typeof g) => {
      const a = alignTo(tab, ids);
      return { train: selectRows(a, split.train), test: selectRows(a, split.test) };
    };
    const gp = part(g);
    const hp = part(h);
    expect(hp.train.features[3]!.some(Number.isNaN)).toBe(true);
    // The rule, replicated from the training rows, gives the stored statistics exactly.
    expect(lrPreparationJson(fitLrPreparation(hp.train.features, hp.train.featureNames).prep)).toEqual(host.preparation);
    expect(lrPreparationJson(fitLrPreparation(gp.train.features, gp.train.featureNames).prep)).toEqual(guest.preparation);
    // Scoring the raw test rows (missing cells included) with the stored statistics and weights.
    const gx = applyLrPreparation(lrPreparationFromJson(guest.preparation), gp.test.features);
    const hx = applyLrPreparation(lrPreparationFromJson(host.preparation), hp.test.features);
    const logit = new Float64Array(ids.length - split.train.length);
    for (let i = 0; i < logit.length; i++) {
      let z = guest.weights[0]!;
      gx.forEach((c, k) => (z += guest.weights[k + 1]! * c[i]!));
      hx.forEach((c, k) => (z += host.weights[k]! * c[i]!));
      logit[i] = z;
    }
    const replicated = auc(logit, gp.test.label!);
    console.log(`lr-missing: host columns ${host.preparation.names.length} (x3_missing among them), test AUC reported ${guest.testAuc}, replicated ${replicated}`);
    expect(Math.abs(replicated - guest.testAuc!)).toBeLessThan(1e-9);
  }, 1_000_000);

  it('a run cut before convergence fails the job with VFL_NOT_CONVERGED, seen by the bank and the coordinator', async () => {
    await t.admin('coordinator', 'POST', '/v1/admin/jobs', spec('lr-not-converged', { maxIterations: 2 }));
    const j = await t.settle('lr-not-converged', 900_000);
    expect(j.status).toBe('failed');
    const bank = await t.admin<JobView>('bank-a', 'GET', '/v1/admin/jobs/lr-not-converged');
    console.log(`coordinator: ${JSON.stringify(j.error)}; bank: ${JSON.stringify(bank.error)}`);
    expect(JSON.stringify(j.error)).toContain('VFL_NOT_CONVERGED');
    expect(bank.status).toBe('failed');
    expect(JSON.stringify(bank.error)).toContain('VFL_NOT_CONVERGED');
  }, 1_000_000);

  it('a bank column that copies the label fails the job with VFL_SEPARATION; a constant platform column with VFL_CONSTANT_FEATURE; each named only in its own node', async () => {
    await t.admin('coordinator', 'POST', '/v1/admin/jobs', spec('lr-leak', { lambda: 0.05 }, 'loans-leak'));
    await t.admin('coordinator', 'POST', '/v1/admin/jobs', spec('lr-flat', { lambda: 0.05 }, 'loans', 'credit-flat'));
    const leak = await t.settle('lr-leak', 900_000);
    const flat = await t.settle('lr-flat', 900_000);
    const bank = await t.admin<JobView>('bank-a', 'GET', '/v1/admin/jobs/lr-leak');
    const platform = await t.admin<JobView>('platform', 'GET', '/v1/admin/jobs/lr-flat');
    console.log(`lr-leak: coordinator ${JSON.stringify(leak.error)}; bank ${JSON.stringify(bank.error)}. lr-flat: coordinator ${JSON.stringify(flat.error)}; platform ${JSON.stringify(platform.error)}`);
    expect(leak.status).toBe('failed');
    expect(JSON.stringify(leak.error)).toContain('VFL_SEPARATION');
    expect(bank.error).toMatchObject({ code: 'VFL_SEPARATION', message: expect.stringContaining('leak') });
    expect(JSON.stringify(leak.error)).not.toMatch(/features .*leak/);
    expect(flat.status).toBe('failed');
    expect(platform.error).toMatchObject({ code: 'VFL_CONSTANT_FEATURE', message: expect.stringContaining('flat') });
  }, 1_000_000);

  it('a platform column that encodes the label: after 60 rounds without converging (curvature down to λ) the platform refuses with VFL_SEPARATION naming it, and the name stays in the platform node', async () => {
    await t.admin('coordinator', 'POST', '/v1/admin/jobs', spec('lr-host-leak', {}, 'loans', 'credit-leak'));
    const job = await t.settle('lr-host-leak', 900_000);
    const platform = await t.admin<JobView>('platform', 'GET', '/v1/admin/jobs/lr-host-leak');
    const bank = await t.admin<JobView>('bank-a', 'GET', '/v1/admin/jobs/lr-host-leak');
    console.log(`lr-host-leak: coordinator ${JSON.stringify(job.error)}; platform ${JSON.stringify(platform.error)}; bank ${JSON.stringify(bank.error)}`);
    // The coordinator records the first party to fail: the bank, whose own weights show nothing,
    // with VFL_NOT_CONVERGED, or the platform with VFL_SEPARATION; the platform names its column.
    expect(job.status).toBe('failed');
    expect(JSON.stringify(job.error)).toMatch(/VFL_SEPARATION|VFL_NOT_CONVERGED/);
    expect(platform.error).toMatchObject({ code: 'VFL_SEPARATION', message: expect.stringContaining('outcome_code') });
    expect(JSON.stringify(job.error)).not.toContain('outcome_code');
    expect(JSON.stringify(bank.error ?? null)).not.toContain('outcome_code');
  }, 1_000_000);
});
