/**
 * `npm run bench -- vfl`: PSI, a seeded train/test split of the intersection, federated training
 * (each of the three roles in its own worker thread, every message encoded on the wire format;
 * also all three in one thread over the in-memory transport, for comparison) and the centralised
 * reference on the same split, measured in the same run.
 *
 * The benchmark harness sees both data sets, as an experimenter does: it scores the test rows with
 * the two parties' weights put together. In a deployment that scoring is itself federated.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { secretRng } from '../engine/rng.ts';
import { fitLogistic, fitLogisticChecked, predictLogistic } from '../models/logistic.ts';
import { binaryMetrics } from '../models/metrics.ts';
import { createCkks } from '../protocols/he/ckks.ts';
import { trainInMemory, vflConfig } from '../protocols/vfl-lr/protocol.ts';
import { trainInThreads } from '../protocols/vfl-lr/threads.ts';
import { loadSplitPair, preparedSide, splitPair, writeScores, type PairOptions } from './pair.ts';
import { uciPair } from './uci.ts';

export interface VflBenchOptions extends PairOptions {
  json?: string;
  scoresOut?: string;
  /** Use the raw UCI file (benchmarks/uci.ts) instead of --guest/--host. */
  uci?: string;
  /** Blank a seeded share of one platform column of the UCI pair, e.g. { column: 'LIMIT_BAL', fraction: 0.2 }. */
  missing?: { column: string; fraction: number };
}

export async function vflBench(o: VflBenchOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? (() => {});
  const pair = o.uci
    ? await (async () => {
        const u = uciPair(o.uci!, { ...(o.missing ? { missing: o.missing } : {}), seed: o.seed });
        return splitPair(u.guest, u.host, o.seed, o.testFraction, log);
      })()
    : await loadSplitPair(o);
  // Each party's local preprocessing: imputation with missing indicators, then z-scores.
  const gp = preparedSide(pair.guest);
  const hp = preparedSide(pair.host);
  const yTrain = gp.trainTable.label!;
  const yTest = gp.testTable.label!;

  const config = vflConfig(`bench-${o.seed}`);
  // The arbiter's and the guest's secrets, as a node draws them per job.
  const arbiterSecret = new Uint8Array(randomBytes(32));
  const guestSecret = new Uint8Array(randomBytes(32));
  // The federated run: each role in its own thread, as in its own process, all on this machine.
  // Timed warm, as the centralised reference below is: one run first on the same threads, as a
  // node process that has run a job before (SEAL loaded, its CKKS context of public tables built,
  // code compiled). Key generation and everything after it is in the federated time.
  const fed = await trainInThreads({ guest: gp.train, labels: yTrain, host: hp.train, config, arbiterSecret, guestSecret, warmups: 1 });
  const iterations = fed.iterations;
  const model = {
    intercept: fed.guestWeights[0]!,
    weights: Float64Array.from([...fed.guestWeights.subarray(1), ...fed.hostWeights]),
  };
  // The same roles one after another in this thread (the in-memory transport), for comparison.
  await createCkks(config.params);
  const oneThread = await trainInMemory({ guest: gp.train, labels: yTrain, host: hp.train, config, rng: secretRng(arbiterSecret, 'vfl-lr-arbiter'), guestRng: secretRng(guestSecret, 'vfl-mask') });
  const joinedTrain = [...gp.train, ...hp.train];
  const joinedTest = [...gp.test, ...hp.test];
  const pTest = predictLogistic(model, joinedTest);
  const fedTest = binaryMetrics(pTest, yTest);
  log(`federated: ${iterations} iterations, ${fed.seconds.toFixed(2)} s (one thread: ${oneThread.seconds.toFixed(2)} s), test AUC ${fedTest.auc.toFixed(4)}`);
  for (const [role, p] of Object.entries(fed.profile)) {
    const busy = Object.values(p).reduce((a, b) => a + b, 0);
    log(`  ${role}: ${Object.entries(p).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}; other/waiting ${(fed.seconds - busy).toFixed(2)} s; peak ${fed.peakMB[role]!.toFixed(0)} MB`);
  }

  // Centralised reference: the same optimiser (BFGS with the gradient-only Wolfe line search, and
  // the one restart from the weighted sample Hessian) for the same number of gradient rounds,
  // timed the same way (warm).
  const same = { optimizer: 'wolfe' as const, fixedIterations: iterations, tolerance: config.tolerance, lambda: config.lambda, hessianSampleRows: config.hessianSampleRows, hessianGradient: config.hessianGradient };
  fitLogistic(joinedTrain, yTrain, same);
  const t1 = performance.now();
  const central = fitLogistic(joinedTrain, yTrain, same);
  const centralSeconds = (performance.now() - t1) / 1000;
  const centralTest = binaryMetrics(predictLogistic(central, joinedTest), yTest);
  // The optimum of the same objective: Newton with a line search, with the coded refusals.
  const newton = fitLogisticChecked(joinedTrain, yTrain, [...gp.names, ...hp.names], { tolerance: 1e-10, lambda: config.lambda });
  const newtonTest = binaryMetrics(predictLogistic(newton, joinedTest), yTest);
  let num = 0;
  let den = 0;
  newton.weights.forEach((w, j) => {
    num += (model.weights[j]! - w) ** 2;
    den += w * w;
  });
  log(`centralised: ${centralSeconds.toFixed(4)} s, test AUC ${centralTest.auc.toFixed(4)} (Newton-converged ${newtonTest.auc.toFixed(4)})`);

  const result = {
    rows: pair.rows,
    intersection: pair.intersection,
    train: yTrain.length,
    test: yTest.length,
    guestFeatures: gp.train.length,
    hostFeatures: hp.train.length,
    psi: pair.psi,
    federated: {
      trainSeconds: fed.seconds,
      threadSetupSeconds: fed.setupSeconds,
      coldThreadsSeconds: fed.warmupSeconds[0],
      oneThreadSeconds: oneThread.seconds,
      oneThreadIterations: oneThread.arbiter.iterations,
      iterations,
      converged: fed.converged,
      testAuc: fedTest.auc,
      testKs: fedTest.ks,
      testGini: fedTest.gini,
      testLogLoss: fedTest.logLoss,
      bytesSent: fed.totalBytes,
      bytesByPair: fed.bytesByPair,
      gradientNorms: fed.gradientNorms,
      params: config.params,
      sigmoidTolerance: config.sigmoidTolerance,
      profileSeconds: fed.profile,
      peakMB: fed.peakMB,
      processPeakRssMB: fed.processPeakRssMB,
    },
    centralized: {
      trainSeconds: centralSeconds,
      iterations: central.iterations,
      optimizer: 'wolfe',
      testAuc: centralTest.auc,
      testKs: centralTest.ks,
    },
    centralizedNewton: { iterations: newton.iterations, testAuc: newtonTest.auc, testKs: newtonTest.ks, relativeWeightError: Math.sqrt(num / den) },
    ratios: {
      timeFederatedOverCentralized: fed.seconds / centralSeconds,
      aucFederatedMinusCentralized: fedTest.auc - centralTest.auc,
      aucFederatedMinusNewton: fedTest.auc - newtonTest.auc,
    },
    seed: o.seed,
    testFraction: o.testFraction,
    ...(o.uci ? { data: 'uci-raw', missing: o.missing ?? null } : {}),
    features: { guest: gp.names, host: hp.names },
  };
  if (o.json) writeFileSync(o.json, JSON.stringify(result, null, 2));
  if (o.scoresOut) {
    writeScores(o.scoresOut, ['score'], { ids: gp.trainTable.ids, cols: [predictLogistic(model, joinedTrain)] }, { ids: gp.testTable.ids, cols: [pTest] });
  }
  return result;
}
