/**
 * KNOWN LIMITATION (documented, not fixed): a SEMI-HONEST guest that knows the platform's feature
 * Gram (published correlations of bureau features, or an earlier release) undoes the rotation in
 * `vfl-lr-2p` from ONE honest message (protocols/vfl-lr-2p/protocol.ts "Threat model").
 *
 * HostSampleGram carries G̃ = A G Aᵀ in plaintext (G = X_HᵀX_H over the sample rows). With the
 * eigenvalues of G distinct, the eigenvectors Ṽ of G̃ and V of G give A = Ṽ S Vᵀ up to one sign
 * per eigenvector (S = diag(±1)); the cross Gram the guest decrypts, K̃ = K Aᵀ with K = X_GᵀX_H,
 * fixes each sign where the guest also knows K's direction (the same auxiliary source). Then
 * w_H = Aᵀ w̃_H: which platform feature carries which weight. This test measures it on a real
 * run (breast, p_H = 20) with the guest knowing G and K exactly (the upper bound; an estimate of
 * them from other rows degrades where eigenvalues are close), and with G only (signs unknown:
 * |w_H| per feature). It asserts the measured leak, it does not pretend the attack fails.
 */
import { describe, expect, it } from 'vitest';
import { alignTo } from '../../engine/align.ts';
import { crossGram, ones } from '../../engine/columns.ts';
import { loadCsv } from '../../engine/csv.ts';
import { applyStandardizer, fitStandardizer } from '../../engine/standardize.ts';
import { createCkks, decryptorFor, deserialize } from '../../protocols/he/ckks.ts';
import { vflConfig } from '../../protocols/vfl-lr/config.ts';
import { trainTwoPartyInMemory } from '../../protocols/vfl-lr-2p/protocol.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
const z = (cols: readonly Float64Array[]) => applyStandardizer(fitStandardizer([...cols]), [...cols]);

/** Eigenvectors (columns of the returned row-major matrix), eigenvalues descending: cyclic Jacobi. */
function eigen(a0: Float64Array, p: number): { values: number[]; vectors: Float64Array } {
  const a = Float64Array.from(a0);
  const v = new Float64Array(p * p);
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) off += a[i * p + j]! ** 2;
    if (off < 1e-22) break;
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        const aij = a[i * p + j]!;
        if (Math.abs(aij) < 1e-300) continue;
        const theta = (a[j * p + j]! - a[i * p + i]!) / (2 * aij);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < p; k++) {
          const aki = a[k * p + i]!;
          const akj = a[k * p + j]!;
          a[k * p + i] = c * aki - s * akj;
          a[k * p + j] = s * aki + c * akj;
        }
        for (let k = 0; k < p; k++) {
          const aik = a[i * p + k]!;
          const ajk = a[j * p + k]!;
          a[i * p + k] = c * aik - s * ajk;
          a[j * p + k] = s * aik + c * ajk;
        }
        for (let k = 0; k < p; k++) {
          const vki = v[k * p + i]!;
          const vkj = v[k * p + j]!;
          v[k * p + i] = c * vki - s * vkj;
          v[k * p + j] = s * vki + c * vkj;
        }
      }
    }
  }
  const order = Array.from({ length: p }, (_, i) => i).sort((x, y) => a[y * p + y]! - a[x * p + x]!);
  const vectors = new Float64Array(p * p);
  order.forEach((src, dst) => {
    for (let k = 0; k < p; k++) vectors[k * p + dst] = v[k * p + src]!;
  });
  return { values: order.map((i) => a[i * p + i]!), vectors };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! ** 2;
    bb += b[i]! ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

interface Case {
  xg: Float64Array[];
  y: Uint8Array;
  xh: Float64Array[];
  /** The guest's auxiliary knowledge of the platform: its columns and the guest's on some rows (the same rows as the training, or others). */
  auxG: Float64Array[];
  auxH: Float64Array[];
  label: string;
}

async function attack(c: Case): Promise<{ corr: number; maxErr: number; top: number[]; trueTop: number[] }> {
  const { xg, xh } = c;
  const p = xh.length;
  const config = vflConfig('attack-2p-rotation-recovery', { lambda: 0.05 });
  const run = await trainTwoPartyInMemory({ guest: xg, labels: c.y, host: xh, config });
  expect(run.guest.converged).toBe(true);
  const msg = run.transport.log.find((r) => r.type === 'HostSampleGram')!.received.body as { gram: Float64Array; cross: Uint8Array[] };
  const ckks = await createCkks(config.params);
  const m = Math.min(xh[0]!.length, config.hessianSampleRows, ckks.slots);
  // What the guest has: G̃ (plaintext), K̃ (decrypted with its own key), w̃_H (its optimiser's).
  const dec = decryptorFor(ckks, run.guest.keyOwner!);
  const kTilde = msg.cross.map((b) => {
    const ct = deserialize(ckks, b);
    const v = dec.decrypt(ct, p);
    ct.delete();
    return v.map((x) => x * Math.sqrt(m));
  });
  // Its auxiliary knowledge: the platform Gram G and cross Gram K = X_GᵀX_H (intercept first).
  const auxGx = [ones(c.auxG[0]!.length), ...c.auxG];
  const g = crossGram(c.auxH, c.auxH);
  const k = crossGram(auxGx, c.auxH);
  const et = eigen(msg.gram, p);
  const e = eigen(g, p);
  const signs = Array.from({ length: p }, (_, j) => {
    let s = 0;
    for (let r = 0; r < auxGx.length; r++) {
      let a = 0;
      let b = 0;
      for (let l = 0; l < p; l++) {
        a += kTilde[r]![l]! * et.vectors[l * p + j]!;
        b += k[r * p + l]! * e.vectors[l * p + j]!;
      }
      s += a * b;
    }
    return s >= 0 ? 1 : -1;
  });
  // w_H = Aᵀ w̃ = V S Ṽᵀ w̃.
  const proj = Array.from({ length: p }, (_, j) => {
    let s = 0;
    for (let l = 0; l < p; l++) s += et.vectors[l * p + j]! * run.guest.hostRotated[l]!;
    return s * signs[j]!;
  });
  const full = Float64Array.from({ length: p }, (_, l) => proj.reduce((acc, s, j) => acc + e.vectors[l * p + j]! * s, 0));
  const w = run.host.weights;
  let maxErr = 0;
  for (let l = 0; l < p; l++) maxErr = Math.max(maxErr, Math.abs(full[l]! - w[l]!));
  const top = (v: ArrayLike<number>) => Array.from(v, (x, i) => [Math.abs(x), i] as const).sort((a, b) => b[0] - a[0]).slice(0, 3).map((x) => x[1]);
  let gap = Infinity;
  for (let j = 1; j < p; j++) gap = Math.min(gap, (e.values[j - 1]! - e.values[j]!) / e.values[0]!);
  const out = { corr: correlation(full, w), maxErr, top: top(full), trueTop: top(w) };
  console.log(
    `${c.label} (p_H = ${p}, smallest relative eigen-gap ${gap.toExponential(1)}): w_H = V S Ṽᵀ w̃ has correlation ${out.corr.toFixed(4)} with the platform's weights, max error ${maxErr.toExponential(1)} (weights up to ${Math.max(...Array.from(w, Math.abs)).toFixed(2)}); ` +
      `top-3 features by |w| ${JSON.stringify(out.top)} (true ${JSON.stringify(out.trueTop)}); a random direction gives about ${Math.sqrt(2 / Math.PI / p).toFixed(2)}`,
  );
  return out;
}

describe('a guest that knows the platform Gram undoes the rotation (known limitation)', () => {
  it('exact knowledge (breast): A from the eigenvectors of the plaintext host Gram, signs from the cross Gram', async () => {
    const guestT = loadCsv(data('breast_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const hostT = alignTo(loadCsv(data('breast_hetero_host.csv'), { idColumn: 'id' }), guestT.ids);
    const xg = z(guestT.features);
    const xh = z(hostT.features);
    const r = await attack({ xg, y: guestT.label!, xh, auxG: xg, auxH: xh, label: 'semi-honest guest knowing the sample Gram exactly (breast)' });
    expect(r.corr).toBeGreaterThan(0.99);
    expect(r.top).toEqual(r.trueTop);
  }, 600_000);

  it('population knowledge (default_credit): G and K from 8,192 OTHER rows of the same population', async () => {
    const guestAll = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const hostAll = alignTo(loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' }), guestAll.ids);
    const rows = (lo: number, hi: number) => Array.from({ length: hi - lo }, (_, i) => lo + i);
    const pick = (cols: readonly Float64Array[], idx: number[]) => cols.map((c) => Float64Array.from(idx, (i) => c[i]!));
    const train = rows(0, 4096);
    const aux = rows(10000, 18192);
    const y = Uint8Array.from(train, (i) => guestAll.label![i]!);
    const r = await attack({
      xg: z(pick(guestAll.features, train)),
      y,
      xh: z(pick(hostAll.features, train)),
      auxG: z(pick(guestAll.features, aux)),
      auxH: z(pick(hostAll.features, aux)),
      label: 'semi-honest guest knowing the platform Gram of other rows (default_credit, 4,096 training rows)',
    });
    // Measured (known limitation): the recovery is far above chance.
    expect(r.corr).toBeGreaterThan(0.95);
  }, 600_000);
});
