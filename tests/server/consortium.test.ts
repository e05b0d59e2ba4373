/**
 * consortium-lr across processes: a coordinator and three bank nodes over signed HTTP, on FATE's
 * horizontal default_credit split (the guest and the two host files as three banks). The model
 * equals the in-memory run on the same rows (each bank's own seeded training split); with one bank
 * SIGKILLed in the middle of training (threshold 2 of 3) the job still completes, with the pooled
 * model of the two banks that remained.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededSplit } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { selectRows } from '../../engine/table.ts';
import { predictLogistic } from '../../models/logistic.ts';
import { binaryMetrics } from '../../models/metrics.ts';
import { consortiumLrInMemory, type BankRows } from '../../protocols/consortium/horizontal.ts';
import { Cluster, type JobView } from '../../server/cluster.ts';
import { verifyAudit } from '../../server/audit-verify.ts';
import { tempDir } from '../helpers/tmp.ts';

const FILES = ['default_credit_homo_guest.csv', 'default_credit_homo_host_1.csv', 'default_credit_homo_host_2.csv'];
const BANK_NODES = ['bank-a', 'bank-b', 'bank-c'];
const fate = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
const FEATURES = Array.from({ length: 23 }, (_, j) => `x${j}`);

/** Bank i's training rows, split as its node splits them (seeded by the job's seed and its role). */
function trainingRows(files: readonly string[], seed: string): Map<string, BankRows> {
  return new Map(
    files.map((f, i) => {
      const t = loadCsv(fate(f), { idColumn: 'id', labelColumn: 'y' });
      const tr = selectRows(t, seededSplit(t.ids.length, 0.2, `${seed}:bank-${i + 1}`).train);
      return [`bank-${i + 1}`, { x: FEATURES.map((c) => tr.features[tr.featureNames.indexOf(c)]!), y: tr.label! }];
    }),
  );
}

interface Result {
  model: { intercept: number; weights: number[] };
  iterations: number;
  converged: boolean;
  rows: number;
  banks: string[];
  dropped: string[];
  rounds: { round: number; banks: string[]; seconds: number }[];
}

describe('consortium-lr: a coordinator and three banks as processes', () => {
  const data = tempDir('indomain-consortium-data-');
  const c = new Cluster(
    tempDir('indomain-consortium-'),
    [{ name: 'coordinator', role: 'coordinator', port: 0 }, ...BANK_NODES.map((name) => ({ name, role: 'bank' as const, port: 0 }))],
    { dataRoot: data },
  );
  const spec = (id: string, extra: Record<string, unknown> = {}) => ({
    id,
    pipeline: 'consortium-lr',
    coordinator: 'coordinator',
    banks: BANK_NODES.map((node) => ({ node, dataset: 'loans' })),
    features: FEATURES,
    threshold: 2,
    seed: '42',
    testFraction: 0.2,
    ...extra,
  });
  const test = loadCsv(fate('default_credit_homo_test.csv'), { idColumn: 'id', labelColumn: 'y' });
  const testAuc = (m: Result['model']) => binaryMetrics(predictLogistic({ intercept: m.intercept, weights: Float64Array.from(m.weights) }, FEATURES.map((f) => test.features[test.featureNames.indexOf(f)]!)), test.label!).auc;

  beforeAll(async () => {
    FILES.forEach((f) => copyFileSync(fate(f), join(data, f)));
    await c.startAll();
    for (const [i, node] of BANK_NODES.entries()) await c.admin(node, 'POST', '/v1/admin/datasets', { name: 'loans', path: join(data, FILES[i]!), idColumn: 'id', labelColumn: 'y' });
  }, 120_000);
  afterAll(async () => {
    await c.stop();
  });

  it('trains the model of the in-memory run (weights within 1e-6); each bank keeps its own and the consortium test AUC', async () => {
    const t0 = performance.now();
    await c.admin('coordinator', 'POST', '/v1/admin/jobs', spec('cons-1'));
    const job = await c.waitForJob('coordinator', 'cons-1', 240_000);
    const seconds = (performance.now() - t0) / 1000;
    const r = job.result as unknown as Result;
    const ref = await consortiumLrInMemory({ config: { job: 'cons-1-reference', threshold: 2 }, banks: trainingRows(FILES, '42') });
    const diff = Math.max(Math.abs(r.model.intercept - ref.intercept), ...r.model.weights.map((w, j) => Math.abs(w - ref.weights[j]!)));
    const views = await Promise.all(BANK_NODES.map((n) => c.admin<JobView>(n, 'GET', '/v1/admin/jobs/cons-1')));
    const own = views.map((v) => v.progress as { trainRows: number; testRows: number; consortium: { testAuc: number }; own: { testAuc: number }; model: { intercept: number; weights: number[] } });
    process.stdout.write(
      `consortium-lr over 3 bank processes: ${seconds.toFixed(1)} s, ${r.iterations} Newton steps, converged ${r.converged}, ${r.rows} rows; max |process − in-memory| = ${diff.toExponential(2)}; ` +
        `test AUC on default_credit_homo_test ${testAuc(r.model).toFixed(4)} (in-memory ${testAuc({ intercept: ref.intercept, weights: [...ref.weights] }).toFixed(4)})\n` +
        own.map((o, i) => `  ${BANK_NODES[i]}: ${o.trainRows} train / ${o.testRows} test rows; own-test AUC: own model ${o.own.testAuc.toFixed(4)}, consortium ${o.consortium.testAuc.toFixed(4)}`).join('\n') +
        '\n',
    );
    expect(r.converged).toBe(true);
    expect(r.banks).toEqual(['bank-1', 'bank-2', 'bank-3']);
    expect(r.rows).toBe(ref.rows);
    expect(r.iterations).toBe(ref.iterations);
    expect(diff).toBeLessThan(1e-6);
    for (const o of own) {
      expect(o.model.intercept).toBe(r.model.intercept);
      expect(o.model.weights).toEqual(r.model.weights);
      expect(o.consortium.testAuc).toBeGreaterThan(0.6);
    }
  }, 300_000);

  it('completes with threshold 2 of 3 when a bank is SIGKILLed mid-training: the pooled model of the other two', async () => {
    await c.admin('coordinator', 'POST', '/v1/admin/jobs', spec('cons-drop', { stageTimeoutSeconds: 2 }));
    // Kill bank-c once the Newton rounds have started (secagg round 3: the second Newton round).
    const deadline = Date.now() + 120_000;
    for (;;) {
      const j = await c.admin<JobView>('coordinator', 'GET', '/v1/admin/jobs/cons-drop');
      if (Number((j.progress as { secaggRound?: number }).secaggRound) >= 3) break;
      if (j.status === 'completed' || j.status === 'failed' || Date.now() > deadline) throw new Error(`job ${j.status} before the kill point`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await c.kill('bank-c');
    const job = await c.waitForJob('coordinator', 'cons-drop', 240_000);
    const r = job.result as unknown as Result;
    // Newton converges to the unique optimum of the survivors' pooled objective, whatever the start.
    const ref = await consortiumLrInMemory({ config: { job: 'cons-drop-reference', threshold: 2 }, banks: new Map([...trainingRows(FILES, '42')].slice(0, 2)) });
    const diff = Math.max(Math.abs(r.model.intercept - ref.intercept), ...r.model.weights.map((w, j) => Math.abs(w - ref.weights[j]!)));
    const killedAt = r.rounds.find((x) => !x.banks.includes('bank-3'))?.round;
    process.stdout.write(
      `consortium-lr, bank-c SIGKILLed: completed, banks ${r.banks.join(', ')} (dropped ${r.dropped.join(', ')}, first round without it: secagg round ${killedAt}), ${r.iterations} Newton steps, converged ${r.converged}, ${r.rows} rows; ` +
        `max |process − in-memory 2-bank pooled| = ${diff.toExponential(2)}; test AUC ${testAuc(r.model).toFixed(4)}\n`,
    );
    expect(r.banks).toEqual(['bank-1', 'bank-2']);
    expect(r.dropped).toEqual(['bank-3']);
    expect(r.converged).toBe(true);
    expect(r.rows).toBe(ref.rows);
    expect(diff).toBeLessThan(1e-6);
    expect(killedAt).toBeGreaterThanOrEqual(3);
  }, 300_000);

  it('audit verify passes over the nodes, the secagg and consortium-lr messages in its ledger', async () => {
    await c.stop();
    const v = verifyAudit([c.dir]);
    const text = JSON.stringify(v);
    expect(v.ok, text.slice(0, 2000)).toBe(true);
    for (const t of ['secagg/AdvertiseKeys', 'secagg/MaskedInput', 'secagg/Unmask', 'secagg/Result', 'consortium-lr/Iterate']) expect(text).toContain(t);
  }, 60_000);
});
