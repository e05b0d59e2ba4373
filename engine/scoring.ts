/**
 * Batch scoring on a worker-thread pool. A batch is columnar: every feature a Float64Array view on
 * one SharedArrayBuffer, the output another; workers get the buffers once per batch and then only
 * row ranges, so no data is copied per task. The kernels (engine/scoring-kernel.mjs) are the same
 * code on the main thread and in the workers, so pool scores equal single-thread scores exactly.
 * An LR party's batch holds its RAW columns: the kernel applies the stored preparation (impute,
 * `<feature>_missing` indicators, z-scores) itself, so no prepared copy of the batch is made.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { IndomainError } from './errors.ts';
import type { LrPreparation } from './impute.ts';
import { lrLogits, MAX_CUTS, scorecardPoints, SLOTS, type LrKernel } from './scoring-kernel.mjs';
import type { ScorecardModel } from '../models/export/model.ts';

export { lrLogits, MAX_CUTS, scorecardPoints, SLOTS, type LrKernel };

/** A scorecard in kernel form: cut points padded with +Infinity, 10 points slots per feature. */
export interface CompiledScorecard {
  readonly fields: readonly string[];
  readonly cuts: Float64Array;
  readonly points: Int32Array;
  readonly base: number;
}

/** One party's LR part in kernel form; `fields` are its raw features, the batch's column order. */
export interface CompiledLr extends LrKernel {
  readonly fields: readonly string[];
}

/**
 * One party's LR part: its preparation, its weights (one per prepared column: the features, then
 * the indicators) and its intercept (the bank's; 0 for the platform's partial logit).
 */
export function compileLr(prep: LrPreparation, weights: ArrayLike<number>, intercept: number): CompiledLr {
  const f = prep.imputer.mean.length;
  const cols = f + prep.imputer.indicators.length;
  if (weights.length !== cols || prep.names.length !== cols || prep.standardizer.mean.length !== cols)
    throw new IndomainError('SC_BAD_CONFIG', `${weights.length} weights for ${cols} prepared columns`, { field: 'weights' });
  return {
    fields: prep.names.slice(0, f),
    mean: Float64Array.from(prep.imputer.mean),
    centre: Float64Array.from(prep.standardizer.mean),
    scale: Float64Array.from(prep.standardizer.std),
    weights: Float64Array.from(weights),
    indicators: Int32Array.from(prep.imputer.indicators),
    intercept,
  };
}

/** Partial logits of raw columns (in `k.fields` order) on this thread: the kernel the workers run. */
export function lrPartialLogits(k: CompiledLr, cols: readonly Float64Array[]): Float64Array {
  if (cols.length !== k.fields.length) throw new IndomainError('SC_BAD_CONFIG', `${cols.length} columns for ${k.fields.length} features`);
  const n = cols[0]?.length ?? 0;
  const out = new Float64Array(n);
  lrLogits(cols, k, out, 0, n);
  return out;
}

/** Compile numeric characteristics (at most 8 cut points each) for the kernel. */
export function compileScorecard(m: Pick<ScorecardModel, 'characteristics' | 'basePoints'>): CompiledScorecard {
  const f = m.characteristics.length;
  const cuts = new Float64Array(f * MAX_CUTS).fill(Infinity);
  const points = new Int32Array(f * SLOTS);
  m.characteristics.forEach((c, j) => {
    if (c.spec.kind !== 'numeric') throw new IndomainError('SC_BAD_CONFIG', 'the batch kernel takes numeric characteristics only', { field: c.field });
    if (c.spec.cuts.length > MAX_CUTS) throw new IndomainError('SC_BAD_CONFIG', `${c.spec.cuts.length} cut points, the kernel takes at most ${MAX_CUTS}`, { field: c.field });
    c.spec.cuts.forEach((x, k) => (cuts[j * MAX_CUTS + k] = x));
    const valueBins = c.spec.missingOwn ? c.spec.bins - 1 : c.spec.bins;
    // Slots past the last value bin are unreachable (their cuts are +Infinity).
    for (let b = 0; b < SLOTS - 1; b++) points[j * SLOTS + b] = c.points[Math.min(b, valueBins - 1)]!;
    points[j * SLOTS + SLOTS - 1] = c.points[c.spec.missingBin]!;
  });
  return { fields: m.characteristics.map((c) => c.field), cuts, points, base: m.basePoints };
}

/** Columns and outputs of one batch, in shared memory. */
export class SharedBatch {
  readonly columns: SharedArrayBuffer;
  readonly out: SharedArrayBuffer;
  readonly outF64: SharedArrayBuffer;
  readonly cols: Float64Array[];
  readonly points: Int32Array;
  readonly logits: Float64Array;

  constructor(
    readonly features: number,
    readonly rows: number,
  ) {
    this.columns = new SharedArrayBuffer(features * rows * 8);
    this.out = new SharedArrayBuffer(rows * 4);
    this.outF64 = new SharedArrayBuffer(rows * 8);
    this.cols = Array.from({ length: features }, (_, j) => new Float64Array(this.columns, j * rows * 8, rows));
    this.points = new Int32Array(this.out);
    this.logits = new Float64Array(this.outF64);
  }
}

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
}

export class ScoringPool {
  readonly size: number;
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private next = 1;
  private models = 0;
  private batch: SharedBatch | undefined;

  constructor(size = Math.max(1, Math.min(4, availableParallelism()))) {
    this.size = size;
    this.workers = Array.from({ length: size }, () => {
      const w = new Worker(new URL('./scoring-worker.mjs', import.meta.url));
      w.on('message', (m: { id: number; error?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.error) p.reject(new IndomainError('SRV_INTERNAL', `scoring worker: ${m.error}`));
        else p.resolve();
      });
      w.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
      return w;
    });
  }

  private call(w: Worker, msg: Record<string, unknown>): Promise<void> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...msg, id });
    });
  }

  private all(msg: Record<string, unknown>): Promise<void[]> {
    return Promise.all(this.workers.map((w) => this.call(w, msg)));
  }

  /** Hand every worker the batch's buffers (shared, not copied). */
  async attach(batch: SharedBatch): Promise<void> {
    this.batch = batch;
    await this.all({ type: 'batch', features: batch.features, rows: batch.rows, columns: batch.columns, out: batch.out, outF64: batch.outF64 });
  }

  /** Send a model to every worker once; returns its handle. */
  async load(model: CompiledScorecard | CompiledLr): Promise<number> {
    const id = ++this.models;
    await this.all({ type: 'model', id: this.next++, model, modelId: id });
    return id;
  }

  private ranges(): [number, number][] {
    const n = this.batch!.rows;
    return this.workers.map((_, k) => [Math.floor((k * n) / this.size), Math.floor(((k + 1) * n) / this.size)]);
  }

  /** Scorecard points of every row of the attached batch, into `batch.points`. */
  async scorecard(model: number): Promise<Int32Array> {
    if (!this.batch) throw new IndomainError('SRV_INTERNAL', 'no batch attached');
    await Promise.all(this.ranges().map(([start, end], k) => this.call(this.workers[k]!, { type: 'scorecard', model, start, end })));
    return this.batch.points;
  }

  /** LR partial logits of every row of the attached batch (raw columns), into `batch.logits`. */
  async lr(model: number): Promise<Float64Array> {
    if (!this.batch) throw new IndomainError('SRV_INTERNAL', 'no batch attached');
    await Promise.all(this.ranges().map(([start, end], k) => this.call(this.workers[k]!, { type: 'lr', model, start, end })));
    return this.batch.logits;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
