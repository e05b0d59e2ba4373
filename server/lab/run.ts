/**
 * The one-command lab (`npm run lab`): generate the data, start the coordinator, the platform and
 * the bank nodes as separate processes on loopback, run the full scorecard pipeline for each bank,
 * the `lr` pipeline for the first bank in both arbiter modes (three-party and two-party),
 * print a summary (bank-only vs joint AUC and KS, time per stage, bytes per party pair), write
 * everything to the output directory and stop every process it started (`--serve` keeps them up).
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { csvRows } from '../../engine/csv.ts';
import { anchorHeads } from '../audit-anchor.ts';
import { readKeys } from '../audit-chains.ts';
import { Cluster, type JobView } from '../cluster.ts';
import { buildRegulatorApp } from '../regulator.ts';
import { compareModes, modesMarkdown, type ModeRun } from './two-party.ts';
import { BANK_CATEGORICAL, BANK_FEATURES, DEFAULT_LAB, generateFollowUp, generateLab, LABEL, PLATFORM_CATEGORICAL, type LabOptions } from './generate.ts';

export interface LabRunOptions extends LabOptions {
  readonly out: string;
  readonly serve: boolean;
  /** 0: every node on a port the operating system has free (tests). */
  readonly basePort: number;
  readonly log: (line: string) => void;
}

export interface LabSummary {
  banks: {
    bank: string;
    job: string;
    intersection: number;
    /** The bank's loans to platform enterprises, and how many of those PSI left out for want of a valid authorisation. */
    onPlatform: number;
    unauthorised: number;
    /** The platform's records that were not valid at PSI time, by reason (over all its enterprises). */
    excluded: Record<string, number>;
    joint: { testAuc: number; testKs: number };
    bankOnly: { testAuc: number; testKs: number };
    stages: { stage: string; seconds: number | null }[];
    artifacts: string;
    /** Post-loan monitoring of the book twelve months on. */
    monitoring?: { scored: number; scoreStability: number; alerts: Record<string, number>; listed: number };
  }[];
  /**
   * consortium-lr over every bank's loans (bank features only, no platform): per bank, on its own
   * test rows, its own model against the consortium model. With the lab's two banks the threshold
   * is 2 of 2: no bank may drop out (a third bank would be needed for dropout tolerance).
   */
  consortium?: {
    job: string;
    banks: number;
    threshold: number;
    iterations: number;
    converged: boolean;
    rows: number;
    seconds: number;
    perBank: { bank: string; trainRows: number; testRows: number; ownTestAuc: number; consortiumTestAuc: number }[];
  };
  /** The `lr` pipeline on the first bank's loans, three-party then two-party (server/lab/two-party.ts). */
  modes?: { bank: string; runs: ModeRun[] };
  bytesByPair: Record<string, number>;
  seconds: { generate: number; start: number; total: number };
}

/** Bytes each node sent to each other node, from the nodes' outboxes. */
function bytesByPair(c: Cluster): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of c.nodes) {
    const db = new Database(join(c.dataDir(n.name), 'node.db'), { readonly: true });
    for (const r of db.prepare('SELECT to_node AS peer, SUM(size) AS n FROM outbox GROUP BY to_node').all() as { peer: string; n: number }[]) {
      out[`${n.name} → ${r.peer}`] = r.n;
    }
    db.close();
  }
  return out;
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export async function runLab(o: LabRunOptions): Promise<LabSummary> {
  const t0 = performance.now();
  const out = resolve(o.out);
  rmSync(out, { recursive: true, force: true });
  o.log(`generating lab data: ${o.enterprises} platform enterprises, ${o.banks} banks × ${o.loans} loans (seed ${o.seed})`);
  const data = generateLab(join(out, 'data'), o);
  const t1 = performance.now();
  const bankNames = data.banks.map((_, i) => `bank-${i + 1}`);
  const cluster = new Cluster(join(out, 'nodes'), [
    { name: 'coordinator', role: 'coordinator', port: o.basePort },
    { name: 'platform', role: 'platform', port: o.basePort && o.basePort + 1, args: ['--auto-approve'] },
    ...bankNames.map((name, i) => ({ name, role: 'bank' as const, port: o.basePort && o.basePort + 2 + i })),
  ], { dataRoot: join(out, 'data') }); // where generateLab wrote the CSVs: the nodes read them from there
  // The regulator admits each node by recording its public key in its own keys file (it keeps
  // the file itself; the lab writes it under regulator/ to show the workflow).
  const regulator = join(out, 'regulator');
  mkdirSync(regulator, { recursive: true });
  const pinned = JSON.parse(readFileSync(cluster.peersFile, 'utf8')) as { nodes: { name: string; role: string; publicKey: string }[] };
  writeFileSync(join(regulator, 'keys.json'), JSON.stringify({ nodes: pinned.nodes.map(({ name, role, publicKey }) => ({ name, role, publicKey })) }, null, 2) + '\n');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await cluster.stop();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    o.log(`starting ${cluster.nodes.length} node processes on 127.0.0.1:${o.basePort}–${o.basePort + cluster.nodes.length - 1}`);
    await cluster.startAll();
    const t2 = performance.now();
    await cluster.admin('platform', 'POST', '/v1/admin/datasets', { name: 'platform-credit', path: data.platform, idColumn: 'id', uscc: true });
    const imported = await cluster.admin<{ imported: number }>('platform', 'POST', '/v1/admin/authorisations/import', { path: data.authorisations });
    o.log(`platform: ${imported.imported} authorisations imported`);
    for (const [i, name] of bankNames.entries()) {
      await cluster.admin(name, 'POST', '/v1/admin/datasets', { name: 'loans', path: data.banks[i], idColumn: 'id', labelColumn: LABEL, uscc: true });
    }
    const summary: LabSummary = { banks: [], bytesByPair: {}, seconds: { generate: (t1 - t0) / 1000, start: (t2 - t1) / 1000, total: 0 } };
    for (const name of bankNames) {
      const id = `scorecard-${name}`;
      await cluster.admin('coordinator', 'POST', '/v1/admin/jobs', {
        id,
        pipeline: 'scorecard',
        coordinator: 'coordinator',
        guest: { node: name, dataset: 'loans' },
        host: { node: 'platform', dataset: 'platform-credit' },
        seed: o.seed,
        testFraction: 0.3,
        scorecard: { guestCategorical: BANK_CATEGORICAL, hostCategorical: PLATFORM_CATEGORICAL },
      });
      let last = '';
      const j: JobView = await cluster.waitForJob('coordinator', id, 600_000, (v) => {
        const p = v.progress as { stageIndex?: number; stages?: string[]; trainingRound?: number | null };
        const total = p.stages?.length ?? 1;
        const frac = ((p.stageIndex ?? 0) + (v.status === 'completed' ? 1 : 0)) / total;
        const filled = Math.round(frac * 20);
        const round = v.stage === 'training' && p.trainingRound !== null && p.trainingRound !== undefined ? ` round ${p.trainingRound}` : '';
        const line = `  ${name} [${'#'.repeat(filled)}${'-'.repeat(20 - filled)}] ${v.stage}${round}`;
        if (line !== last) {
          last = line;
          o.log(line);
        }
      });
      const r = j.result as { stages: Record<string, Record<string, Record<string, unknown>>>; timings: { stage: string; seconds: number | null }[] };
      const ev = r.stages.evaluation!.guest! as Record<string, number>;
      // The bank's deliverables are in its own view of the job (the coordinator never sees the path).
      const own = await cluster.admin<JobView>(name, 'GET', `/v1/admin/jobs/${id}`);
      const dest = join(out, 'reports', name);
      cpSync((own.progress as { evaluation: { artifacts: string } }).evaluation.artifacts, dest, { recursive: true });
      summary.banks.push({
        bank: name,
        job: id,
        intersection: Number(r.stages.psi!.guest!.intersection),
        onPlatform: Math.round(o.loans * o.overlap),
        unauthorised: Math.round(o.loans * o.overlap) - Number(r.stages.psi!.guest!.intersection),
        excluded: (r.stages.psi!.host!.excluded ?? {}) as Record<string, number>,
        joint: { testAuc: ev.testAuc!, testKs: ev.testKs! },
        bankOnly: { testAuc: ev.bankOnlyTestAuc!, testKs: ev.bankOnlyTestKs! },
        stages: r.timings,
        artifacts: dest,
      });
    }
    // The two arbiter modes side by side on the first bank (before the platform's data refresh below).
    const declarations = { guestCategorical: BANK_CATEGORICAL, hostCategorical: PLATFORM_CATEGORICAL };
    summary.modes = { bank: bankNames[0]!, runs: await compareModes(cluster, { bank: bankNames[0]!, seed: o.seed, scorecard: declarations, scorecardJob: `scorecard-${bankNames[0]}`, log: o.log }) };
    // Twelve months on: the platform refreshes its data, each bank monitors its book.
    const later = generateFollowUp(data, o.seed);
    await cluster.admin('platform', 'POST', '/v1/admin/datasets', { name: 'platform-credit', path: later.platform, idColumn: 'id', uscc: true });
    for (const [i, b] of summary.banks.entries()) {
      await cluster.admin(b.bank, 'POST', '/v1/admin/datasets', { name: 'book-t1', path: later.books[i], idColumn: 'id', labelColumn: LABEL, uscc: true });
      const run = await cluster.admin<{ alerts: Record<string, number>; scoreStability: number; scored: number }>(b.bank, 'POST', '/v1/admin/monitor', { model: b.job, dataset: 'book-t1', dropPoints: 20 });
      const listed = await cluster.admin<unknown[]>(b.bank, 'GET', `/v1/admin/alerts?model=${b.job}`);
      b.monitoring = { scored: run.scored, scoreStability: run.scoreStability, alerts: run.alerts, listed: listed.length };
      o.log(`  ${b.bank} monitoring: ${run.scored} rescored, score stability ${run.scoreStability.toFixed(4)}, alerts ${JSON.stringify(run.alerts)}`);
    }
    // The two-party scorecard's model in production too: its report and exports, and bank-1's book monitored with it.
    const sc2 = summary.modes.runs.find((r) => r.pipeline === 'scorecard' && r.arbiter === 'none');
    if (sc2) {
      const own = await cluster.admin<JobView>(summary.modes.bank, 'GET', `/v1/admin/jobs/${sc2.job}`);
      cpSync((own.progress as { evaluation: { artifacts: string } }).evaluation.artifacts, join(out, 'reports', `${summary.modes.bank}-two-party`), { recursive: true });
      const run = await cluster.admin<{ alerts: Record<string, number>; scoreStability: number; scored: number }>(summary.modes.bank, 'POST', '/v1/admin/monitor', { model: sc2.job, dataset: 'book-t1', dropPoints: 20 });
      o.log(`  ${summary.modes.bank} monitoring with the two-party scorecard: ${run.scored} rescored, score stability ${run.scoreStability.toFixed(4)}, alerts ${JSON.stringify(run.alerts)}`);
    }
    // The banks' consortium: one logistic regression over every bank's loans, by secure aggregation
    // (bank data only: it runs after monitoring, whose platform refresh it does not use).
    {
      const id = 'consortium-lr';
      const threshold = bankNames.length;
      const t = performance.now();
      await cluster.admin('coordinator', 'POST', '/v1/admin/jobs', {
        id,
        pipeline: 'consortium-lr',
        coordinator: 'coordinator',
        banks: bankNames.map((node) => ({ node, dataset: 'loans' })),
        features: [...BANK_FEATURES],
        threshold,
        seed: o.seed,
        testFraction: 0.3,
      });
      const j = await cluster.waitForJob('coordinator', id, 600_000);
      const r = j.result as { iterations: number; converged: boolean; rows: number };
      const perBank = [];
      for (const name of bankNames) {
        const own = (await cluster.admin<JobView>(name, 'GET', `/v1/admin/jobs/${id}`)).progress as { trainRows: number; testRows: number; own: { testAuc: number }; consortium: { testAuc: number } };
        perBank.push({ bank: name, trainRows: own.trainRows, testRows: own.testRows, ownTestAuc: own.own.testAuc, consortiumTestAuc: own.consortium.testAuc });
      }
      summary.consortium = { job: id, banks: bankNames.length, threshold, iterations: r.iterations, converged: r.converged, rows: r.rows, seconds: (performance.now() - t) / 1000, perBank };
      o.log(`  consortium-lr over ${bankNames.length} banks (threshold ${threshold} of ${bankNames.length}${threshold === bankNames.length ? ': no dropout tolerance' : ''}): ${r.iterations} Newton steps, ${r.rows} rows`);
    }
    // An enterprise withdraws its consent: the platform revokes its post-loan authorisation for bank-1.
    const auth = csvRows(readFileSync(data.authorisations, 'utf8'));
    const col = (n: string) => auth[0]!.indexOf(n);
    const withdrawn = auth.slice(1).find((r) => r[col('bank')] === 'bank-1' && r[col('purpose')] === 'post-loan' && r[col('revoked_at')] === '');
    if (withdrawn) {
      await cluster.admin('platform', 'POST', '/v1/admin/authorisations/revoke', { uscc: withdrawn[col('uscc')], bank: 'bank-1', purpose: 'post-loan' });
      o.log('  platform: 1 post-loan authorisation of bank-1 revoked (the enterprise withdrew its consent)');
    }
    // The regulator pulls every node's signed chain head into its own anchor file.
    const anchored = await anchorHeads({ keys: readKeys(join(regulator, 'keys.json')), out: join(regulator, 'anchor.json'), urls: cluster.nodes.map((n) => cluster.url(n.name)) });
    o.log(`  regulator: anchored ${anchored.map((h) => `${h.node} #${h.seq}`).join(', ')} (verify: indomain audit verify --keys ${join(o.out, 'regulator', 'keys.json')} --anchor ${join(o.out, 'regulator', 'anchor.json')} ${o.out})`);
    summary.bytesByPair = bytesByPair(cluster);
    summary.seconds.total = (performance.now() - t0) / 1000;
    writeFileSync(join(out, 'summary.json'), JSON.stringify(summary, null, 2));
    writeFileSync(join(out, 'summary.md'), summaryMarkdown(summary));
    o.log('');
    o.log(summaryMarkdown(summary));
    if (o.serve) {
      // The regulator's own keys file: in the lab, the nodes' public keys as their operators would hand them over.
      const keys = join(out, 'regulator', 'keys.json');
      mkdirSync(join(out, 'regulator'), { recursive: true });
      writeFileSync(keys, JSON.stringify({ nodes: (JSON.parse(readFileSync(cluster.peersFile, 'utf8')) as { nodes: { name: string; publicKey: string }[] }).nodes.map((n) => ({ name: n.name, publicKey: n.publicKey })) }, null, 2));
      const regulator = await buildRegulatorApp({ records: [join(out, 'nodes')], keys, token: cluster.token });
      const regulatorUrl = await regulator.app.listen({ port: o.basePort && o.basePort + cluster.nodes.length, host: '127.0.0.1' });
      o.log('consoles (sign in with the admin token below):');
      for (const n of cluster.nodes) o.log(`  ${n.name.padEnd(12)} ${n.role.padEnd(12)} ${cluster.url(n.name)}/console/`);
      o.log(`  ${'regulator'.padEnd(12)} ${'regulator'.padEnd(12)} ${regulatorUrl}/console/  (records ${join(out, 'nodes')}, keys ${keys})`);
      o.log(`serving: admin token ${cluster.token}; peers ${cluster.peersFile}; Ctrl-C stops every node`);
      await new Promise<never>(() => {});
    }
    return summary;
  } finally {
    if (!o.serve) await stop();
  }
}

export function summaryMarkdown(s: LabSummary): string {
  const lines = ['# indomain lab summary', '', '| bank | loans to platform enterprises | left out: no valid authorisation | platform records expired / revoked / not yet valid | intersection | joint AUC | joint KS | bank-only AUC | bank-only KS | ' + s.banks[0]!.stages.map((t) => `${t.stage} (s)`).join(' | ') + ' |'];
  lines.push('|' + ' --- |'.repeat(9 + s.banks[0]!.stages.length));
  for (const b of s.banks) {
    lines.push(
      `| ${b.bank} | ${b.onPlatform} | ${b.unauthorised} | ${[b.excluded.expired, b.excluded.revoked, b.excluded['not-yet-valid']].map((x) => x ?? 0).join(' / ')} | ${b.intersection} | ${b.joint.testAuc.toFixed(4)} | ${b.joint.testKs.toFixed(4)} | ${b.bankOnly.testAuc.toFixed(4)} | ${b.bankOnly.testKs.toFixed(4)} | ` +
        b.stages.map((t) => (t.seconds === null ? '—' : t.seconds.toFixed(1))).join(' | ') +
        ' |',
    );
  }
  lines.push('', '| bank | monitoring: rescored | score stability | alerts |', '| --- | --- | --- | --- |');
  for (const b of s.banks) {
    if (b.monitoring) lines.push(`| ${b.bank} | ${b.monitoring.scored} | ${b.monitoring.scoreStability.toFixed(4)} | ${Object.entries(b.monitoring.alerts).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'} |`);
  }
  if (s.consortium) {
    const k = s.consortium;
    lines.push(
      '',
      `consortium-lr over ${k.banks} banks' loans (bank features only; threshold ${k.threshold} of ${k.banks}${k.threshold === k.banks ? ', so no bank may drop out' : ''}): ${k.iterations} Newton steps, converged ${k.converged}, ${k.rows} training rows, ${k.seconds.toFixed(1)} s. Each bank's own test rows:`,
      '',
      '| bank | train rows | test rows | own model AUC | consortium model AUC |',
      '| --- | --- | --- | --- | --- |',
      ...k.perBank.map((b) => `| ${b.bank} | ${b.trainRows} | ${b.testRows} | ${b.ownTestAuc.toFixed(4)} | ${b.consortiumTestAuc.toFixed(4)} |`),
    );
  }
  if (s.modes) lines.push(...modesMarkdown(s.modes.bank, s.modes.runs));
  lines.push('', '| from → to | bytes |', '| --- | --- |', ...Object.entries(s.bytesByPair).map(([k, v]) => `| ${k} | ${mb(v)} |`));
  lines.push('', `Total ${s.seconds.total.toFixed(1)} s (data ${s.seconds.generate.toFixed(1)} s, node start ${s.seconds.start.toFixed(1)} s). Reports, models, PMML and SQL per bank under reports/ (the two-party scorecard's under reports/${s.modes?.bank ?? 'bank-1'}-two-party/); each node's data directory and database under nodes/.`);
  return lines.join('\n');
}

export { DEFAULT_LAB };
