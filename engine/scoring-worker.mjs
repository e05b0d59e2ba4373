// A scoring worker thread: holds views on the shared batch (no copy) and runs the kernels on the
// row ranges it is given.
import { parentPort } from 'node:worker_threads';
import { lrLogits, scorecardPoints } from './scoring-kernel.mjs';

let cols = [];
let outI32;
let outF64;
const models = new Map();

parentPort.on('message', (m) => {
  try {
    if (m.type === 'batch') {
      cols = Array.from({ length: m.features }, (_, j) => new Float64Array(m.columns, j * m.rows * 8, m.rows));
      outI32 = new Int32Array(m.out, 0, m.rows);
      outF64 = m.outF64 ? new Float64Array(m.outF64, 0, m.rows) : undefined;
    } else if (m.type === 'model') {
      models.set(m.modelId, m.model);
    } else if (m.type === 'scorecard') {
      const k = models.get(m.model);
      scorecardPoints(cols, k.cuts, k.points, k.base, outI32, m.start, m.end);
    } else if (m.type === 'lr') {
      lrLogits(cols, models.get(m.model), outF64, m.start, m.end);
    }
    parentPort.postMessage({ id: m.id });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) });
  }
});
