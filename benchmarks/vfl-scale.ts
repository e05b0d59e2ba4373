/**
 * `npm run bench -- vfl-scale`: federated LR (each role in its own worker thread) on generated
 * vertical pairs (benchmarks/shapes.ts, shape `plain`) over a grid of rows × host features × event
 * rates, against the centralised fit of the same objective on the same split. Writes
 * `{ points: [{ rows, guestFeatures, hostFeatures, eventRate, aucGap, federated: { seconds,
 * iterations, secondsPerIteration, bytesByPair, peakRssMB: { <role>: MB } }, centralized: { seconds } }] }`.
 *
 * Per-role memory: the roles share one process here, so `peakRssMB` is each role thread's peak of
 * V8 heap plus external memory, and `processPeakRssMB` the whole process's peak RSS.
 * Points run smallest first, and the JSON is rewritten after each point, so a grid cut short by
 * time or memory still reports what it measured.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { seededSplit } from '../engine/align.ts';
import { applyStandardizer, fitStandardizer } from '../engine/standardize.ts';
import { fitLogistic, predictLogistic } from '../models/logistic.ts';
import { auc } from '../models/metrics.ts';
import { vflConfig } from '../protocols/vfl-lr/protocol.ts';
import { sharedRoundConfig } from '../protocols/vfl-lr/config.ts';
import { trainInThreads } from '../protocols/vfl-lr/threads.ts';
import { generatePair } from './shapes.ts';

export interface VflScaleOptions {
  rows: readonly number[];
  hostFeatures: readonly number[];
  eventRates: readonly number[];
  guestFeatures: number;
  /**
   * Stop each federated run after this many rounds (a point too slow to run to the end is timed
   * per round; `federated.converged` is then false and `secondsPerIteration` is what to scale).
   */
  maxRounds?: number;
  seed: string;
  json?: string;
  log?: (line: string) => void;
}

const pick = (cols: readonly Float64Array[], idx: ArrayLike<number>) => cols.map((c) => Float64Array.from(idx, (i) => c[i]!));

export async function vflScaleBench(o: VflScaleOptions): Promise<{ points: Record<string, unknown>[] }> {
  const log = o.log ?? (() => {});
  const points: Record<string, unknown>[] = [];
  const grid: { rows: number; hostFeatures: number; eventRate: number }[] = [];
  for (const rows of o.rows) for (const hostFeatures of o.hostFeatures) for (const eventRate of o.eventRates) grid.push({ rows, hostFeatures, eventRate });
  grid.sort((a, b) => a.rows * a.hostFeatures - b.rows * b.hostFeatures);
  for (const g of grid) {
    const pair = generatePair({ shape: 'plain', rows: g.rows, guestFeatures: o.guestFeatures, hostFeatures: g.hostFeatures, eventRate: g.eventRate, seed: o.seed });
    const split = seededSplit(g.rows, 0.2, o.seed);
    const side = (cols: Float64Array[]) => {
      const tr = pick(cols, split.train);
      const s = fitStandardizer(tr);
      return { train: applyStandardizer(s, tr), test: applyStandardizer(s, pick(cols, split.test)) };
    };
    const gs = side(pair.guest);
    const hs = side(pair.host);
    const yTrain = Uint8Array.from(split.train, (i) => pair.labels[i]!);
    const yTest = Uint8Array.from(split.test, (i) => pair.labels[i]!);
    const config = vflConfig(`scale-${g.rows}-${g.hostFeatures}-${g.eventRate}`, o.maxRounds ? { maxIterations: o.maxRounds, refuseUnconverged: false } : {});
    const fed = await trainInThreads({ guest: gs.train, labels: yTrain, host: hs.train, config, arbiterSecret: new Uint8Array(randomBytes(32)), guestSecret: new Uint8Array(randomBytes(32)) });
    const model = { intercept: fed.guestWeights[0]!, weights: Float64Array.from([...fed.guestWeights.subarray(1), ...fed.hostWeights]) };
    const train = [...gs.train, ...hs.train];
    const test = [...gs.test, ...hs.test];
    // The same optimiser in plaintext (BFGS with the gradient-only Wolfe line search and the one
    // Hessian restart), to the same tolerance: Newton's XᵀWX at 300,000 × 305 costs minutes a step.
    const t0 = performance.now();
    const run = sharedRoundConfig(config);
    const central = fitLogistic(train, yTrain, { optimizer: 'wolfe', tolerance: run.tolerance, lambda: run.lambda, maxIterations: 200, hessianSampleRows: run.hessianSampleRows, hessianGradient: run.hessianGradient });
    const centralSeconds = (performance.now() - t0) / 1000;
    const aucGap = auc(predictLogistic(model, test), yTest) - auc(predictLogistic(central, test), yTest);
    const point = {
      rows: g.rows,
      guestFeatures: o.guestFeatures,
      hostFeatures: g.hostFeatures,
      eventRate: g.eventRate,
      aucGap,
      federated: {
        seconds: fed.seconds,
        iterations: fed.iterations,
        converged: fed.converged,
        ...(o.maxRounds ? { maxRounds: o.maxRounds } : {}),
        setupSeconds: fed.setupSeconds,
        secondsPerIteration: fed.seconds / Math.max(1, fed.iterations),
        bytesByPair: fed.bytesByPair,
        peakRssMB: fed.peakMB,
        processPeakRssMB: fed.processPeakRssMB,
        profileSeconds: fed.profile,
      },
      centralized: { seconds: centralSeconds, iterations: central.iterations, optimizer: 'wolfe' },
    };
    points.push(point);
    log(`${g.rows} rows × ${o.guestFeatures}+${g.hostFeatures} features, event rate ${g.eventRate}: federated ${fed.seconds.toFixed(1)} s, ${fed.iterations} rounds (${(fed.seconds / Math.max(1, fed.iterations)).toFixed(2)} s/round), AUC gap ${aucGap.toExponential(1)}; centralised ${centralSeconds.toFixed(2)} s; peak MB ${JSON.stringify(Object.fromEntries(Object.entries(fed.peakMB).map(([k, v]) => [k, Math.round(v)])))}`);
    if (o.json) writeFileSync(o.json, JSON.stringify({ points }, null, 2));
  }
  return { points };
}
