/**
 * `npm run bench -- scoring --rows 1000000 --features 20 --json OUT.json`: a synthetic scorecard
 * (8 cut points per feature, 3% missing values) over a columnar batch in shared memory, scored by
 * one thread and by the worker pool in the same run; then an LR part on the same raw columns
 * (its preparation fitted on them: every feature has missing values, so each gets an indicator),
 * the kernel imputing and z-scoring as it goes. Reports rows per second of each (median of the
 * timed repetitions, after warm-up) and checks the pool's output equals the single thread's.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { IndomainError } from '../engine/errors.ts';
import { seededRng } from '../engine/rng.ts';
import { fitLrPreparation } from '../engine/impute.ts';
import { compileLr, lrLogits, MAX_CUTS, scorecardPoints, ScoringPool, SharedBatch, SLOTS, type CompiledScorecard } from '../engine/scoring.ts';

export interface ScoringBenchOptions {
  rows: number;
  features: number;
  workers: number;
  repetitions: number;
  json?: string;
  log?: (line: string) => void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function scoringBench(o: ScoringBenchOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? (() => {});
  const rng = seededRng('scoring-bench');
  const batch = new SharedBatch(o.features, o.rows);
  for (const col of batch.cols) for (let i = 0; i < o.rows; i++) col[i] = rng.next() < 0.03 ? NaN : rng.next() * 100;
  const cuts = new Float64Array(o.features * MAX_CUTS);
  const points = new Int32Array(o.features * SLOTS);
  for (let j = 0; j < o.features; j++) {
    for (let k = 0; k < MAX_CUTS; k++) cuts[j * MAX_CUTS + k] = ((k + 1) * 100) / (MAX_CUTS + 1);
    for (let b = 0; b < SLOTS; b++) points[j * SLOTS + b] = Math.round((rng.next() - 0.5) * 40);
  }
  const model: CompiledScorecard = { fields: batch.cols.map((_, j) => `f${j}`), cuts, points, base: 500 };
  log(`batch: ${o.rows} rows × ${o.features} features (${((o.rows * o.features * 8) / 1e6).toFixed(0)} MB shared)`);

  // Seconds of each timed repetition, after two warm-up runs.
  const timed = async (f: () => unknown): Promise<number[]> => {
    const out: number[] = [];
    for (let r = 0; r < o.repetitions + 2; r++) {
      const t = performance.now();
      await f();
      if (r >= 2) out.push((performance.now() - t) / 1000);
    }
    return out;
  };
  // Single thread: the same kernels on the main thread.
  const single = new Int32Array(o.rows);
  const singleTimes = await timed(() => scorecardPoints(batch.cols, cuts, points, model.base, single, 0, o.rows));
  const prep = fitLrPreparation(batch.cols, model.fields).prep;
  const lr = compileLr(prep, Float64Array.from(prep.names, () => (rng.next() - 0.5) / 5), -1.2);
  const singleLr = new Float64Array(o.rows);
  const singleLrTimes = await timed(() => lrLogits(batch.cols, lr, singleLr, 0, o.rows));
  const pool = new ScoringPool(o.workers);
  let poolTimes: number[] = [];
  let poolLrTimes: number[] = [];
  let equal = false;
  try {
    await pool.attach(batch);
    const handle = await pool.load(model);
    poolTimes = await timed(() => pool.scorecard(handle));
    equal = batch.points.every((v, i) => v === single[i]);
    const lrHandle = await pool.load(lr);
    poolLrTimes = await timed(() => pool.lr(lrHandle));
    equal &&= batch.logits.every((v, i) => Object.is(v, singleLr[i]));
  } finally {
    await pool.close();
  }
  if (!equal) throw new IndomainError('SRV_INTERNAL', 'pool scores differ from single-thread scores');
  const singleRate = o.rows / median(singleTimes);
  const poolRate = o.rows / median(poolTimes);
  const result = {
    rows: o.rows,
    features: o.features,
    cutsPerFeature: MAX_CUTS,
    repetitions: o.repetitions,
    singleThread: { rowsPerSecond: singleRate, seconds: singleTimes },
    pool: { workers: o.workers, rowsPerSecond: poolRate, seconds: poolTimes },
    speedup: poolRate / singleRate,
    lr: { columns: prep.names.length, singleThread: { rowsPerSecond: o.rows / median(singleLrTimes), seconds: singleLrTimes }, pool: { rowsPerSecond: o.rows / median(poolLrTimes), seconds: poolLrTimes } },
    identical: equal,
  };
  log(`scorecard: single thread ${(singleRate / 1e6).toFixed(2)}M rows/s; pool of ${o.workers} ${(poolRate / 1e6).toFixed(2)}M rows/s (${(poolRate / singleRate).toFixed(2)}×); identical: ${equal}`);
  log(`lr (${prep.names.length} prepared columns): single thread ${(result.lr.singleThread.rowsPerSecond / 1e6).toFixed(2)}M rows/s; pool ${(result.lr.pool.rowsPerSecond / 1e6).toFixed(2)}M rows/s`);
  if (o.json) writeFileSync(o.json, JSON.stringify(result, null, 2));
  return result;
}
