/**
 * An `lr` job over signed HTTP (coordinator, platform, bank in this process on free ports) on
 * 7,000 rows of FATE's default_credit pair: 4,900 training rows, two parts of 4,096 rows, so the
 * columns and every round's HostBasis, BeaverCorrection, Residual and ResidualShare go in two parts
 * each through the nodes' outbox, inbox and replay (protocols/vfl-lr/shares.ts), and the job
 * completes (the egress dedupe key includes the part: without it the second part was dropped).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { usccFromNumber } from '../../server/lab/generate.ts';
import { TestNodes } from '../helpers/nodes.ts';

const ROWS = 7000;

describe('vfl-lr parts over HTTP', () => {
  let t: TestNodes | undefined;
  afterAll(async () => {
    await t?.close();
  });

  it('an lr job whose rounds go in two parts of every row-level message completes', async () => {
    t = await TestNodes.start();
    const fate = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
    const copy = (src: string, dest: string) => {
      const [head, ...lines] = readFileSync(fate(src), 'utf8').trimEnd().split('\n');
      const kept = lines.slice(0, ROWS);
      writeFileSync(join(t!.dataRoot, dest), [head, ...kept.map((l) => usccFromNumber(Number(l.slice(0, l.indexOf(',')))) + l.slice(l.indexOf(',')))].join('\n') + '\n');
      return kept.map((l) => usccFromNumber(Number(l.slice(0, l.indexOf(',')))));
    };
    copy('default_credit_hetero_guest.csv', 'dc-guest.csv');
    const ids = copy('default_credit_hetero_host.csv', 'dc-host.csv');
    writeFileSync(join(t.dataRoot, 'auth.csv'), ['uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref', ...ids.map((id, i) => `${id},bank-a,modelling,2024-01-01,2030-12-31,,T-${i}`)].join('\n') + '\n');
    await t.admin('bank-a', 'POST', '/v1/admin/datasets', { name: 'loans', path: 'dc-guest.csv', idColumn: 'id', labelColumn: 'y', uscc: true });
    await t.admin('platform', 'POST', '/v1/admin/datasets', { name: 'credit', path: 'dc-host.csv', idColumn: 'id', uscc: true });
    await t.admin('platform', 'POST', '/v1/admin/authorisations/import', { path: 'auth.csv' });
    await t.admin('coordinator', 'POST', '/v1/admin/jobs', {
      id: 'lr-parts',
      pipeline: 'lr',
      coordinator: 'coordinator',
      guest: { node: 'bank-a', dataset: 'loans' },
      host: { node: 'platform', dataset: 'credit' },
      seed: '7',
      testFraction: 0.3,
    });
    const j = await t.settle('lr-parts', 900_000);
    expect(j.status, JSON.stringify(j.error)).toBe('completed');
  }, 1_000_000);
});
