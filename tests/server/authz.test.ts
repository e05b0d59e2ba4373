import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IndomainError } from '../../engine/errors.ts';
import type { Envelope } from '../../protocols/message.ts';
import { BlindingPool } from '../../protocols/psi/pool.ts';
import { AuthorisationRegistry, status } from '../../server/authz.ts';
import { NodeJob } from '../../server/jobs/node-job.ts';
import { parseJobSpec } from '../../server/jobs/spec.ts';
import { usccFromNumber } from '../../server/lab/generate.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import { tempDir } from '../helpers/tmp.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 20);
const iso = (t: number) => new Date(t).toISOString().slice(0, 10);

function node(name: string): NodeStore {
  const s = new NodeStore(tempDir(`authz-${name}-`));
  s.identity(name);
  return s;
}

describe('authorisation registry', () => {
  it('tells valid, missing, expired, revoked and not-yet-valid apart', () => {
    const a = { uscc: 'x', bank: 'b', purpose: 'modelling' as const, validFrom: NOW - 10 * DAY, validTo: NOW + 10 * DAY, revokedAt: null, sourceRef: 'r' };
    expect(status([a], NOW)).toBe('valid');
    expect(status([], NOW)).toBe('missing');
    expect(status([{ ...a, validTo: NOW - DAY }], NOW)).toBe('expired');
    expect(status([{ ...a, revokedAt: NOW - DAY }], NOW)).toBe('revoked');
    expect(status([{ ...a, revokedAt: NOW + DAY }], NOW)).toBe('valid');
    expect(status([{ ...a, validFrom: NOW + DAY }], NOW)).toBe('not-yet-valid');
  });

  it('online checks see a grant or a revocation at once', () => {
    const reg = new AuthorisationRegistry(node('platform-checks'));
    const uscc = usccFromNumber(7);
    expect(reg.check(uscc, 'bank-a', 'pre-loan', NOW)).toBe('missing');
    reg.grant({ uscc, bank: 'bank-a', purpose: 'pre-loan', validFrom: NOW - DAY, validTo: NOW + DAY, revokedAt: null, sourceRef: 'doc-1' });
    expect(reg.check(uscc, 'bank-a', 'pre-loan', NOW)).toBe('valid');
    expect(reg.check(uscc, 'bank-a', 'post-loan', NOW)).toBe('missing');
    expect(reg.revoke(uscc, 'bank-a', 'pre-loan', NOW - 1)).toBe(1);
    expect(reg.check(uscc, 'bank-a', 'pre-loan', NOW)).toBe('revoked');
    expect(reg.check(uscc, 'bank-a', 'pre-loan', NOW + 2 * DAY)).toBe('revoked');
  });

  it('refuses a bad import with the line and field, and keeps what was stored', () => {
    const store = node('platform');
    const reg = new AuthorisationRegistry(store);
    const dir = tempDir('authz-csv-');
    const good = join(dir, 'good.csv');
    writeFileSync(good, `uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref\n${usccFromNumber(1)},bank-a,modelling,2026-01-01,2027-01-01,,DOC-1\n`);
    expect(reg.importCsv(good)).toEqual({ imported: 1 });
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, `uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref\n${usccFromNumber(2)},bank-a,modelling,2026-01-01,2027-01-01,,DOC-2\n91370202000000039X,bank-a,marketing,2026-01-01,2027-01-01,,DOC-3\n`);
    try {
      reg.importCsv(bad);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(IndomainError);
      expect((e as IndomainError).code).toBe('AUTH_BAD_RECORD');
      expect((e as IndomainError).message).toMatch(/line 3/);
      expect((e as IndomainError).location).toMatchObject({ line: 3, field: 'uscc' });
      // Rule 16: positions and field names, never the record's values.
      for (const v of ['marketing', '91370202000000039X', 'DOC-3']) expect((e as IndomainError).message).not.toContain(v);
    }
    expect(reg.query({}).map((a) => a.uscc)).toEqual([usccFromNumber(1)]);
    store.close();
  });

  it('keeps enterprises whose authorisation expired or was revoked before the job out of the intersection', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => usccFromNumber(1000 + i));
    const dir = tempDir('authz-psi-');
    writeFileSync(join(dir, 'platform.csv'), ['id,f', ...ids.map((id, i) => `${id},${i}`)].join('\n') + '\n');
    writeFileSync(join(dir, 'bank.csv'), ['id,y,g', ...ids.map((id, i) => `${id},${i % 2},${i}`)].join('\n') + '\n');
    // 0–3: expired, 4–7: revoked before the job, 8–9: none on file, 10: revoked after the job; the rest valid.
    const rows = ids.flatMap((id, i) => {
      if (i === 8 || i === 9) return [];
      const to = i < 4 ? iso(NOW - 5 * DAY) : iso(NOW + 100 * DAY);
      const revoked = i >= 4 && i < 8 ? iso(NOW - 2 * DAY) : i === 10 ? iso(NOW + 2 * DAY) : '';
      return [`${id},bank-a,modelling,${iso(NOW - 300 * DAY)},${to},${revoked},DOC-${i}`];
    });
    writeFileSync(join(dir, 'auth.csv'), ['uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref', ...rows].join('\n') + '\n');

    const platform = node('platform');
    const bank = node('bank-a');
    platform.putDataset({ name: 'p', path: join(dir, 'platform.csv'), options: JSON.stringify({ idColumn: 'id', idFormat: 'uscc' }), rows: 40, features: '["f"]', sha256: null });
    bank.putDataset({ name: 'l', path: join(dir, 'bank.csv'), options: JSON.stringify({ idColumn: 'id', labelColumn: 'y', idFormat: 'uscc' }), rows: 40, features: '["g"]', sha256: null });
    const reg = new AuthorisationRegistry(platform);
    reg.importCsv(join(dir, 'auth.csv'));
    const spec = parseJobSpec({ id: 'j1', pipeline: 'lr', coordinator: 'c', guest: { node: 'bank-a', dataset: 'l' }, host: { node: 'platform', dataset: 'p' } });
    const pool = new BlindingPool(1);
    const host = new NodeJob(spec, 'host', { store: platform, blinder: pool, authz: reg });
    const guest = new NodeJob(spec, 'guest', { store: bank, blinder: pool });
    host.now = guest.now = NOW;

    // Not approved yet: the platform's stage waits and touches nothing.
    expect(await host.startStage('psi')).toBeNull();
    expect(platform.audit.records('psi-input')).toEqual([]);
    platform.decide('j1', 'approved', 'analyst');

    const queue: Envelope[] = [...(await guest.startStage('psi'))!, ...(await host.startStage('psi'))!];
    const done: Envelope[] = [];
    while (queue.length) {
      const env = queue.shift()!;
      if (env.to === 'coordinator') done.push(env);
      else queue.push(...((await (env.to === 'host' ? host : guest).receive(env)) ?? []));
    }
    await pool.close();
    const summaries = done.map((e) => e.body.report as { intersection: number; excluded?: Record<string, number> });
    // 40 − 4 expired − 4 revoked − 2 missing; the one revoked only after the job is still in.
    expect(summaries.map((s) => s.intersection)).toEqual([30, 30]);
    expect(summaries.find((s) => s.excluded)!.excluded).toEqual({ missing: 2, expired: 4, revoked: 4, 'not-yet-valid': 0 });
    const input = JSON.parse(platform.audit.records('psi-input')[0]!.body) as { ids: string[] };
    for (let i = 0; i < 10; i++) expect(input.ids).not.toContain(ids[i]);
    expect(input.ids).toContain(ids[10]);
    expect(platform.audit.records('admin').map((r) => (JSON.parse(r.body) as { action: string }).action)).toEqual(['dataset-registered', 'authorisations-imported', 'job-approved']);
    platform.close();
    bank.close();
  });
});
