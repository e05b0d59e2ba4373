/**
 * Scoring an `lr` model with values whose partial logit overflows (|x| near 1e308: finite, so the
 * CSV loader and the API take them). Each such enterprise is refused alone with a coded outcome:
 * one platform row of that kind used to block the platform's whole reply (the declared f64 holds
 * finite numbers only, SRV_EGRESS_BLOCKED for every enterprise of the exchange: the bank's whole
 * book), and a bank value of that kind gave a 200 with a null logit online and "Infinity" in the
 * batch file. Real nodes (createNode, 127.0.0.1), a real `lr` job on the FATE breast data.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNodes } from '../helpers/nodes.ts';

const MODEL = 'lr-extremes';
const HUGE = 1.79e308;

/** `src` with every feature of data row `row` (0-based) set to HUGE, written as `dest` under the data root. */
function withHugeRow(dataRoot: string, src: string, dest: string, row: number, skip: number): string {
  const [head, ...lines] = readFileSync(src, 'utf8').trimEnd().split('\n');
  const cells = lines[row]!.split(',');
  lines[row] = cells.map((c, j) => (j < skip ? c : String(HUGE))).join(',');
  writeFileSync(join(dataRoot, dest), [head, ...lines].join('\n') + '\n');
  return cells[0]!;
}

describe('lr scoring: a value that overflows its partial logit is refused alone', () => {
  let t: TestNodes;
  let files: { guest: string; host: string };
  let ids: string[];

  beforeAll(async () => {
    t = await TestNodes.start();
    files = await t.breast();
    ids = readFileSync(files.host, 'utf8').trimEnd().split('\n').slice(1).map((l) => l.slice(0, l.indexOf(',')));
    writeFileSync(join(t.dataRoot, 'pre-loan.csv'), ['uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref', ...ids.map((id, i) => `${id},bank-a,pre-loan,2024-01-01,2030-12-31,,P-${i}`)].join('\n') + '\n');
    await t.admin('platform', 'POST', '/v1/admin/authorisations/import', { path: 'pre-loan.csv' });
    await t.admin('coordinator', 'POST', '/v1/admin/jobs', { id: MODEL, pipeline: 'lr', coordinator: 'coordinator', guest: { node: 'bank-a', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' }, seed: '11', testFraction: 0.25, training: { maxIterations: 12, refuseUnconverged: false } });
    const j = await t.settle(MODEL);
    expect(j.status, JSON.stringify(j.error)).toBe('completed');
  }, 600_000);
  afterAll(async () => t?.close());

  const batch = (dataset: string) => t.admin<{ rows: number; scored: number; outcomes: Record<string, number> }>('bank-a', 'POST', '/v1/admin/score-batch', { model: MODEL, dataset, purpose: 'pre-loan' });

  it('online: a bank value that overflows is SC_BAD_FEATURE, not a 200 with no logit', async () => {
    const ok = await t.admin<{ logit: number }>('bank-a', 'POST', '/v1/score', { model: MODEL, id: ids[0], features: {} });
    expect(Number.isFinite(ok.logit)).toBe(true);
    const head = readFileSync(files.guest, 'utf8').split('\n')[0]!.split(',');
    const features = Object.fromEntries(head.slice(2).map((f) => [f, HUGE]));
    const r = await t.admin('bank-a', 'POST', '/v1/score', { model: MODEL, id: ids[0], features }).then(
      (s) => `200 ${JSON.stringify(s)}`,
      (e: { body: { code: string } }) => e.body.code,
    );
    expect(r).toBe('SC_BAD_FEATURE');
  });

  it("batch: one bank row that overflows is refused alone, the book's other rows are scored", async () => {
    withHugeRow(t.dataRoot, files.guest, 'loans-huge.csv', 3, 2);
    await t.admin('bank-a', 'POST', '/v1/admin/datasets', { name: 'loans-huge', path: 'loans-huge.csv', idColumn: 'id', labelColumn: 'y', uscc: true });
    const r = await batch('loans-huge');
    console.log(`bank row out of range: ${JSON.stringify(r)}`);
    expect(r.scored).toBe(ids.length - 1);
    expect(r.outcomes).toEqual({ SC_BAD_FEATURE: 1 });
  });

  it("batch: one platform row that overflows is refused alone, not the platform's whole reply", async () => {
    expect((await batch('loans')).scored).toBe(ids.length);
    // The platform refreshes its data with one enterprise's values at the edge of a double.
    withHugeRow(t.dataRoot, files.host, 'credit-huge.csv', 7, 1);
    await t.admin('platform', 'POST', '/v1/admin/datasets', { name: 'credit', path: 'credit-huge.csv', idColumn: 'id', uscc: true });
    const r = await batch('loans');
    console.log(`platform row out of range: ${JSON.stringify(r)}`);
    expect(r.scored).toBe(ids.length - 1);
    expect(r.outcomes).toEqual({ SRV_BAD_REQUEST: 1 });
  });
});
