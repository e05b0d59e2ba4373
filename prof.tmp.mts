import { readFileSync } from 'node:fs';
import { trainInMemory, vflConfig } from '/work/wt-ss/protocols/vfl-lr/protocol.ts';
import { cryptoRng } from '/work/wt-ss/engine/rng.ts';
function load(p: string) { const lines = readFileSync(p,'utf8').trim().split('\n'); const h = lines[0].split(','); const rows = lines.slice(1).map(l => l.split(',').map(Number)); return { h, rows }; }
const g = load('/work/wt-ss/tests/data/fate/default_credit_hetero_guest.csv'), hh = load('/work/wt-ss/tests/data/fate/default_credit_hetero_host.csv');
const n = 24000;
const yi = g.h.indexOf('y');
const gcols = g.h.map((name, j) => j).filter(j => g.h[j] !== 'id' && g.h[j] !== 'y').map(j => Float64Array.from(g.rows.slice(0,n), r => r[j]));
const hcols = hh.h.map((name, j) => j).filter(j => hh.h[j] !== 'id').map(j => Float64Array.from(hh.rows.slice(0,n), r => r[j]));
const labels = Uint8Array.from(g.rows.slice(0,n), r => r[yi]);
const cfg = vflConfig('p', { hessianGradient: Number(process.env.HG ?? 0.03) });
for (let i = 0; i < Number(process.env.REPS ?? 1); i++) {
const res = await trainInMemory({ guest: gcols, labels, host: hcols, config: cfg, rng: cryptoRng });
console.log('rounds', res.arbiter.iterations, 'seconds', res.seconds.toFixed(2), JSON.stringify(res.guest.profile), JSON.stringify(res.host.profile), JSON.stringify(res.arbiter.profile));
}
