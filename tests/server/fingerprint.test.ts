/**
 * Dataset fingerprints (issue 15, item 5) and bounded data reads (item 7): a registered dataset's
 * SHA-256 is recorded with it and in the audit chain; a job pins the fingerprint it first read; a
 * replay or a later read of other content fails with DATA_FINGERPRINT_MISMATCH; data files over the
 * node's limit are DATA_FILE_TOO_LARGE; a dataset path replaced by a FIFO does not hang the node;
 * `indomain audit verify`'s ledger names, per job, the fingerprint the node pinned.
 * Real store, real files, the real node-side job (PSI blinding in a worker).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readFingerprinted } from '../../engine/csv.ts';
import { BlindingPool } from '../../protocols/psi/pool.ts';
import { formatVerify, verifyAudit } from '../../server/audit-verify.ts';
import { DataRoot } from '../../server/data-root.ts';
import { NodeJob } from '../../server/jobs/node-job.ts';
import { parseJobSpec } from '../../server/jobs/spec.ts';
import { loadDataset, NodeStore } from '../../server/store/node-store.ts';
import { tempDir } from '../helpers/tmp.ts';

const pool = new BlindingPool(1);
afterAll(async () => pool.close());

const dir = tempDir('indomain-fingerprint-');
const file = join(dir, 'loans.csv');
const original = readFileSync(new URL('../data/fate/breast_hetero_guest.csv', import.meta.url), 'utf8');
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** The same file with the label of every 50th row flipped (the 1/50 of labels). */
function flipped(text: string): string {
  const [head, ...rows] = text.trimEnd().split('\n');
  const y = head!.split(',').indexOf('y');
  return [head, ...rows.map((r, i) => (i % 50 === 0 ? r.split(',').map((v, k) => (k === y ? String(1 - Number(v)) : v)).join(',') : r))].join('\n') + '\n';
}

function register(store: NodeStore): string {
  const f = readFingerprinted(file, 'loans.csv');
  store.putDataset({ name: 'loans', path: file, options: JSON.stringify({ idColumn: 'id', labelColumn: 'y' }), rows: 569, features: '[]', sha256: f.sha256 });
  return f.sha256;
}

const spec = (id: string) => parseJobSpec({ id, pipeline: 'lr', coordinator: 'coordinator', guest: { node: 'bank', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' } });
const psi = (store: NodeStore, id: string, replaying = false) => {
  const j = new NodeJob(spec(id), 'guest', { store, blinder: pool });
  j.replaying = replaying;
  return j.startStage('psi');
};

describe('dataset fingerprints', () => {
  const store = new NodeStore(join(dir, 'node'));
  store.identity('bank');
  afterAll(() => store.close());

  it('records the SHA-256 at registration (row and audit chain); a job pins it and names it in its audit records and view', async () => {
    writeFileSync(file, original);
    const registered = register(store);
    expect(registered).toBe(sha(original));
    const rec = store.audit.records('admin').find((r) => r.body.includes('dataset-registered'))!;
    expect(JSON.parse(rec.body)).toMatchObject({ name: 'loans', sha256: sha(original) });
    const j = new NodeJob(spec('j1'), 'guest', { store, blinder: pool });
    expect((await j.startStage('psi'))!.length).toBeGreaterThan(0);
    expect(store.pinnedDataset('j1', 'loans')).toBe(sha(original));
    expect(j.summary.dataset).toEqual({ name: 'loans', sha256: sha(original) });
    const access = store.audit.records('data-access').filter((r) => r.job === 'j1').map((r) => JSON.parse(r.body) as { sha256: string });
    expect(access.map((a) => a.sha256)).toEqual([sha(original)]);
  });

  it('a replay after the labels changed fails with DATA_FINGERPRINT_MISMATCH, even once the new file is registered; a new job takes the new data', async () => {
    writeFileSync(file, flipped(original));
    await expect(psi(store, 'j1', true)).rejects.toMatchObject({ code: 'DATA_FINGERPRINT_MISMATCH' });
    // Online and batch reads check the registered fingerprint.
    expect(() => loadDataset(store.dataset('loans')!)).toThrow(expect.objectContaining({ code: 'DATA_FINGERPRINT_MISMATCH' }));
    const refreshed = register(store);
    expect(refreshed).toBe(sha(flipped(original)));
    await expect(psi(store, 'j1', true)).rejects.toMatchObject({ code: 'DATA_FINGERPRINT_MISMATCH' });
    expect((await psi(store, 'j2'))!.length).toBeGreaterThan(0);
    expect(store.pinnedDataset('j2', 'loans')).toBe(refreshed);
    expect(store.pinnedDataset('j1', 'loans')).toBe(sha(original));
    // The original content back: the first job may replay again.
    writeFileSync(file, original);
    expect((await psi(store, 'j1', true))!.length).toBeGreaterThan(0);
  });

  it('a registered path replaced by a FIFO is refused at once, not waited on', async () => {
    rmSync(file);
    execFileSync('mkfifo', [file]);
    const t = performance.now();
    await expect(psi(store, 'j1', true)).rejects.toMatchObject({ code: 'DATA_FILE_UNREADABLE' });
    expect(performance.now() - t).toBeLessThan(2000);
    rmSync(file);
    writeFileSync(file, original);
  });

  it('a data file over the node\'s limit is DATA_FILE_TOO_LARGE before it is read', () => {
    const root = new DataRoot(dir, 1000);
    expect(() => root.read('loans.csv')).toThrow(expect.objectContaining({ code: 'DATA_FILE_TOO_LARGE' }));
    expect(new DataRoot(dir).read('loans.csv').sha256).toBe(sha(original));
  });

  it("the verifier's ledger names the fingerprint each job pinned and the record that registered it; a job's record naming other content is a finding", () => {
    // The chain as a node leaves it: its identity beside its database; its key from the regulator's file.
    const id = store.identity('bank');
    writeFileSync(join(dir, 'node', 'identity.json'), JSON.stringify({ name: 'bank', role: 'bank', publicKey: Buffer.from(id.publicKey).toString('base64') }));
    const keys = new Map([['bank', id.publicKey]]);
    const registrations = store.audit.records('admin').filter((r) => r.body.includes('dataset-registered'));
    const regSeq = (text: string) => registrations.find((r) => (JSON.parse(r.body) as { sha256: string }).sha256 === sha(text))!.seq;
    const r = verifyAudit([join(dir, 'node')], { keys });
    expect(r.findings).toEqual([]);
    // j1 read the original file, j2 the one with flipped labels (registered second).
    expect(r.datasets).toEqual([
      { job: 'j1', node: 'bank', dataset: 'loans', sha256: sha(original), registered: regSeq(original) },
      { job: 'j2', node: 'bank', dataset: 'loans', sha256: sha(flipped(original)), registered: regSeq(flipped(original)) },
    ]);
    const text = formatVerify(r);
    const section = (job: string) => text.slice(text.indexOf(`job ${job}:`)).split('\n\n')[0]!;
    expect(section('j1')).toContain(`bank dataset "loans": SHA-256 ${sha(original)}, as registered (bank record #${regSeq(original)})`);
    expect(section('j2')).toContain(`bank dataset "loans": SHA-256 ${sha(flipped(original))}, as registered (bank record #${regSeq(flipped(original))})`);
    expect(section('j1')).not.toContain(sha(flipped(original)));

    // A record of j1's use naming other content (signed by the node itself: a node that read other data).
    store.tx(() => store.audit.append('data-access', 'j1', { dataset: 'loans', stage: 'training', rows: 569, columns: [], sha256: sha(flipped(original)) }));
    const after = verifyAudit([join(dir, 'node')], { keys });
    expect(after.ok).toBe(false);
    expect(after.findings.map((f) => f.problem)).toEqual([`job j1 read dataset "loans" as ${sha(flipped(original))} after pinning ${sha(original)}`]);
  });
});
