/**
 * Attack: strip a ciphertext that was computed from the receiver's own ciphertexts (issue 12, item 1).
 *
 * A CKKS ciphertext is a pair (c0, c1) with c0 + c1·s = Δ·m + e. When the bank computes its residual
 * as Σ_k p_k ⊙ [[T_k]] + p_0 from the platform's basis ciphertexts [[T_k]], the residual's c1 is
 * Σ_k p_k·c1(T_k). In round 0 every p_k is a constant polynomial (the same coefficient in every
 * slot), so the platform, who made every c1(T_k), solves for the K integers γ_k modulo the first
 * prime, checks them on all 8,192 coefficients, subtracts Σ γ_k·[[T_k]] from the residual and holds
 * (p_0, 0): a ciphertext whose c1 is zero decrypts under ANY key, here to coef_0 − y, the labels.
 *
 * This file runs that attack, as the platform would, on real vfl-lr output (default_credit, 4,096
 * rows: one full chunk), with the bank's re-randomisation on (the attack must fail) and off (it
 * must succeed), and then sweeps every ciphertext every party receives in vfl-lr and in the
 * scorecard pipeline, every round: none may lie in the span of the ciphertexts the receiver sent.
 */
import { describe, expect, it } from 'vitest';
import { alignTo } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { cryptoRng } from '../../engine/rng.ts';
import { selectRows } from '../../engine/table.ts';
import { createCkks, generateKeys, type Ckks } from '../../protocols/he/ckks.ts';
import { MemoryTransport, type DeliveryRecord } from '../../protocols/transport.ts';
import { vflConfig, VflArbiter, VflGuest, VflHost } from '../../protocols/vfl-lr/protocol.ts';
import { splitPair } from '../../benchmarks/pair.ts';
import { runScorecard } from '../../benchmarks/scorecard.ts';
import { scorecardConfig } from '../../protocols/scorecard/protocol.ts';
import { loadCiphertext, mod, parse, primesOf, randomCoords, Span, sweep, unparse, type SweepResult } from '../helpers/ckks-span.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;


function merged(...results: SweepResult[]): SweepResult {
  const out: SweepResult = { checked: {}, inSpan: {} };
  for (const r of results) {
    for (const [k, v] of Object.entries(r.checked)) out.checked[k] = (out.checked[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.inSpan)) out.inSpan[k] = (out.inSpan[k] ?? 0) + v;
  }
  return out;
}

// ---- The label attack on vfl-lr's residual, as the platform runs it -----------------------------------

interface LabelAttack {
  /** Residual chunks whose c1 lies in the span of the platform's own round-0 basis. */
  chunksInSpan: number;
  chunks: number;
  /** Labels the platform reads correctly (of `rows`); the best of both cluster orientations. */
  recovered: number;
  rows: number;
}

/**
 * The platform's attack on one training run: it holds the basis ciphertexts it sent in round 0
 * and the residual it received. Where the residual is in their span it strips it to (p_0, 0),
 * decrypts with a key of its own making, and splits the values into two clusters.
 */
function attackResidual(ckks: Ckks, log: readonly DeliveryRecord[], labels: Uint8Array): LabelAttack {
  const primes = primesOf(ckks);
  const basisMsg = log.find((r) => r.type === 'HostBasis' && r.round === 0)!;
  const residualMsg = log.find((r) => r.type === 'Residual' && r.round === 0)!;
  const basis = basisMsg.received.body.basis as Uint8Array[][];
  const chunks = residualMsg.received.body.chunks as Uint8Array[];
  const attackerKey = generateKeys(ckks);
  const decryptor = ckks.seal.Decryptor(ckks.context, attackerKey.secretKey);
  const values: number[] = [];
  let chunksInSpan = 0;
  chunks.forEach((bytes, c) => {
    const residual = loadCiphertext(ckks, bytes)!;
    const target = parse(ckks, residual);
    residual.delete();
    const own = basis.map((perK) => {
      const ct = loadCiphertext(ckks, perK[c]!)!;
      const p = parse(ckks, ct);
      ct.delete();
      return p;
    });
    const span = new Span(primes[0]!, randomCoords(target.n, own.length + 64, `chunk${c}`));
    own.forEach((p, k) => span.add(p, k));
    const gamma = span.solve(target);
    if (!gamma) return;
    // In span on the sampled coordinates: check γ on every coefficient of the first prime.
    const q0 = primes[0]!;
    const { n, primes: L } = target;
    const centred = new Map([...gamma].map(([k, g]) => [k, g > q0 / 2n ? g - q0 : g]));
    let exact = true;
    for (let j = 0; j < n && exact; j++) {
      let s = 0n;
      for (const [k, g] of centred) s += g * own[k]!.data[n * L + j]!;
      exact = mod(s, q0) === target.data[n * L + j]!;
    }
    if (!exact) return;
    chunksInSpan++;
    // Strip: c0 −= Σ γ_k·c0(T_k) on every prime; c1 = 0.
    const stripped = new BigUint64Array(target.data);
    for (let i = 0; i < L; i++) {
      const q = primes[i]!;
      for (let j = 0; j < n; j++) {
        let s = stripped[i * n + j]!;
        for (const [k, g] of centred) s -= mod(g, q) * own[k]!.data[i * n + j]!;
        stripped[i * n + j] = mod(s, q);
        stripped[n * L + i * n + j] = 0n;
      }
    }
    const ct = unparse(ckks, { ...target, data: stripped });
    const pt = decryptor.decrypt(ct)!;
    const decoded = ckks.encoder.decode(pt) as Float64Array;
    pt.delete();
    ct.delete();
    values.push(...decoded.subarray(0, Math.min(ckks.slots, labels.length - c * ckks.slots)));
  });
  decryptor.delete();
  attackerKey.secretKey.delete();
  let recovered = 0;
  if (values.length > 0) {
    // coef_0 − y: two clusters; the lower one is y = 1. Read both orientations, keep the better.
    const mid = (Math.min(...values) + Math.max(...values)) / 2;
    let agree = 0;
    values.forEach((v, i) => (agree += Number((v < mid ? 1 : 0) === labels[i])));
    recovered = Math.max(agree, values.length - agree);
  }
  return { chunksInSpan, chunks: chunks.length, recovered, rows: labels.length };
}

async function trainVfl(rerandomise: boolean, rows: number) {
  const guestAll = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
  const hostAll = loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' });
  const ids = guestAll.ids.slice(0, rows);
  const g = selectRows(guestAll, Array.from({ length: rows }, (_, i) => i));
  const h = alignTo(hostAll, ids);
  const config = vflConfig(`attack-span-${rerandomise ? 'on' : 'off'}`, { maxIterations: 4 });
  const [cg, ch, ca] = await Promise.all([createCkks(config.params), createCkks(config.params), createCkks(config.params)]);
  const guest = new VflGuest(cg, g.features, g.label!, config, cryptoRng, rerandomise);
  const host = new VflHost(ch, h.features, config);
  const arbiter = new VflArbiter(ca, config, cryptoRng);
  const transport = new MemoryTransport([arbiter, guest, host]);
  await transport.run();
  return { log: transport.log, labels: g.label!, ckks: ch };
}

describe('attack: linear span (the platform strips the residual to read the labels)', () => {
  it('re-randomised residuals are outside the span of the platform basis: labels no better than the majority guess; without it, every label', async () => {
    const rows = 4096;
    const on = await trainVfl(true, rows);
    const off = await trainVfl(false, rows);
    const aOn = attackResidual(on.ckks, on.log, on.labels);
    const aOff = attackResidual(off.ckks, off.log, off.labels);
    const events = on.labels.reduce((s, y) => s + y, 0);
    const majority = Math.max(events, rows - events);
    console.log(
      `linear-span label attack, ${rows} rows: re-randomised: ${aOn.chunksInSpan} of ${aOn.chunks} residual chunks in span, ${aOn.recovered} labels read; ` +
        `not re-randomised: ${aOff.chunksInSpan} of ${aOff.chunks} in span, ${aOff.recovered} of ${rows} labels read (majority guess: ${majority})`,
    );
    // Defence on: the platform cannot strip the residual; it reads nothing.
    expect(aOn.chunksInSpan).toBe(0);
    expect(aOn.recovered).toBe(0);
    // Defence off: the same attack reads every label.
    expect(aOff.chunksInSpan).toBe(aOff.chunks);
    expect(aOff.recovered).toBe(rows);

    // Every round, every role: no received ciphertext in the span of what the receiver sent.
    const sOn = sweep(on.ckks, on.log);
    const sOff = sweep(off.ckks, off.log);
    console.log('vfl-lr sweep, re-randomised:', JSON.stringify(sOn), ' not re-randomised:', JSON.stringify(sOff));
    expect(sOn.checked['host<-vfl-lr/Residual']).toBeGreaterThan(0);
    expect(sOn.checked['arbiter<-vfl-lr/HostGradient']).toBeGreaterThan(0);
    expect(sOn.checked['arbiter<-vfl-lr/GuestGradient']).toBeGreaterThan(0);
    expect(sOn.checked['guest<-vfl-lr/HostBasis']).toBeGreaterThan(0);
    expect(sOn.inSpan).toEqual({});
    // The sweep finds the leak when the defence is off (round 0 at least).
    expect(sOff.inSpan['host<-vfl-lr/Residual']).toBeGreaterThan(0);
  }, 240_000);

  it('scorecard: no ciphertext any party receives, in binning, training or the scorecard stage, lies in the span of what it sent', async () => {
    const guest = loadCsv(data('breast_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const host = loadCsv(data('breast_hetero_host.csv'), { idColumn: 'id' });
    const pair = await splitPair(guest, host, 'span-scorecard', 0.2);
    const run = await runScorecard(pair, { seed: 'span-scorecard', policy: 'partial' });
    // The scorecard's own key and the training's arbiter key use the same parameter set.
    expect(scorecardConfig('sweep').params).toBe(vflConfig('sweep').params);
    const ckks = await createCkks(scorecardConfig('sweep').params);
    // Two keys, two sweeps: the guest's key (binning and scorecard stages, in order) and the arbiter's
    // (training).
    const s = merged(sweep(ckks, run.log), sweep(ckks, run.training.transport.log));
    console.log('scorecard sweep:', JSON.stringify(s));
    const receivedTypes = Object.keys(s.checked);
    expect(receivedTypes.some((k) => k.startsWith('host<-scorecard/'))).toBe(true);
    expect(receivedTypes.some((k) => k.startsWith('guest<-scorecard/'))).toBe(true);
    expect(s.inSpan).toEqual({});
  }, 240_000);
});
