import { readFileSync } from 'node:fs';
import { trainInMemory, vflConfig } from './protocols/vfl-lr/protocol.ts';
import { fitLogisticChecked } from './models/logistic.ts';
import { relativeError } from './tests/helpers/shapes.ts';
import { cryptoRng } from './engine/rng.ts';
import { loadCsv } from './engine/csv.ts';
import { fitStandardizer, applyStandardizer } from './engine/standardize.ts';
const g = loadCsv('tests/data/fate/default_credit_hetero_guest.csv', { idColumn: 'id', labelColumn: 'y' });
const h = loadCsv('tests/data/fate/default_credit_hetero_host.csv', { idColumn: 'id' });
const n = 24000;
const std = (f: Float64Array[]) => { const c = f.map(x => x.slice(0, n)); return applyStandardizer(fitStandardizer(c), c); };
const gc = std(g.features), hc = std(h.features), y = g.label!.slice(0, n);
const opt = fitLogisticChecked([...gc, ...hc], y);
for (const o of JSON.parse(process.env.CFGS ?? '[{}]')) {
  const r = await trainInMemory({ guest: gc, labels: y, host: hc, config: vflConfig('p', o), rng: cryptoRng });
  const w = Float64Array.from([...r.guest.weights.subarray(1), ...r.host.weights]);
  console.log(JSON.stringify(o), 'rounds', r.arbiter.iterations, 'seconds', r.seconds.toFixed(2), 'err', relativeError(w, opt.weights).toExponential(2), 'bytes', r.transport.log.reduce((s, x) => s + (x.bytes ?? 0), 0));
}
