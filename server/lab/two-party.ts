/**
 * The lab's comparison of the two arbiter modes (server/jobs/spec.ts `arbiter`) on one bank's
 * loans: the same `lr` job run three-party (the coordinator's arbiter holds the training key) and
 * two-party (`"arbiter": "none"`: the bank holds the only key, the coordinator orchestrates). For
 * each: the bank's test AUC and KS from its own view of the job, the rounds, the time, and the
 * privacy classes of every message the coordinator's audit chain recorded for the job (two-party:
 * metadata only).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import type { Cluster, JobView } from '../cluster.ts';
import type { ArbiterMode } from '../jobs/spec.ts';

export interface ModeRun {
  job: string;
  arbiter: ArbiterMode;
  testAuc: number;
  testKs: number;
  bankOnlyTestAuc: number;
  rounds: number;
  converged: boolean;
  seconds: number;
  /** Privacy classes of the messages the coordinator sent or received for this job, with counts. */
  coordinator: Record<string, number>;
}

/** Per privacy class, the message records (sent and received) of `job` in the coordinator's audit chain. */
function coordinatorClasses(c: Cluster, job: string): Record<string, number> {
  const db = new Database(join(c.dataDir('coordinator'), 'node.db'), { readonly: true });
  const rows = db.prepare("SELECT body FROM audit WHERE job = ? AND kind IN ('message-sent', 'message-received')").all(job) as { body: string }[];
  db.close();
  const out: Record<string, number> = {};
  for (const r of rows) {
    const p = String((JSON.parse(r.body) as { privacy?: unknown }).privacy);
    out[p] = (out[p] ?? 0) + 1;
  }
  return out;
}

/**
 * Run the `lr` job on `bank` in each mode, both at once (the nodes run jobs concurrently; this keeps
 * the lab's time down). Their times therefore include each other's load: the modes' speeds are
 * compared by `npm run bench -- vfl --mode both`, not here.
 */
export async function compareModes(c: Cluster, bank: string, seed: string, log: (line: string) => void): Promise<ModeRun[]> {
  const one = async (arbiter: ArbiterMode): Promise<ModeRun> => {
    const job = `lr-${arbiter === 'none' ? 'two-party' : 'three-party'}-${bank}`;
    const t = performance.now();
    await c.admin('coordinator', 'POST', '/v1/admin/jobs', {
      id: job,
      pipeline: 'lr',
      arbiter,
      coordinator: 'coordinator',
      guest: { node: bank, dataset: 'loans' },
      host: { node: 'platform', dataset: 'platform-credit' },
      seed,
      testFraction: 0.3,
    });
    await c.waitForJob('coordinator', job, 480_000);
    const seconds = (performance.now() - t) / 1000;
    const own = (await c.admin<JobView>(bank, 'GET', `/v1/admin/jobs/${job}`)).progress as { training: { iterations: number; converged: boolean }; evaluation: Record<string, number> };
    const e = own.evaluation;
    return { job, arbiter, testAuc: e.testAuc!, testKs: e.testKs!, bankOnlyTestAuc: e.bankOnlyTestAuc!, rounds: own.training.iterations, converged: own.training.converged, seconds, coordinator: coordinatorClasses(c, job) };
  };
  const runs = await Promise.all((['coordinator', 'none'] as const).map(one));
  for (const r of runs) log(`  ${bank} lr, ${r.arbiter === 'none' ? 'two-party (no arbiter)' : 'three-party (arbiter: coordinator)'}: AUC ${r.testAuc.toFixed(4)}, ${r.rounds} rounds, ${r.seconds.toFixed(1)} s (both modes at once); the coordinator's messages: ${classes(r.coordinator)}`);
  return runs;
}

const classes = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${v} ${k}`).join(', ');

export function modesMarkdown(bank: string, runs: readonly ModeRun[]): string[] {
  return [
    '',
    `The \`lr\` pipeline on ${bank}'s loans in each arbiter mode, both jobs at once (test rows of the bank; seconds include the other job's load; "coordinator's messages" are the privacy classes of every message its audit chain recorded for the job):`,
    '',
    '| job | arbiter | joint AUC | joint KS | bank-only AUC | rounds | converged | seconds | coordinator\'s messages |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...runs.map((r) => `| ${r.job} | ${r.arbiter === 'none' ? 'none (two-party)' : 'coordinator (three-party)'} | ${r.testAuc.toFixed(4)} | ${r.testKs.toFixed(4)} | ${r.bankOnlyTestAuc.toFixed(4)} | ${r.rounds} | ${r.converged} | ${r.seconds.toFixed(1)} | ${classes(r.coordinator)} |`),
  ];
}
