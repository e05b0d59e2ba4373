/**
 * `npm run bench -- consortium --banks A.csv,B.csv[,…] [--host H.csv] --id ID --label Y [--test T.csv | --test-fraction 0.2]
 * [--seed 42] [--threshold t] [--drop K] --json OUT.json [--scores-out SCORES.csv]`
 *
 * With `--host`, the hybrid pipeline ({@link hybridBench}); without it, the horizontal one:
 *
 * Horizontal consortium logistic regression (protocols/consortium/horizontal.ts) against the pooled
 * centralised Newton fit on the same rows, measured side by side in one run; with `--drop K`, a second
 * run in which bank K (1-based) is killed in round 3 before its masked input; and a simulation of
 * secure aggregation of 201 values among 3, 10, 30 and 100 banks with 10% dropout, its key set-up
 * (once per job) and a round reported apart (all parties in this process, so seconds are for all of
 * them together; bytes are per bank).
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
import { csvField, splitPair, type SplitPair } from './pair.ts';
import { hybridLrInMemory, type HybridPair } from '../protocols/consortium/hybrid.ts';

export interface ConsortiumBenchOptions {
  banks: string[];
  /** The platform's file: hybrid pipeline (each bank joined vertically with it). */
  host?: string;
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
 * coordinator rebuilds their mask keys), then a round among the survivors; medians over
 * `repetitions` fresh jobs. Seconds are wall time for all parties together; bytes are per bank.
 */
export async function secAggSimulation(sizes: readonly number[] = [3, 10, 30, 100], length = 201, repetitions = 3) {
  const out: Record<string, unknown>[] = [];
  const mean = (r: Record<string, number>, n: number) => Object.values(r).reduce((s, v) => s + v, 0) / n;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const n of sizes) {
    const banks = Array.from({ length: n }, (_, i) => `bank-${i + 1}`);
    const inputs = new Map(banks.map((b, i) => [b, Float64Array.from({ length }, (_, j) => (i + 1) * 1e-3 * (j + 1))]));
    const dropped = banks.slice(0, Math.floor(n / 10));
    const survivors = banks.filter((b) => !dropped.includes(b));
    const runs = [];
    // Fresh jobs: a round with dropouts happens once per job (the dropped banks are out after it).
    for (let k = 0; k < repetitions; k++) {
      const config = secAggConfig({ job: `sim-${n}-${k}`, banks });
      const job = new SecAggJob(config);
      await job.setup();
      const withDrop = await job.aggregate(1, inputs, new Map(dropped.map((b) => [b, 'mask' as const])));
      const steady = await job.aggregate(2, new Map(survivors.map((b) => [b, inputs.get(b)!])));
      // The sum of the survivors' fixed-point inputs, checked.
      const want = survivors.reduce((s, b) => s + Math.round(inputs.get(b)![length - 1]! * 2 ** config.fractionBits), 0) / 2 ** config.fractionBits;
      for (const r of [withDrop, steady]) {
        if (r.sum[length - 1] !== want || r.banks.join() !== survivors.join()) throw new IndomainError('SECAGG_BAD_MESSAGE', `simulation of ${n} banks, round ${r.round}: the sum is wrong`);
      }
      runs.push({ config, setup: job.setupOutcome!, withDrop, steady });
    }
    const first = runs[0]!;
    out.push({
      banks: n,
      dropped: dropped.length,
      threshold: first.config.threshold,
      length,
      repetitions,
      setupSeconds: median(runs.map((r) => r.setup.seconds)),
      setupBytesSentPerBank: mean(first.setup.bytesPerBank, n),
      setupBytesReceivedPerBank: mean(first.setup.bytesToBank, n),
      roundSeconds: median(runs.map((r) => r.withDrop.seconds)),
      roundSecondsSamples: runs.map((r) => r.withDrop.seconds),
      roundBytesSentPerBank: mean(first.withDrop.bytesPerBank, n - dropped.length),
      roundBytesReceivedPerBank: mean(first.withDrop.bytesToBank, n - dropped.length),
      steadyRoundSeconds: median(runs.map((r) => r.steady.seconds)),
      steadyRoundBytesSentPerBank: mean(first.steady.bytesPerBank, survivors.length),
    });
  }
  return out;
}

export async function consortiumBench(o: ConsortiumBenchOptions): Promise<Record<string, unknown>> {
  if (o.banks.length < 2) throw new IndomainError('CLI_BAD_ARGS', '--banks needs at least two files');
  if (o.host) return hybridBench(o, o.host);
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
    setup: r.setup,
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
      `secure sum of 201 values, ${String(s.banks)} banks: key set-up ${(s.setupSeconds as number).toFixed(3)} s once per job; a round with ${String(s.dropped)} dropped ${(s.roundSeconds as number).toFixed(3)} s (median of ${String(s.repetitions)}), ${Math.round(s.roundBytesSentPerBank as number)} bytes sent per bank (all parties in one process)`,
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

/**
 * The hybrid pipeline (protocols/consortium/hybrid.ts): each bank file holds the label and the
 * bank's features, the host file the platform's. Each bank runs PSI with the platform and splits its
 * own intersected rows with `--test-fraction` (seed `SEED:bank-k`); the consortium model is set
 * against the pooled centralised fit on every bank's training rows joined with the platform's.
 * The harness sees every side, as an experimenter does, to score the test rows.
 */
export async function hybridBench(o: ConsortiumBenchOptions, hostFile: string): Promise<Record<string, unknown>> {
  if (o.test) throw new IndomainError('CLI_BAD_ARGS', '--test is for the horizontal pipeline; with --host each bank splits its own rows (--test-fraction)');
  const names = o.banks.map((_, i) => `bank-${i + 1}`);
  const host = loadCsv(hostFile, { idColumn: o.id, exclude: [o.label] });
  const tables = o.banks.map((f) => loadCsv(f, { idColumn: o.id, labelColumn: o.label }));
  const featureNames = tables[0]!.featureNames.join(',');
  tables.forEach((t, i) => {
    if (t.featureNames.join(',') !== featureNames) throw new IndomainError('CLI_BAD_ARGS', `${o.banks[i]} has other feature columns than ${o.banks[0]}`);
  });
  let t0 = performance.now();
  const splits: SplitPair[] = [];
  for (let i = 0; i < tables.length; i++) splits.push(await splitPair(tables[i]!, host, `${o.seed}:${names[i]}`, o.testFraction));
  const psiSeconds = (performance.now() - t0) / 1000;
  const pairs = new Map<string, HybridPair>(names.map((n, i) => [n, { bank: splits[i]!.guest.train.features, y: splits[i]!.guest.train.label!, platform: splits[i]!.host.train.features }]));
  const joined = (k: number, set: 'train' | 'test') => [...splits[k]!.guest[set].features, ...splits[k]!.host[set].features];
  const pooled = (set: 'train' | 'test') => {
    const cols = joined(0, set).map((_, j) => Float64Array.from(splits.flatMap((_, k) => [...joined(k, set)[j]!])));
    const y = Uint8Array.from(splits.flatMap((s) => [...s.guest[set].label!]));
    return { cols, y };
  };
  const train = pooled('train');
  const test = pooled('test');
  o.log(`hybrid consortium: ${names.length} banks, ${train.y.length} training rows (${splits.map((s) => s.guest.train.ids.length).join(' + ')}), ${test.y.length} test rows, ${tables[0]!.features.length} bank + ${host.features.length} platform features`);

  t0 = performance.now();
  const reference = fitLogistic(train.cols, train.y, { optimizer: 'newton', tolerance: 1e-8, lambda: 1e-4 });
  const referenceSeconds = (performance.now() - t0) / 1000;
  const referenceAuc = auc(predictLogistic(reference, test.cols), test.y);
  const fed = await hybridLrInMemory({ job: `bench-hybrid-${o.seed}`, pairs, ...(o.threshold ? { threshold: o.threshold } : {}) });
  const fedAuc = auc(predictLogistic(fed, test.cols), test.y);
  o.log(`hybrid consortium AUC ${fedAuc.toFixed(4)} in ${fed.seconds.toFixed(2)} s (${fed.iterations} BFGS rounds); pooled centralised ${referenceAuc.toFixed(4)}; difference ${(fedAuc - referenceAuc).toFixed(4)}`);
  const byType: Record<string, number> = {};
  const bytesPerBank: Record<string, number> = {};
  for (const r of fed.transport.log) {
    byType[r.type] = (byType[r.type] ?? 0) + r.bytes;
    if (names.includes(r.from)) bytesPerBank[r.from] = (bytesPerBank[r.from] ?? 0) + r.bytes;
  }
  const rounds = fed.iterations + 1;
  const perBank = names.map((n, k) => {
    const own = { cols: joined(k, 'test'), y: splits[k]!.guest.test.label! };
    return {
      name: n,
      file: o.banks[k],
      intersected: splits[k]!.intersection,
      trainRows: splits[k]!.guest.train.ids.length,
      testRows: own.y.length,
      testAuc: auc(predictLogistic(fed, own.cols), own.y),
      pooledReferenceTestAuc: auc(predictLogistic(reference, own.cols), own.y),
    };
  });
  for (const b of perBank) o.log(`  ${b.name}: ${b.trainRows} training rows, own test AUC ${b.testAuc.toFixed(4)} (pooled reference ${b.pooledReferenceTestAuc.toFixed(4)})`);
  if (o.scoresOut) {
    const lines = ['id,set,score'];
    splits.forEach((s, k) => {
      for (const set of ['train', 'test'] as const) {
        const p = predictLogistic(fed, joined(k, set));
        s.guest[set].ids.forEach((id, i) => lines.push(`${csvField(id)},${set},${p[i]}`));
      }
    });
    writeFileSync(o.scoresOut, `${lines.join('\n')}\n`);
  }
  let dropRun: Record<string, unknown> | undefined;
  if (o.drop !== undefined) {
    if (!Number.isInteger(o.drop) || o.drop < 1 || o.drop > names.length) throw new IndomainError('CLI_BAD_ARGS', `--drop must name a bank 1..${names.length}`);
    const killed = names[o.drop - 1]!;
    const dropped = await hybridLrInMemory({ job: `bench-hybrid-${o.seed}-drop`, pairs, drops: [{ bank: killed, round: 3 }], ...(o.threshold ? { threshold: o.threshold } : {}) });
    const kept = names.map((_, k) => k).filter((k) => k !== o.drop! - 1);
    const keptTrain = { cols: joined(kept[0]!, 'train').map((_, j) => Float64Array.from(kept.flatMap((k) => [...joined(k, 'train')[j]!]))), y: Uint8Array.from(kept.flatMap((k) => [...splits[k]!.guest.train.label!])) };
    const remaining = fitLogistic(keptTrain.cols, keptTrain.y, { optimizer: 'newton', tolerance: 1e-8, lambda: 1e-4 });
    const dropAuc = auc(predictLogistic(dropped, test.cols), test.y);
    dropRun = {
      dropped: killed,
      round: 3,
      testAuc: dropAuc,
      seconds: dropped.seconds,
      iterations: dropped.iterations,
      converged: dropped.converged,
      rows: dropped.rows,
      roundBanks: dropped.coordinator.roundBanks,
      pooledRemainingTestAuc: auc(predictLogistic(remaining, test.cols), test.y),
      maxWeightDifferenceToPooledRemaining: Math.max(Math.abs(dropped.intercept - remaining.intercept), ...dropped.weights.map((w, j) => Math.abs(w - remaining.weights[j]!))),
    };
    o.log(`with ${killed} killed in round 3: AUC ${dropAuc.toFixed(4)} (pooled model of the remaining banks ${(dropRun.pooledRemainingTestAuc as number).toFixed(4)})`);
  }
  const simulation = await secAggSimulation();
  const result = {
    suite: 'consortium',
    mode: 'hybrid',
    modelCard: { banks: perBank.map(({ name, file, trainRows }) => ({ name, file, trainRows })), platform: hostFile, rows: fed.rows, bankFeatures: tables[0]!.featureNames, platformFeatures: host.featureNames },
    banks: perBank,
    testRows: test.y.length,
    psiSeconds,
    consortium: {
      testAuc: fedAuc,
      seconds: fed.seconds,
      iterations: fed.iterations,
      converged: fed.converged,
      rows: fed.rows,
      maxWeightDifference: Math.max(Math.abs(fed.intercept - reference.intercept), ...fed.weights.map((w, j) => Math.abs(w - reference.weights[j]!))),
      secureSumOfStatistics: fed.secureSum,
      bytesPerBank,
      bytesPerBankPerRound: Object.fromEntries(Object.entries(bytesPerBank).map(([b, v]) => [b, v / rounds])),
      bytesByMessage: byType,
    },
    centralized: { testAuc: referenceAuc, seconds: referenceSeconds, iterations: reference.iterations },
    aucDifference: fedAuc - referenceAuc,
    ...(dropRun ? { dropout: dropRun } : {}),
    secAggSimulation: simulation,
  };
  if (o.json) writeFileSync(o.json, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
