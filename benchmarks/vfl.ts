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
import { fitLogistic, predictLogistic } from '../models/logistic.ts';
import { binaryMetrics } from '../models/metrics.ts';
import { createCkks } from '../protocols/he/ckks.ts';
import { trainInMemory, vflConfig } from '../protocols/vfl-lr/protocol.ts';
import { trainInThreads } from '../protocols/vfl-lr/threads.ts';
import { loadSplitPair, standardizedSide, writeScores, type PairOptions } from './pair.ts';

export interface VflBenchOptions extends PairOptions {
  json?: string;
  scoresOut?: string;
}

export async function vflBench(o: VflBenchOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? (() => {});
  const pair = await loadSplitPair(o);
  const gp = standardizedSide(pair.guest);
  const hp = standardizedSide(pair.host);
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
    writeScores(o.scoresOut, ['score'], { ids: gp.trainTable.ids, cols: [predictLogistic(model, joinedTrain)] }, { ids: gp.testTable.ids, cols: [pTest] });
  }
  return result;
}
