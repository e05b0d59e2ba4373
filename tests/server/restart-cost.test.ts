/**
 * Restarts cost what is unfinished (issue 15, item 6): every node marks its part of a job terminal
 * (completed when its last stage reported, failed when the coordinator stops it), a restarted node
 * replays only unfinished jobs, and cancel applies to running jobs only.
 *
 * Real processes (server/cluster.ts): 20 completed `lr` jobs on the FATE breast data, then the
 * platform is stopped and started again; the CPU it spent from its start to the end of its recovery
 * is read from its own log line (process.cpuUsage in the node) and from /proc. Compiled node program
 * against tsx's loader, side by side: `npm run bench -- restart`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuUntilIdle } from '../../benchmarks/restart.ts';
import { Cluster, type JobView } from '../../server/cluster.ts';
import { usccFromNumber } from '../../server/lab/generate.ts';
import { tempDir } from '../helpers/tmp.ts';

const JOBS = 20;
const fate = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;

function breastFiles(root: string): void {
  const map = (src: string, dest: string) => {
    const [head, ...lines] = readFileSync(fate(src), 'utf8').trimEnd().split('\n');
    writeFileSync(join(root, dest), [head, ...lines.map((l) => usccFromNumber(Number(l.slice(0, l.indexOf(',')))) + l.slice(l.indexOf(',')))].join('\n') + '\n');
    return lines.map((l) => usccFromNumber(Number(l.slice(0, l.indexOf(',')))));
  };
  map('breast_hetero_guest.csv', 'guest.csv');
  const ids = map('breast_hetero_host.csv', 'host.csv');
  writeFileSync(join(root, 'auth.csv'), ['uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref', ...ids.map((id, i) => `${id},bank-a,modelling,2024-01-01,2030-12-31,,T-${i}`)].join('\n') + '\n');
}

/**
 * Start the cluster's platform and measure its CPU from start until idle (/proc: no CPU used over
 * one second), and the number of jobs it says it replayed (its log, if it says).
 */
async function restartCpu(c: Cluster): Promise<{ cpu: number; replayed: number; logged: string }> {
  await c.start('platform');
  const last = await cpuUntilIdle(c.pid('platform')!);
  const log = readFileSync(join(c.dataDir('platform'), 'node.log'), 'utf8').split('listening on').pop()!;
  const recovering = (log.match(/recovering job /g) ?? []).length;
  const line = /recovered (\d+) unfinished job\(s\) in \d+ ms; process CPU since start ([0-9.]+) s/.exec(log);
  return { cpu: last, replayed: line ? Number(line[1]) : recovering, logged: line?.[2] ?? '-' };
}

describe('restarts replay only unfinished jobs', () => {
  const root = tempDir('indomain-restart-root-');
  const c = new Cluster(
    tempDir('indomain-restart-'),
    [
      { name: 'coordinator', role: 'coordinator', port: 0 },
      { name: 'platform', role: 'platform', port: 0, args: ['--auto-approve'] },
      { name: 'bank-a', role: 'bank', port: 0 },
    ],
    { dataRoot: root },
  );
  const spec = (id: string, dataset = 'loans') => ({ id, pipeline: 'lr', coordinator: 'coordinator', guest: { node: 'bank-a', dataset }, host: { node: 'platform', dataset: 'credit' }, training: { maxIterations: 8 } });
  const status = async (node: string, id: string) => (await c.admin<JobView>(node, 'GET', `/v1/admin/jobs/${id}`)).status;

  beforeAll(async () => {
    breastFiles(root);
    await c.startAll();
    await c.admin('bank-a', 'POST', '/v1/admin/datasets', { name: 'loans', path: 'guest.csv', idColumn: 'id', labelColumn: 'y', uscc: true });
    await c.admin('platform', 'POST', '/v1/admin/datasets', { name: 'credit', path: 'host.csv', idColumn: 'id', uscc: true });
    await c.admin('platform', 'POST', '/v1/admin/authorisations/import', { path: 'auth.csv' });
    // Four at a time: the machine has two cores.
    for (let i = 0; i < JOBS; i += 4) {
      const ids = Array.from({ length: Math.min(4, JOBS - i) }, (_, k) => `done-${i + k}`);
      for (const id of ids) await c.admin('coordinator', 'POST', '/v1/admin/jobs', spec(id));
      for (const id of ids) await c.waitForJob('coordinator', id, 300_000);
    }
    // 20 jobs took 880 s on the loaded two-core machine: room to spare.
  }, 1_800_000);
  afterAll(async () => c.stop());

  it('every node marks each completed job completed, and a platform restart replays none of them and takes under 2 s of CPU (that of a bare start, within 0.5 s)', async () => {
    for (let i = 0; i < JOBS; i++) {
      for (const node of ['platform', 'bank-a']) expect(await status(node, `done-${i}`), `${node} done-${i}`).toBe('completed');
    }
    await c.kill('platform', 'SIGTERM');
    const after = await restartCpu(c);
    // The same node program started on an empty database in the same run: what any start costs
    // here (loading the modules and compiling the routes' schemas is most of it).
    const bare = new Cluster(tempDir('indomain-restart-bare-'), [{ name: 'platform', role: 'platform', port: 0 }]);
    const empty = await restartCpu(bare);
    await bare.stop();
    console.log(
      `restart after ${JOBS} completed jobs: ${after.replayed} job(s) replayed, platform CPU from start until idle ${after.cpu.toFixed(2)} s (its own log: ${after.logged} s to recovered); ` +
        `the same node started on an empty database: ${empty.cpu.toFixed(2)} s`,
    );
    expect(after.replayed).toBe(0);
    // CPU, not wall time: the machine's load stretches the wall clock, hardly the process's CPU.
    // Under 2 s outright (issue 15's acceptance), and no more than a bare start plus 0.5 s.
    expect(after.cpu).toBeLessThan(2);
    expect(after.cpu).toBeLessThan(empty.cpu + 0.5);
    expect((await fetch(`${c.url('platform')}/v1/health`)).ok).toBe(true);
  }, 180_000);

  it('cancel applies to running jobs only: a completed job keeps its status on every node (SRV_JOB_NOT_RUNNING)', async () => {
    for (const node of ['coordinator', 'platform', 'bank-a']) {
      const r = await fetch(`${c.url(node)}/v1/admin/jobs/done-0/cancel`, { method: 'POST', headers: { 'x-admin-token': c.token } });
      expect(r.status, node).toBe(409);
      expect(((await r.json()) as { code: string }).code).toBe('SRV_JOB_NOT_RUNNING');
      expect(await status(node, 'done-0')).toBe('completed');
    }
  });

  it('a failed job is terminal on every node: the coordinator stops it on the party that did not fail', async () => {
    await c.admin('coordinator', 'POST', '/v1/admin/jobs', spec('fails', 'no-such-dataset'));
    await expect(c.waitForJob('coordinator', 'fails', 120_000)).rejects.toThrow(/SRV_NOT_FOUND/);
    const deadline = Date.now() + 60_000;
    while ((await status('platform', 'fails')) !== 'failed') {
      if (Date.now() > deadline) throw new Error(`the platform kept the failed job ${await status('platform', 'fails')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await status('bank-a', 'fails')).toBe('failed');
    const platformView = await c.admin<JobView>('platform', 'GET', '/v1/admin/jobs/fails');
    expect(platformView.error).toMatchObject({ code: 'SRV_JOB_FAILED', cause: { code: 'SRV_JOB_FAILED' } });
  }, 180_000);
});
