/**
 * The lab's comparison of the two arbiter modes (server/jobs/spec.ts `arbiter`) on one bank's
 * loans: the `lr` job run three-party (the coordinator's arbiter holds the training key) and
 * two-party (`"arbiter": "none"`: the bank holds the only key, the coordinator orchestrates), and
 * the scorecard two-party beside the lab's three-party one. For each: the bank's test AUC and KS from its own view of the job, the rounds, the time, and the
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
  pipeline: 'lr' | 'scorecard';
  arbiter: ArbiterMode;
  testAuc: number;
  testKs: number;
  bankOnlyTestAuc: number;
  rounds: number;
  converged: boolean;
  /** Null for the lab's own three-party scorecard job (run before, alone: see its stage times). */
  seconds: number | null;
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

/** One finished job as the bank sees it (its own view: the coordinator of a two-party job holds no metric). */
async function describe(c: Cluster, bank: string, job: string, pipeline: ModeRun['pipeline'], arbiter: ArbiterMode, seconds: number | null): Promise<ModeRun> {
  const own = (await c.admin<JobView>(bank, 'GET', `/v1/admin/jobs/${job}`)).progress as { training: { iterations: number; converged: boolean }; evaluation: Record<string, number> };
  const e = own.evaluation;
  return { job, pipeline, arbiter, testAuc: e.testAuc!, testKs: e.testKs!, bankOnlyTestAuc: e.bankOnlyTestAuc!, rounds: own.training.iterations, converged: own.training.converged, seconds, coordinator: coordinatorClasses(c, job) };
}

/**
 * On `bank`: the `lr` job in each mode and the scorecard in two-party mode (`scorecard`: the
 * lab's declarations), all at once (the nodes run jobs concurrently; this keeps the lab's time
 * down), listed with the lab's three-party scorecard job `scorecardJob` that ran before. Their
 * times include each other's load: the modes' speeds are compared by `npm run bench -- vfl
 * --mode both`, not here.
 */
export async function compareModes(c: Cluster, o: { bank: string; seed: string; scorecard: Record<string, unknown>; scorecardJob: string; log: (line: string) => void }): Promise<ModeRun[]> {
  const one = async (pipeline: ModeRun['pipeline'], arbiter: ArbiterMode): Promise<ModeRun> => {
    const job = `${pipeline}-${arbiter === 'none' ? 'two-party' : 'three-party'}-${o.bank}`;
    const t = performance.now();
    await c.admin('coordinator', 'POST', '/v1/admin/jobs', {
      id: job,
      pipeline,
      arbiter,
      coordinator: 'coordinator',
      guest: { node: o.bank, dataset: 'loans' },
      host: { node: 'platform', dataset: 'platform-credit' },
      seed: o.seed,
      testFraction: 0.3,
      ...(pipeline === 'scorecard' ? { scorecard: o.scorecard } : {}),
    });
    await c.waitForJob('coordinator', job, 600_000);
    return describe(c, o.bank, job, pipeline, arbiter, (performance.now() - t) / 1000);
  };
  const runs = [await describe(c, o.bank, o.scorecardJob, 'scorecard', 'coordinator', null), ...(await Promise.all([one('lr', 'coordinator'), one('lr', 'none'), one('scorecard', 'none')]))];
  for (const r of runs) o.log(`  ${o.bank} ${r.pipeline}, ${r.arbiter === 'none' ? 'two-party (no arbiter)' : 'three-party (arbiter: coordinator)'}: AUC ${r.testAuc.toFixed(4)}, ${r.rounds} rounds${r.seconds === null ? '' : `, ${r.seconds.toFixed(1)} s (three jobs at once)`}; the coordinator's messages: ${classes(r.coordinator)}`);
  return runs;
}

const classes = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${v} ${k}`).join(', ');

export function modesMarkdown(bank: string, runs: readonly ModeRun[]): string[] {
  return [
    '',
    `The arbiter modes side by side on ${bank}'s loans (the bank's test rows; the jobs with seconds ran at once, so their times include each other's load; "coordinator's messages" are the privacy classes of every message its audit chain recorded for the job):`,
    '',
    '| job | pipeline | arbiter | joint AUC | joint KS | bank-only AUC | rounds | converged | seconds | coordinator\'s messages |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...runs.map((r) => `| ${r.job} | ${r.pipeline} | ${r.arbiter === 'none' ? 'none (two-party)' : 'coordinator (three-party)'} | ${r.testAuc.toFixed(4)} | ${r.testKs.toFixed(4)} | ${r.bankOnlyTestAuc.toFixed(4)} | ${r.rounds} | ${r.converged} | ${r.seconds === null ? '(above)' : r.seconds.toFixed(1)} | ${classes(r.coordinator)} |`),
  ];
}
