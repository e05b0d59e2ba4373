import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type JobView } from '../../server/cluster.ts';
import { generateLab, LABEL } from '../../server/lab/generate.ts';
import { tempDir } from '../helpers/tmp.ts';

describe("the platform analyst's approval", () => {
  const dir = tempDir('indomain-approval-');
  const c = new Cluster(join(dir, 'nodes'), [
    { name: 'coordinator', role: 'coordinator', port: 0 },
    { name: 'platform', role: 'platform', port: 0 },
    { name: 'bank-1', role: 'bank', port: 0 },
  ], { dataRoot: join(dir, 'data') });
  const spec = (id: string) => ({ id, pipeline: 'lr', coordinator: 'coordinator', guest: { node: 'bank-1', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' }, seed: '7' });
  const psiInputs = () => {
    const db = new Database(join(c.dataDir('platform'), 'node.db'), { readonly: true });
    const n = (db.prepare("SELECT COUNT(*) AS n FROM audit WHERE kind = 'psi-input'").get() as { n: number }).n;
    db.close();
    return n;
  };
  const until = async (f: () => Promise<boolean>) => {
    const deadline = Date.now() + 60_000;
    while (!(await f())) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  beforeAll(async () => {
    const data = generateLab(join(dir, 'data'), { enterprises: 3000, banks: 1, loans: 1200, overlap: 0.9, seed: 'approval' });
    await c.startAll();
    await c.admin('platform', 'POST', '/v1/admin/datasets', { name: 'credit', path: data.platform, idColumn: 'id', uscc: true });
    await c.admin('platform', 'POST', '/v1/admin/authorisations/import', { path: data.authorisations });
    await c.admin('bank-1', 'POST', '/v1/admin/datasets', { name: 'loans', path: data.banks[0], idColumn: 'id', labelColumn: LABEL, uscc: true });
  }, 60_000);
  afterAll(async () => {
    await c.stop();
  });

  it('holds a job until approved, touching none of the platform data; a refusal fails it everywhere', async () => {
    await c.admin('coordinator', 'POST', '/v1/admin/jobs', spec('refused'));
    await until(async () => (await c.admin<JobView>('platform', 'GET', '/v1/admin/jobs/refused').catch(() => undefined))?.status === 'awaiting-approval');
    // A negative check: give a platform that ignored approval a second to start PSI (there is no
    // event to wait for when the right behaviour is that nothing happens).
    await new Promise((r) => setTimeout(r, 1000));
    expect(psiInputs()).toBe(0);
    expect((await c.admin<JobView>('coordinator', 'GET', '/v1/admin/jobs/refused')).stage).toBe('psi');
    await c.admin('platform', 'POST', '/v1/admin/jobs/refused/refuse', { reason: 'purpose not covered by the agreement' });
    await until(async () => (await c.admin<JobView>('coordinator', 'GET', '/v1/admin/jobs/refused')).status === 'failed');
    const j = await c.admin<JobView>('coordinator', 'GET', '/v1/admin/jobs/refused');
    // The coordinator learns the code; the analyst's free-text reason stays on the platform.
    expect(j.error).toMatchObject({ code: 'SRV_JOB_FAILED', party: 'host', cause: { code: 'SRV_JOB_REFUSED' } });
    expect(JSON.stringify(j.error)).not.toMatch(/purpose not covered/);
    expect(JSON.stringify((await c.admin<JobView>('platform', 'GET', '/v1/admin/jobs/refused')).error)).toMatch(/SRV_JOB_REFUSED.*purpose not covered/);
    expect(psiInputs()).toBe(0);
  }, 90_000);

  it('runs an approved job to the end', async () => {
    await c.admin('coordinator', 'POST', '/v1/admin/jobs', spec('approved'));
    await until(async () => (await c.admin<JobView>('platform', 'GET', '/v1/admin/jobs/approved').catch(() => undefined))?.status === 'awaiting-approval');
    await c.admin('platform', 'POST', '/v1/admin/jobs/approved/approve');
    const j = await c.waitForJob('coordinator', 'approved', 120_000);
    expect(j.status).toBe('completed');
    expect(psiInputs()).toBe(1);
  }, 150_000);

  it('SIGKILL of the coordinator during training, then a restart: the job completes (the arbiter key was kept)', async () => {
    await c.admin('coordinator', 'POST', '/v1/admin/jobs', { ...spec('coordinator-killed'), training: { tolerance: 1e-7, maxIterations: 40, refuseUnconverged: false } });
    await until(async () => (await c.admin<JobView>('platform', 'GET', '/v1/admin/jobs/coordinator-killed').catch(() => undefined))?.status === 'awaiting-approval');
    await c.admin('platform', 'POST', '/v1/admin/jobs/coordinator-killed/approve');
    await until(async () => {
      const j = await c.admin<JobView>('coordinator', 'GET', '/v1/admin/jobs/coordinator-killed');
      return j.stage === 'training' && Number(j.progress.trainingRound) >= 2;
    });
    await c.kill('coordinator', 'SIGKILL'); // resolves when the process has exited
    await c.start('coordinator');
    const j = await c.waitForJob('coordinator', 'coordinator-killed', 120_000);
    const t = (j.result!.stages as Record<string, Record<string, { iterations: number; converged: boolean }>>).training!;
    expect(t.guest!.iterations).toBeGreaterThan(2);
    const own = await c.admin<JobView>('bank-1', 'GET', '/v1/admin/jobs/coordinator-killed');
    expect((own.progress as { training: { weights: number[] } }).training.weights.length).toBeGreaterThan(1);
    expect((j.result!.training as { iterations: number }).iterations).toBeGreaterThan(2);
  }, 180_000);
});
