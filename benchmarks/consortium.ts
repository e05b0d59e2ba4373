/**
 * `npm run bench -- consortium --banks A.csv,B.csv[,…] --id ID --label Y [--test T.csv | --test-fraction 0.2]
 * [--seed 42] [--threshold t] [--drop K] --json OUT.json [--scores-out SCORES.csv]`
 *
 * Horizontal consortium logistic regression (protocols/consortium/horizontal.ts) against the pooled
 * centralised Newton fit on the same rows, measured side by side in one run; with `--drop K`, a second
 * run in which bank K (1-based) is killed in round 3 before its masked input; and a simulation of
 * one secure sum of 201 values among 3, 10, 30 and 100 banks with 10% dropout (all parties in this
 * process, so the per-bank figure is the total divided by the banks).
 */
import { writeFileSync } from 'node:fs';
import { seededSplit } from '../engine/align.ts';
import { loadCsv } from '../engine/csv.ts';
import { IndomainError } from '../engine/errors.ts';
import { selectRows, type PartyTable } from '../engine/table.ts';
import { fitLogistic, predictLogistic } from '../models/logistic.ts';
import { auc } from '../models/metrics.ts';
import { consortiumLrInMemory, type BankRows, type ConsortiumLrResult } from '../protocols/consortium/horizontal.ts';
import { SecAggJob, secAggConfig } from '../protocols/secagg/protocol.ts';
import { csvField } from './pair.ts';

export interface ConsortiumBenchOptions {
  banks: string[];
  id: string;
  label: string;
  test?: string;
  testFraction: number;
  seed: string;
  threshold?: number;
  drop?: number;
  json?: string;
  scoresOut?: string;
  log: (line: string) => void;
}

function pooledColumns(parts: readonly PartyTable[]): { x: Float64Array[]; y: Uint8Array } {
  const x = parts[0]!.features.map((_, j) => {
    const out = new Float64Array(parts.reduce((s, p) => s + p.ids.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p.features[j]!, o);
      o += p.ids.length;
    }
    return out;
  });
  const y = new Uint8Array(x[0]?.length ?? 0);
  let o = 0;
  for (const p of parts) {
    y.set(p.label!, o);
    o += p.ids.length;
  }
  return { x, y };
}

/**
 * Secure aggregation of 201 values among n simulated banks, all in this process: the key set-up
 * (once per job), then a round in which 10% of the banks are killed before their masked input (the
 * coordinator rebuilds their mask keys), then a round among the survivors. Seconds are wall time for
 * all parties together; bytes are per bank.
 */
export async function secAggSimulation(sizes: readonly number[] = [3, 10, 30, 100], length = 201) {
  const out: Record<string, unknown>[] = [];
  const mean = (r: Record<string, number>, n: number) => Object.values(r).reduce((s, v) => s + v, 0) / n;
  for (const n of sizes) {
    const banks = Array.from({ length: n }, (_, i) => `bank-${i + 1}`);
    const config = secAggConfig({ job: `sim-${n}`, banks });
    const inputs = new Map(banks.map((b, i) => [b, Float64Array.from({ length }, (_, j) => (i + 1) * 1e-3 * (j + 1))]));
    const dropped = banks.slice(0, Math.floor(n / 10));
    const survivors = banks.filter((b) => !dropped.includes(b));
    const job = new SecAggJob(config);
    await job.setup();
    const setup = job.setupOutcome!;
    const withDrop = await job.aggregate(1, inputs, new Map(dropped.map((b) => [b, 'mask' as const])));
    const steady = await job.aggregate(2, new Map(survivors.map((b) => [b, inputs.get(b)!])));
    // The sum of the survivors' fixed-point inputs, checked.
    const want = survivors.reduce((s, b) => s + Math.round(inputs.get(b)![length - 1]! * 2 ** config.fractionBits), 0) / 2 ** config.fractionBits;
    for (const r of [withDrop, steady]) {
      if (r.sum[length - 1] !== want || r.banks.join() !== survivors.join()) throw new IndomainError('SECAGG_BAD_MESSAGE', `simulation of ${n} banks, round ${r.round}: the sum is wrong`);
    }
    out.push({
      banks: n,
      dropped: dropped.length,
      threshold: config.threshold,
      length,
      setupSeconds: setup.seconds,
      setupBytesSentPerBank: mean(setup.bytesPerBank, n),
      setupBytesReceivedPerBank: mean(setup.bytesToBank, n),
      roundSeconds: withDrop.seconds,
      roundBytesSentPerBank: mean(withDrop.bytesPerBank, n - dropped.length),
      roundBytesReceivedPerBank: mean(withDrop.bytesToBank, n - dropped.length),
      steadyRoundSeconds: steady.seconds,
      steadyRoundBytesSentPerBank: mean(steady.bytesPerBank, survivors.length),
    });
  }
  return out;
}

export async function consortiumBench(o: ConsortiumBenchOptions): Promise<Record<string, unknown>> {
  if (o.banks.length < 2) throw new IndomainError('CLI_BAD_ARGS', '--banks needs at least two files');
  const tables = o.banks.map((f) => loadCsv(f, { idColumn: o.id, labelColumn: o.label }));
  const names = tables.map((_, i) => `bank-${i + 1}`);
  const featureNames = tables[0]!.featureNames.join(',');
  tables.forEach((t, i) => {
    if (t.featureNames.join(',') !== featureNames) throw new IndomainError('CLI_BAD_ARGS', `${o.banks[i]} has other feature columns than ${o.banks[0]}`);
  });
  // Each bank's training rows; the test set from --test or each bank's own seeded split.
  let train: PartyTable[];
  let test: PartyTable;
  let testOf: { bank: string; table: PartyTable }[];
  if (o.test) {
    train = tables;
    test = loadCsv(o.test, { idColumn: o.id, labelColumn: o.label });
    if (test.featureNames.join(',') !== featureNames) throw new IndomainError('CLI_BAD_ARGS', `${o.test} has other feature columns than the banks`);
    testOf = [{ bank: 'test', table: test }];
  } else {
    const splits = tables.map((t, i) => seededSplit(t.ids.length, o.testFraction, `${o.seed}:${names[i]}`));
    train = tables.map((t, i) => selectRows(t, splits[i]!.train));
    testOf = tables.map((t, i) => ({ bank: names[i]!, table: selectRows(t, splits[i]!.test) }));
    const pooledTest = pooledColumns(testOf.map((x) => x.table));
    test = { ...testOf[0]!.table, ids: testOf.flatMap((x) => x.table.ids), features: pooledTest.x, label: pooledTest.y };
  }
  const banks = new Map<string, BankRows>(names.map((n, i) => [n, { x: train[i]!.features, y: train[i]!.label! }]));
  o.log(`consortium: ${names.length} banks, ${train.reduce((s, t) => s + t.ids.length, 0)} training rows, ${test.ids.length} test rows, ${tables[0]!.features.length} features`);

  const pooled = pooledColumns(train);
  let t0 = performance.now();
  const reference = fitLogistic(pooled.x, pooled.y, { optimizer: 'newton', tolerance: 1e-8, lambda: 1e-4 });
  const referenceSeconds = (performance.now() - t0) / 1000;
  const referenceAuc = auc(predictLogistic(reference, test.features), test.label!);

  const config = { job: `bench-consortium-${o.seed}`, ...(o.threshold ? { threshold: o.threshold } : {}) };
  t0 = performance.now();
  const fed = await consortiumLrInMemory({ config, banks });
  const fedSeconds = (performance.now() - t0) / 1000;
  const fedAuc = auc(predictLogistic(fed, test.features), test.label!);
  o.log(`consortium AUC ${fedAuc.toFixed(4)} in ${fedSeconds.toFixed(2)} s (${fed.iterations} Newton steps); pooled centralised ${referenceAuc.toFixed(4)} in ${referenceSeconds.toFixed(3)} s`);

  const summary = (r: ConsortiumLrResult, seconds: number) => ({
    testAuc: auc(predictLogistic(r, test.features), test.label!),
    seconds,
    iterations: r.iterations,
    converged: r.converged,
    rows: r.rows,
    maxWeightDifference: Math.max(Math.abs(r.intercept - reference.intercept), ...r.weights.map((w, j) => Math.abs(w - reference.weights[j]!))),
    rounds: r.rounds,
    perBankTestAuc: Object.fromEntries(testOf.map(({ bank, table }) => [bank, auc(predictLogistic(r, table.features), table.label!)])),
  });
  let dropRun: Record<string, unknown> | undefined;
  if (o.drop !== undefined) {
    if (!Number.isInteger(o.drop) || o.drop < 1 || o.drop > names.length) throw new IndomainError('CLI_BAD_ARGS', `--drop must name a bank 1..${names.length}`);
    t0 = performance.now();
    const dropped = await consortiumLrInMemory({ config: { ...config, job: `${config.job}-drop` }, banks, drops: [{ bank: names[o.drop - 1]!, round: 3, at: 'mask' }] });
    dropRun = { dropped: names[o.drop - 1], round: 3, stage: 'mask', ...summary(dropped, (performance.now() - t0) / 1000) };
    o.log(`with ${names[o.drop - 1]} killed in round 3: AUC ${(dropRun.testAuc as number).toFixed(4)}`);
  }
  const simulation = await secAggSimulation();
  for (const s of simulation) {
    o.log(
      `secure sum of 201 values, ${String(s.banks)} banks: key set-up ${(s.setupSeconds as number).toFixed(3)} s once per job; a round with ${String(s.dropped)} dropped ${(s.roundSeconds as number).toFixed(3)} s, ${Math.round(s.roundBytesSentPerBank as number)} bytes sent per bank (all parties in one process)`,
    );
  }

  if (o.scoresOut) {
    const lines = ['id,set,score'];
    const add = (t: PartyTable, set: string) => {
      const p = predictLogistic(fed, t.features);
      t.ids.forEach((id, i) => lines.push(`${csvField(id)},${set},${p[i]}`));
    };
    train.forEach((t) => add(t, 'train'));
    add(test, 'test');
    writeFileSync(o.scoresOut, `${lines.join('\n')}\n`);
  }
  const result = {
    suite: 'consortium',
    mode: 'horizontal',
    banks: names.map((n, i) => ({ name: n, file: o.banks[i], trainRows: train[i]!.ids.length })),
    testRows: test.ids.length,
    consortium: summary(fed, fedSeconds),
    centralized: { testAuc: referenceAuc, seconds: referenceSeconds, iterations: reference.iterations },
    aucDifference: fedAuc - referenceAuc,
    ...(dropRun ? { dropout: dropRun } : {}),
    secAggSimulation: simulation,
  };
  if (o.json) writeFileSync(o.json, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
