/**
 * `npm run bench -- vfl`: PSI, a seeded train/test split of the intersection, federated training
 * (each of the three roles in its own worker thread, every message encoded on the wire format;
 * also all three in one thread over the in-memory transport, for comparison) and the centralised
 * reference on the same split, measured in the same run.
 *
 * The benchmark harness sees both data sets, as an experimenter does: it scores the test rows with
 * the two parties' weights put together. In a deployment that scoring is itself federated.
 *
 * `generated`: a seeded pair of benchmarks/shapes.ts (`--shape S [--rows N]`, the run's seed also
 * the generator's) through the same PSI, split, preprocessing and references as a file pair.
 *
 * `mode`: `three-party` (vfl-lr, an arbiter holds the key; the default), `two-party`
 * (vfl-lr-2p, no arbiter: the bank holds the only key) or `both`, timed one after the other in the
 * same run on the same split (`federated` is then the three-party run, `twoParty` the other, and
 * `ratios` compares them).
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
import { trainTwoPartyInMemory } from '../protocols/vfl-lr-2p/protocol.ts';
import { trainTwoPartyInThreads } from '../protocols/vfl-lr-2p/threads.ts';
import { sharedRoundConfig, type VflConfig } from '../protocols/vfl-lr/config.ts';
import { loadSplitPair, preparedSide, splitPair, writeScores, type PairOptions } from './pair.ts';
import { uciPair } from './uci.ts';
import { generatePair, type Shape } from './shapes.ts';
import type { PartyTable } from '../engine/table.ts';

export interface VflBenchOptions extends PairOptions {
  json?: string;
  scoresOut?: string;
  /** Use the raw UCI file (benchmarks/uci.ts) instead of --guest/--host. */
  uci?: string;
  /** Blank a seeded share of one platform column of the UCI pair, e.g. { column: 'LIMIT_BAL', fraction: 0.2 }. */
  missing?: { column: string; fraction: number };
  /** Which protocol to time (default three-party); `both` times the two side by side. */
  mode?: VflMode;
  /** A generated pair (benchmarks/shapes.ts) instead of --guest/--host: the shape and its row count. */
  generated?: { shape: Shape; rows: number };
}

/** Guest and platform features of a generated shape per party, both parties' generator. */
export const SHAPE_FEATURES = { guest: 5, host: 5 } as const;

/**
 * A generated shape as two party tables over the same ids `r0…`, so that it goes through the same
 * PSI, split, imputation and z-scores as a file pair. The generator's seed is the run's seed.
 */
function generatedTables(g: { shape: Shape; rows: number }, seed: string): { guest: PartyTable; host: PartyTable } {
  const p = generatePair({ shape: g.shape, rows: g.rows, guestFeatures: SHAPE_FEATURES.guest, hostFeatures: SHAPE_FEATURES.host, seed });
  const ids = Array.from({ length: g.rows }, (_, i) => `r${i}`);
  const source = `shape:${g.shape}:${seed}`;
  return {
    guest: { source, idColumn: 'id', ids, featureNames: p.guestNames, features: p.guest, labelColumn: 'y', label: p.labels },
    host: { source, idColumn: 'id', ids, featureNames: p.hostNames, features: p.host },
  };
}

export const VFL_MODES = ['three-party', 'two-party', 'both'] as const;
export type VflMode = (typeof VFL_MODES)[number];

interface FederatedRun {
  model: { intercept: number; weights: Float64Array };
  seconds: number;
  iterations: number;
  section: Record<string, unknown>;
}

/** Columns and labels of the training rows, the same for every protocol of a run. */
interface TrainSet {
  guest: readonly Float64Array[];
  host: readonly Float64Array[];
  labels: Uint8Array;
}

/** Three-party vfl-lr: each role in its own thread (timed, warm), then all in one thread. */
async function threeParty(t: TrainSet, config: VflConfig, log: (l: string) => void): Promise<FederatedRun> {
  // The arbiter's and the guest's secrets, as a node draws them per job.
  const arbiterSecret = new Uint8Array(randomBytes(32));
  const guestSecret = new Uint8Array(randomBytes(32));
  // Timed warm, as the centralised reference is: one run first on the same threads, as a node
  // process that has run a job before (SEAL loaded, its CKKS context of public tables built, code
  // compiled). Key generation and everything after it is in the federated time.
  const fed = await trainInThreads({ guest: t.guest, labels: t.labels, host: t.host, config, arbiterSecret, guestSecret, warmups: 1 });
  await createCkks(config.params);
  const oneThread = await trainInMemory({ guest: t.guest, labels: t.labels, host: t.host, config, rng: secretRng(arbiterSecret, 'vfl-lr-arbiter'), guestRng: secretRng(guestSecret, 'vfl-mask') });
  logProfile('three-party', fed, oneThread.seconds, log);
  return {
    model: { intercept: fed.guestWeights[0]!, weights: Float64Array.from([...fed.guestWeights.subarray(1), ...fed.hostWeights]) },
    seconds: fed.seconds,
    iterations: fed.iterations,
    section: sectionOf(fed, oneThread.seconds, oneThread.arbiter.iterations, config),
  };
}

/** Two-party vfl-lr-2p: guest and host in their own threads (timed, warm), then both in one thread. */
async function twoParty(t: TrainSet, config: VflConfig, log: (l: string) => void): Promise<FederatedRun> {
  const guestSecret = new Uint8Array(randomBytes(32));
  const hostSecret = new Uint8Array(randomBytes(32));
  const fed = await trainTwoPartyInThreads({ guest: t.guest, labels: t.labels, host: t.host, config, guestSecret, hostSecret, warmups: 1 });
  const oneThread = await trainTwoPartyInMemory({ guest: t.guest, labels: t.labels, host: t.host, config, guestRng: secretRng(guestSecret, 'vfl-lr-2p-guest'), hostRng: secretRng(hostSecret, 'vfl-lr-2p-host') });
  logProfile('two-party', fed, oneThread.seconds, log);
  return {
    model: { intercept: fed.guestWeights[0]!, weights: Float64Array.from([...fed.guestWeights.subarray(1), ...fed.hostWeights]) },
    seconds: fed.seconds,
    iterations: fed.iterations,
    section: sectionOf(fed, oneThread.seconds, oneThread.guest.iterations, config),
  };
}

interface ThreadsResult {
  seconds: number;
  setupSeconds: number;
  warmupSeconds: readonly number[];
  iterations: number;
  converged: boolean;
  totalBytes: number;
  bytesByPair: Record<string, number>;
  gradientNorms: number[];
  profile: Record<string, Record<string, number>>;
  peakMB: Record<string, number>;
  processPeakRssMB: number;
}

function logProfile(mode: string, fed: ThreadsResult, oneThreadSeconds: number, log: (l: string) => void): void {
  log(`${mode}: ${fed.iterations} iterations, ${fed.seconds.toFixed(2)} s (one thread: ${oneThreadSeconds.toFixed(2)} s), ${(fed.totalBytes / 1e6).toFixed(1)} MB sent`);
  for (const [role, p] of Object.entries(fed.profile)) {
    const busy = Object.values(p).reduce((a, b) => a + b, 0);
    log(`  ${role}: ${Object.entries(p).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}; other/waiting ${(fed.seconds - busy).toFixed(2)} s; peak ${fed.peakMB[role]!.toFixed(0)} MB`);
  }
}

function sectionOf(fed: ThreadsResult, oneThreadSeconds: number, oneThreadIterations: number, config: VflConfig): Record<string, unknown> {
  return {
    trainSeconds: fed.seconds,
    threadSetupSeconds: fed.setupSeconds,
    coldThreadsSeconds: fed.warmupSeconds[0],
    oneThreadSeconds,
    oneThreadIterations,
    iterations: fed.iterations,
    converged: fed.converged,
    bytesSent: fed.totalBytes,
    bytesByPair: fed.bytesByPair,
    gradientNorms: fed.gradientNorms,
    params: config.params,
    sigmoidTolerance: config.sigmoidTolerance,
    profileSeconds: fed.profile,
    peakMB: fed.peakMB,
    processPeakRssMB: fed.processPeakRssMB,
  };
}

export async function vflBench(o: VflBenchOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? (() => {});
  const pair = o.uci
    ? await (async () => {
        const u = uciPair(o.uci!, { ...(o.missing ? { missing: o.missing } : {}), seed: o.seed });
        return splitPair(u.guest, u.host, o.seed, o.testFraction, log);
      })()
    : o.generated
      ? await (async () => {
          const t = generatedTables(o.generated!, o.seed);
          log(`generated ${o.generated!.shape}: ${o.generated!.rows} rows, ${SHAPE_FEATURES.guest} + ${SHAPE_FEATURES.host} features (seed ${o.seed})`);
          return splitPair(t.guest, t.host, o.seed, o.testFraction, log);
        })()
      : await loadSplitPair(o);
  // Each party's local preprocessing: imputation with missing indicators, then z-scores.
  const gp = preparedSide(pair.guest);
  const hp = preparedSide(pair.host);
  const yTrain = gp.trainTable.label!;
  const yTest = gp.testTable.label!;

  const config = vflConfig(`bench-${o.seed}`);
  const mode = o.mode ?? 'three-party';
  const set: TrainSet = { guest: gp.train, host: hp.train, labels: yTrain };
  const joinedTrain = [...gp.train, ...hp.train];
  const joinedTest = [...gp.test, ...hp.test];
  const three = mode === 'two-party' ? undefined : await threeParty(set, config, log);
  const two = mode === 'three-party' ? undefined : await twoParty(set, config, log);
  const primary = (three ?? two)!;
  const iterations = primary.iterations;
  const model = primary.model;
  const pTest = predictLogistic(model, joinedTest);
  const fedTest = binaryMetrics(pTest, yTest);
  const twoTest = two && binaryMetrics(predictLogistic(two.model, joinedTest), yTest);
  log(`federated (${three ? 'three-party' : 'two-party'}): ${iterations} iterations, ${primary.seconds.toFixed(2)} s, test AUC ${fedTest.auc.toFixed(4)}`);
  if (three && two) log(`two-party: ${two.iterations} iterations, ${two.seconds.toFixed(2)} s (${(two.seconds / three.seconds).toFixed(2)}× three-party), test AUC ${twoTest!.auc.toFixed(4)}`);

  // Centralised reference: the same optimiser (BFGS with the gradient-only Wolfe line search, and
  // the one restart from the weighted sample Hessian) for the same number of gradient rounds,
  // timed the same way (warm).
  // The primary run's own settings (three-party: vfl-lr's, sharedRoundConfig; two-party: as configured).
  const run = three ? sharedRoundConfig(config) : config;
  const same = { optimizer: 'wolfe' as const, fixedIterations: iterations, tolerance: run.tolerance, lambda: run.lambda, hessianSampleRows: run.hessianSampleRows, hessianGradient: run.hessianGradient };
  // A run of 0.05–0.1 s is moved several-fold by one preemption on a loaded machine: the median
  // of five warm runs (the federated run, minutes long, averages such stalls out itself).
  fitLogistic(joinedTrain, yTrain, same);
  const runs: number[] = [];
  let central = fitLogistic(joinedTrain, yTrain, same);
  for (let r = 0; r < 5; r++) {
    const t1 = performance.now();
    central = fitLogistic(joinedTrain, yTrain, same);
    runs.push((performance.now() - t1) / 1000);
  }
  runs.sort((a, b) => a - b);
  const centralSeconds = runs[2]!;
  const centralTest = binaryMetrics(predictLogistic(central, joinedTest), yTest);
  // The optimum of the same objective: Newton with a line search, with the coded refusals.
  const newton = fitLogisticChecked(joinedTrain, yTrain, [...gp.names, ...hp.names], { tolerance: 1e-10, lambda: config.lambda });
  const newtonTest = binaryMetrics(predictLogistic(newton, joinedTest), yTest);
  const relativeError = (m: { weights: Float64Array }) => {
    let num = 0;
    let den = 0;
    newton.weights.forEach((w, j) => {
      num += (m.weights[j]! - w) ** 2;
      den += w * w;
    });
    return Math.sqrt(num / den);
  };
  log(`centralised: ${centralSeconds.toFixed(4)} s (median of 5; ${runs.map((r) => r.toFixed(3)).join(', ')}), test AUC ${centralTest.auc.toFixed(4)} (Newton-converged ${newtonTest.auc.toFixed(4)})`);

  const result = {
    rows: pair.rows,
    intersection: pair.intersection,
    train: yTrain.length,
    test: yTest.length,
    guestFeatures: gp.train.length,
    hostFeatures: hp.train.length,
    psi: pair.psi,
    mode,
    federated: { ...primary.section, testAuc: fedTest.auc, testKs: fedTest.ks, testGini: fedTest.gini, testLogLoss: fedTest.logLoss },
    ...(three && two ? { twoParty: { ...two.section, relativeWeightError: relativeError(two.model), testAuc: twoTest!.auc, testKs: twoTest!.ks, testGini: twoTest!.gini, testLogLoss: twoTest!.logLoss } } : {}),
    centralized: {
      trainSeconds: centralSeconds,
      trainSecondsRuns: runs,
      iterations: central.iterations,
      optimizer: 'wolfe',
      testAuc: centralTest.auc,
      testKs: centralTest.ks,
    },
    centralizedNewton: { iterations: newton.iterations, testAuc: newtonTest.auc, testKs: newtonTest.ks, relativeWeightError: relativeError(model) },
    ratios: {
      timeFederatedOverCentralized: primary.seconds / centralSeconds,
      aucFederatedMinusCentralized: fedTest.auc - centralTest.auc,
      aucFederatedMinusNewton: fedTest.auc - newtonTest.auc,
      ...(three && two
        ? {
            timeTwoPartyOverThreeParty: two.seconds / three.seconds,
            aucTwoPartyMinusThreeParty: twoTest!.auc - fedTest.auc,
            aucTwoPartyMinusNewton: twoTest!.auc - newtonTest.auc,
          }
        : {}),
    },
    seed: o.seed,
    testFraction: o.testFraction,
    ...(o.uci ? { data: 'uci-raw', missing: o.missing ?? null } : {}),
    ...(o.generated ? { data: 'generated', shape: o.generated.shape, generatedRows: o.generated.rows } : {}),
    features: { guest: gp.names, host: hp.names },
  };
  if (o.json) writeFileSync(o.json, JSON.stringify(result, null, 2));
  if (o.scoresOut) {
    writeScores(o.scoresOut, ['score'], { ids: gp.trainTable.ids, cols: [predictLogistic(model, joinedTrain)] }, { ids: gp.testTable.ids, cols: [pTest] });
  }
  return result;
}
