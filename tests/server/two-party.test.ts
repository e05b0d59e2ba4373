/**
 * The `lr` pipeline in two-party mode (`"arbiter": "none"`, protocols/vfl-lr-2p) across real node
 * processes over signed HTTP: a coordinator, the platform and a bank, default_credit (30,000 rows,
 * 24,000 training). The bank holds the only CKKS key and runs the optimiser; the coordinator
 * orchestrates and must receive metadata only, which its own audit chain and `indomain audit
 * verify`'s ledger must show. Killing the bank (the key holder and the optimiser) or the platform
 * (the secret rotation) mid-training and restarting it must end in the same model quality with no
 * message lost, as the three-party cluster test does for the platform (tests/server/cluster.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSplitPair, standardizedSide } from '../../benchmarks/pair.ts';
import { fitLogistic, predictLogistic } from '../../models/logistic.ts';
import { auc } from '../../models/metrics.ts';
import { messageSpec } from '../../protocols/message.ts';
import { anchorHeads } from '../../server/audit-anchor.ts';
import { readAnchor, readKeys } from '../../server/audit-chains.ts';
import { verifyAudit } from '../../server/audit-verify.ts';
import { Cluster, type JobView } from '../../server/cluster.ts';
import '../../protocols/vfl-lr-2p/messages.ts';
import { usccCopies } from '../helpers/fate-uscc.ts';
import { tempDir } from '../helpers/tmp.ts';

const CLI = new URL('../../server/indomain.mjs', import.meta.url).pathname;

/** Every message any node queued for another is in the receiver's inbox, exactly once. */
function lostRecords(c: Cluster): string[] {
  const dbs = new Map(c.nodes.map((n) => [n.name, new Database(join(c.dataDir(n.name), 'node.db'), { readonly: true })]));
  const lost: string[] = [];
  for (const [name, db] of dbs) {
    for (const r of db.prepare('SELECT key, to_node AS toNode FROM outbox').all() as { key: string; toNode: string }[]) {
      const n = (dbs.get(r.toNode)!.prepare('SELECT COUNT(*) AS n FROM inbox WHERE key = ?').get(r.key) as { n: number }).n;
      if (n !== 1) lost.push(`${name} → ${r.toNode}: ${r.key} (${n} copies)`);
    }
  }
  for (const db of dbs.values()) db.close();
  return lost;
}

/** The coordinator's audit records of messages (sent or received) for `job`. */
function coordinatorMessages(c: Cluster, job: string): { kind: string; protocol: string; type: string; privacy: string }[] {
  const db = new Database(join(c.dataDir('coordinator'), 'node.db'), { readonly: true });
  const rows = db.prepare("SELECT kind, body FROM audit WHERE job = ? AND kind IN ('message-sent', 'message-received')").all(job) as { kind: string; body: string }[];
  db.close();
  return rows.map((r) => ({ kind: r.kind, ...(JSON.parse(r.body) as { protocol: string; type: string; privacy: string }) }));
}

describe('two-party lr (no arbiter) across processes over HTTP', () => {
  const c = new Cluster(tempDir('indomain-2p-cluster-'), [
    { name: 'coordinator', role: 'coordinator', port: 0 },
    { name: 'platform', role: 'platform', port: 0, args: ['--auto-approve'] },
    { name: 'bank-a', role: 'bank', port: 0 },
  ], { dataRoot: tempDir('indomain-2p-data-') });
  const spec = (id: string) => ({ id, pipeline: 'lr', arbiter: 'none', coordinator: 'coordinator', guest: { node: 'bank-a', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' }, seed: '42', testFraction: 0.2 });
  let test: { cols: Float64Array[]; y: Uint8Array; guestColumns: number };
  let centralAuc: number;
  const figures: string[] = [];
  let guestCsv = '';

  /** The joint model from each party's own view of the job, on the test rows; and the bank's own report. */
  async function outcome(job: string) {
    const own = async (node: string) => (await c.admin<JobView>(node, 'GET', `/v1/admin/jobs/${job}`)).progress as { training: { weights: number[]; iterations: number; converged: boolean }; evaluation: Record<string, number> };
    const bank = await own('bank-a');
    const platform = await own('platform');
    const [intercept, ...g] = bank.training.weights;
    const jointAuc = auc(predictLogistic({ intercept: intercept!, weights: Float64Array.from([...g, ...platform.training.weights]) }, test.cols), test.y);
    return { bank, platform, jointAuc };
  }

  beforeAll(async () => {
    const files = usccCopies(c.options.dataRoot!, 'bank-a', ['modelling', 'pre-loan']);
    guestCsv = files.guest;
    await c.startAll();
    await c.admin('bank-a', 'POST', '/v1/admin/datasets', { name: 'loans', path: files.guest, idColumn: 'id', labelColumn: 'y', uscc: true });
    await c.admin('platform', 'POST', '/v1/admin/datasets', { name: 'credit', path: files.host, idColumn: 'id', uscc: true });
    await c.admin('platform', 'POST', '/v1/admin/authorisations/import', { path: files.authorisations });
    // The centralised reference on the same split and preparation (the nodes' seeded split of the PSI intersection).
    const pair = await loadSplitPair({ guest: files.guest, host: files.host, id: 'id', label: 'y', seed: '42', testFraction: 0.2 });
    const g = standardizedSide(pair.guest);
    const h = standardizedSide(pair.host);
    test = { cols: [...g.test, ...h.test], y: g.testTable.label!, guestColumns: g.train.length };
    const central = fitLogistic([...g.train, ...h.train], g.trainTable.label!, { optimizer: 'newton', tolerance: 1e-10 });
    centralAuc = auc(predictLogistic(central, test.cols), test.y);
  }, 300_000);
  afterAll(async () => {
    await c.stop();
    console.log(`two-party cluster:\n  ${figures.join('\n  ')}`);
  });

  it('default_credit through coordinator, platform and bank processes: converged, test AUC within 0.002 of centralised LR; the coordinator shows progress but holds no metrics', async () => {
    const t0 = Date.now();
    await c.admin('coordinator', 'POST', '/v1/admin/jobs', spec('two-party'));
    let maxRound = 0;
    const j = await c.waitForJob('coordinator', 'two-party', 480_000, (v) => void (maxRound = Math.max(maxRound, Number(v.progress.trainingRound ?? 0))));
    expect(j.status).toBe('completed');
    const o = await outcome('two-party');
    figures.push(`job: ${o.bank.training.iterations} rounds, converged ${o.bank.training.converged}, bank's test AUC ${o.bank.evaluation.testAuc!.toFixed(5)} (bank-only ${o.bank.evaluation.bankOnlyTestAuc!.toFixed(4)}), joint model from both views ${o.jointAuc.toFixed(4)}, centralised ${centralAuc.toFixed(5)}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(o.bank.training.converged).toBe(true);
    expect(o.platform.training.converged).toBe(true);
    expect(o.bank.training.weights.length).toBe(test.guestColumns + 1);
    expect(Math.abs(o.bank.evaluation.testAuc! - centralAuc)).toBeLessThanOrEqual(0.002);
    expect(Math.abs(o.jointAuc - o.bank.evaluation.testAuc!)).toBeLessThan(1e-9);
    expect(o.bank.evaluation.testAuc!).toBeGreaterThan(o.bank.evaluation.bankOnlyTestAuc! + 0.05);
    // The coordinator: stages, counts and rounds; no test metric (no BankMetrics in two-party jobs).
    const r = j.result as { stages: Record<string, Record<string, Record<string, unknown>>>; training: { arbiter: string; rounds: number } };
    expect(r.training).toEqual({ arbiter: 'none', rounds: o.bank.training.iterations });
    expect(maxRound).toBeGreaterThan(0);
    expect(Object.keys(r.stages.evaluation!.guest!)).toEqual([]);
    expect(r.stages.training!.guest).toEqual({ iterations: o.bank.training.iterations, converged: true });
  }, 600_000);

  /** Start `job`, SIGKILL `node` once training reached round 2, restart it; the job must complete as before. */
  async function killMidTraining(job: string, node: string) {
    await c.admin('coordinator', 'POST', '/v1/admin/jobs', spec(job));
    const deadline = Date.now() + 300_000;
    for (;;) {
      const j = await c.admin<JobView>('coordinator', 'GET', `/v1/admin/jobs/${job}`);
      if (j.stage === 'training' && Number(j.progress.trainingRound) >= 2) break;
      expect(j.status).not.toBe('completed');
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 50));
    }
    await c.kill(node, 'SIGKILL'); // resolves when the process has exited
    await c.start(node);
    expect((await c.waitForJob('coordinator', job, 480_000)).status).toBe('completed');
    const o = await outcome(job);
    figures.push(`${node} killed mid-training: ${o.bank.training.iterations} rounds, converged ${o.bank.training.converged}, test AUC ${o.bank.evaluation.testAuc!.toFixed(5)} vs centralised ${centralAuc.toFixed(5)}`);
    expect(o.bank.training.converged).toBe(true);
    expect(Math.abs(o.bank.evaluation.testAuc! - centralAuc)).toBeLessThanOrEqual(0.002);
    expect(Math.abs(o.jointAuc - o.bank.evaluation.testAuc!)).toBeLessThan(1e-9);
  }

  // The bank holds the key and the optimiser: it rebuilds both from its store and inbox.
  it('SIGKILL of the bank (the key holder) in the middle of training, then a restart: the same model quality', () => killMidTraining('two-party-kill-bank', 'bank-a'), 700_000);

  // The platform's rotation comes from a secret kept in its store: a restarted platform must draw the same one.
  it('SIGKILL of the platform in the middle of training, then a restart: the same model quality', () => killMidTraining('two-party-kill-platform', 'platform'), 700_000);

  it('the scorecard in two-party mode: report, model, PMML, SQL and scores on the bank; online scoring gives the job\'s points', async () => {
    const t0 = Date.now();
    await c.admin('coordinator', 'POST', '/v1/admin/jobs', { ...spec('two-party-scorecard'), pipeline: 'scorecard', scorecard: { hostCategorical: ['x1', 'x2', 'x3'] } });
    const j = await c.waitForJob('coordinator', 'two-party-scorecard', 600_000);
    expect(j.status).toBe('completed');
    const own = (await c.admin<JobView>('bank-a', 'GET', '/v1/admin/jobs/two-party-scorecard')).progress as { evaluation: { testAuc: number; bankOnlyTestAuc: number; artifacts: string } };
    figures.push(`scorecard job: test AUC ${own.evaluation.testAuc.toFixed(4)} (bank-only ${own.evaluation.bankOnlyTestAuc.toFixed(4)}), ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(own.evaluation.testAuc).toBeGreaterThan(own.evaluation.bankOnlyTestAuc + 0.03);
    const dir = own.evaluation.artifacts;
    // The training side of the report, from the score histogram the bank decrypted (no arbiter).
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { sample: { trainRows: number }; discrimination: { train: { auc: number }; test: { auc: number } } };
    expect(report.sample.trainRows).toBeGreaterThan(20_000);
    expect(report.discrimination.train.auc).toBeGreaterThan(0.7);
    expect(Math.abs(report.discrimination.train.auc - report.discrimination.test.auc)).toBeLessThan(0.03);
    expect(readFileSync(join(dir, 'scorecard.pmml'), 'utf8')).toContain('<PMML');
    expect(readFileSync(join(dir, 'scorecard.sql'), 'utf8')).toMatch(/SELECT|CASE/);
    // Online scoring with the two-party model: the bank's features here, the platform's partial points over signed HTTP.
    const scores = readFileSync(join(dir, 'scores.csv'), 'utf8').trimEnd().split('\n').slice(1).map((l) => l.split(','));
    const [head, ...rows] = readFileSync(guestCsv, 'utf8').trimEnd().split('\n').map((l) => l.split(','));
    const byId = new Map(rows.map((r) => [r[0]!, r]));
    for (const [id, , , points] of scores.slice(0, 20)) {
      const row = byId.get(id!)!;
      const features = Object.fromEntries(head!.map((h, k) => [h, Number(row[k])]).filter(([h]) => h !== 'id' && h !== 'y'));
      const s = await c.admin<{ score: number }>('bank-a', 'POST', '/v1/score', { model: 'two-party-scorecard', id, features });
      expect(s.score).toBe(Number(points));
    }
  }, 700_000);

  it('the coordinator received metadata only: its audit chain and the anchored `indomain audit verify` ledger', async () => {
    // Every message record of the coordinator's chain for the two-party jobs is of a type declared `metadata`.
    for (const job of ['two-party', 'two-party-kill-bank', 'two-party-kill-platform', 'two-party-scorecard']) {
      const recs = coordinatorMessages(c, job);
      expect(recs.length).toBeGreaterThan(10);
      for (const r of recs) {
        expect(r.privacy, `${r.kind} ${r.protocol}/${r.type}`).toBe('metadata');
        expect(messageSpec(r.protocol, r.type).privacy).toBe('metadata');
      }
      const received = new Set(recs.filter((r) => r.kind === 'message-received').map((r) => `${r.protocol}/${r.type}`));
      expect([...received].sort()).toEqual(['job/StageDone', 'job/TrainingRound']);
    }
    // The regulator's keys and anchor, then the command line, as the lab prints it.
    const regulator = tempDir('indomain-2p-regulator-');
    const pinned = JSON.parse(readFileSync(c.peersFile, 'utf8')) as { nodes: { name: string; role: string; publicKey: string }[] };
    writeFileSync(join(regulator, 'keys.json'), JSON.stringify({ nodes: pinned.nodes.map(({ name, role, publicKey }) => ({ name, role, publicKey })) }));
    await c.startAll();
    await anchorHeads({ keys: readKeys(join(regulator, 'keys.json')), out: join(regulator, 'anchor.json'), urls: c.nodes.map((n) => c.url(n.name)) });
    await c.stop();
    expect(readAnchor(join(regulator, 'anchor.json')).heads.length).toBeGreaterThanOrEqual(3);
    const cli = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--keys', join(regulator, 'keys.json'), '--anchor', join(regulator, 'anchor.json'), c.dir], { encoding: 'utf8' });
    expect({ status: cli.status, stderr: cli.stderr }).toEqual({ status: 0, stderr: '' });
    const v = verifyAudit([c.dir], { keys: readKeys(join(regulator, 'keys.json')), anchor: readAnchor(join(regulator, 'anchor.json')) });
    expect(v.ok).toBe(true);
    const toCoordinator = v.ledger.filter((e) => e.job.startsWith('two-party') && e.receiver === 'coordinator');
    figures.push(`coordinator's ledger: ${toCoordinator.map((e) => `${e.job} ${e.type} ×${e.count} (${e.privacy})`).join(', ')}`);
    expect(toCoordinator.length).toBeGreaterThan(0);
    for (const e of toCoordinator) expect(e.privacy, `${e.job} ${e.type}`).toBe('metadata');
    // The training itself crossed between the bank and the platform only.
    const training = v.ledger.filter((e) => e.job === 'two-party' && e.type.startsWith('vfl-lr-2p/'));
    expect(new Set(training.map((e) => `${e.from}→${e.receiver}`))).toEqual(new Set(['bank-a→platform', 'platform→bank-a']));
    expect(cli.stdout).toContain('two-party');
    // No record lost, the restart included.
    expect(lostRecords(c)).toEqual([]);
  }, 300_000);
});
