/**
 * `npm run bench -- vfl`: PSI, a seeded train/test split of the intersection, federated training
 * (all three roles in this process over the in-memory transport, every message encoded on the
 * wire format) and the centralised reference on the same split, measured in the same run.
 *
 * The benchmark harness sees both data sets, as an experimenter does: it scores the test rows with
 * the two parties' weights put together. In a deployment that scoring is itself federated.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { alignTo, seededSplit } from '../engine/align.ts';
import { loadCsv } from '../engine/csv.ts';
import { cryptoRng, seededRng } from '../engine/rng.ts';
import { applyStandardizer, fitStandardizer } from '../engine/standardize.ts';
import { selectRows, type PartyTable } from '../engine/table.ts';
import { fitLogistic, predictLogistic } from '../models/logistic.ts';
import { binaryMetrics } from '../models/metrics.ts';
import { BlindingPool } from '../protocols/psi/pool.ts';
import { psiInMemory } from '../protocols/psi/run.ts';
import { trainInMemory, vflConfig } from '../protocols/vfl-lr/protocol.ts';

export interface VflBenchOptions {
  guest: string;
  host: string;
  id: string;
  label: string;
  seed: string;
  testFraction: number;
  json?: string;
  scoresOut?: string;
  log?: (line: string) => void;
}

export async function vflBench(o: VflBenchOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? (() => {});
  const guest = loadCsv(o.guest, { idColumn: o.id, labelColumn: o.label });
  const host = loadCsv(o.host, { idColumn: o.id, exclude: [o.label] });
  log(`loaded guest ${guest.ids.length}×${guest.features.length}, host ${host.ids.length}×${host.features.length}`);

  const pool = new BlindingPool();
  const t0 = performance.now();
  const psi = await psiInMemory(`bench-${o.seed}`, guest.ids, host.ids, pool, { guest: cryptoRng, host: cryptoRng });
  await pool.close();
  const psiSeconds = (performance.now() - t0) / 1000;
  const ids = psi.guest.intersection!;
  log(`PSI: ${ids.length} common ids in ${psiSeconds.toFixed(2)} s`);

  const g = alignTo(guest, ids);
  const h = alignTo(host, ids);
  const split = seededSplit(ids.length, o.testFraction, o.seed);
  const prep = (t: PartyTable) => {
    const train = selectRows(t, split.train);
    const test = selectRows(t, split.test);
    const s = fitStandardizer(train.features);
    return { train: applyStandardizer(s, train.features), test: applyStandardizer(s, test.features), trainTable: train, testTable: test };
  };
  const gp = prep(g);
  const hp = prep(h);
  const yTrain = gp.trainTable.label!;
  const yTest = gp.testTable.label!;

  const config = vflConfig(`bench-${o.seed}`);
  const fed = await trainInMemory({ guest: gp.train, labels: yTrain, host: hp.train, config, rng: seededRng(`flood:${o.seed}`) });
  const iterations = fed.arbiter.iterations;
  const model = {
    intercept: fed.guest.weights[0]!,
    weights: Float64Array.from([...fed.guest.weights.subarray(1), ...fed.host.weights]),
  };
  const joinedTrain = [...gp.train, ...hp.train];
  const joinedTest = [...gp.test, ...hp.test];
  const fedTest = binaryMetrics(predictLogistic(model, joinedTest), yTest);
  log(`federated: ${iterations} iterations, ${fed.seconds.toFixed(2)} s, test AUC ${fedTest.auc.toFixed(4)}`);

  // Centralised reference: the same optimiser for the same iterations, timed the same way (warm).
  fitLogistic(joinedTrain, yTrain, { fixedIterations: iterations, tolerance: config.tolerance, lambda: config.lambda });
  const t1 = performance.now();
  const central = fitLogistic(joinedTrain, yTrain, {
    fixedIterations: iterations,
    tolerance: config.tolerance,
    lambda: config.lambda,
    hessianSampleRows: config.hessianSampleRows,
  });
  const centralSeconds = (performance.now() - t1) / 1000;
  const centralTest = binaryMetrics(predictLogistic(central, joinedTest), yTest);
  const newton = fitLogistic(joinedTrain, yTrain, { optimizer: 'newton', tolerance: 1e-10, lambda: config.lambda });
  const newtonTest = binaryMetrics(predictLogistic(newton, joinedTest), yTest);
  log(`centralised: ${centralSeconds.toFixed(4)} s, test AUC ${centralTest.auc.toFixed(4)} (Newton-converged ${newtonTest.auc.toFixed(4)})`);

  const pairs = fed.transport.bytesByPair();
  const result = {
    rows: { guest: guest.ids.length, host: host.ids.length },
    intersection: ids.length,
    train: split.train.length,
    test: split.test.length,
    guestFeatures: guest.features.length,
    hostFeatures: host.features.length,
    psi: { seconds: psiSeconds, bytesSent: psi.transport.totalBytes() },
    federated: {
      trainSeconds: fed.seconds,
      iterations,
      converged: fed.arbiter.converged,
      testAuc: fedTest.auc,
      testKs: fedTest.ks,
      testGini: fedTest.gini,
      testLogLoss: fedTest.logLoss,
      bytesSent: fed.transport.totalBytes(),
      bytesByPair: pairs,
      gradientNorms: fed.arbiter.gradientNorms,
      params: config.params,
      chebyshevDegree: config.chebyshevDegree,
    },
    centralized: {
      trainSeconds: centralSeconds,
      iterations: central.iterations,
      optimizer: 'bfgs',
      testAuc: centralTest.auc,
      testKs: centralTest.ks,
    },
    centralizedNewton: { iterations: newton.iterations, testAuc: newtonTest.auc, testKs: newtonTest.ks },
    ratios: {
      timeFederatedOverCentralized: fed.seconds / centralSeconds,
      aucFederatedMinusCentralized: fedTest.auc - centralTest.auc,
      aucFederatedMinusNewton: fedTest.auc - newtonTest.auc,
    },
    seed: o.seed,
    testFraction: o.testFraction,
  };
  if (o.json) writeFileSync(o.json, JSON.stringify(result, null, 2));
  if (o.scoresOut) {
    const lines = ['id,set,score'];
    const pTrain = predictLogistic(model, joinedTrain);
    const pTest = predictLogistic(model, joinedTest);
    gp.trainTable.ids.forEach((id, i) => lines.push(`${csvField(id)},train,${pTrain[i]}`));
    gp.testTable.ids.forEach((id, i) => lines.push(`${csvField(id)},test,${pTest[i]}`));
    writeFileSync(o.scoresOut, lines.join('\n') + '\n');
  }
  return result;
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
