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
import { createCkks, type Ckks } from '../../protocols/he/ckks.ts';
import { MemoryTransport, type DeliveryRecord } from '../../protocols/transport.ts';
import { vflConfig, VflArbiter, VflGuest, VflHost } from '../../protocols/vfl-lr/protocol.ts';
import { splitPair } from '../../benchmarks/pair.ts';
import { runScorecard } from '../../benchmarks/scorecard.ts';
import { scorecardConfig } from '../../protocols/scorecard/protocol.ts';
import { attackResidual as attackChunks, sweep, type LabelAttack, type SweepResult } from '../helpers/ckks-span.ts';

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

/**
 * The platform's attack on one training run: the basis ciphertexts it sent in round 0 and the
 * residual it received, handed to tests/helpers/ckks-span.ts attackResidual (strip what lies in
 * their span, decrypt under a key of its own making, split into two clusters).
 */
function attackResidual(ckks: Ckks, log: readonly DeliveryRecord[], labels: Uint8Array): LabelAttack {
  const basis = log.find((r) => r.type === 'HostBasis' && r.round === 0)!.received.body.basis as Uint8Array[][];
  const chunks = log.find((r) => r.type === 'Residual' && r.round === 0)!.received.body.chunks as Uint8Array[];
  return attackChunks(ckks, basis, chunks, labels);
}

async function trainVfl(rerandomise: boolean, rows: number) {
  const guestAll = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
  const hostAll = loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' });
  const ids = guestAll.ids.slice(0, rows);
  const g = selectRows(guestAll, Array.from({ length: rows }, (_, i) => i));
  const h = alignTo(hostAll, ids);
  const config = vflConfig(`attack-span-${rerandomise ? 'on' : 'off'}`, { maxIterations: 4, hessianGradient: 0.03, refuseUnconverged: false });
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
    // The one weighted Hessian's messages went through the sweep too: their padded words and
    // shares are no SEAL ciphertext, so nothing of them can lie in a span (vfl.test.ts checks
    // that the pads look uniform).
    for (const t of ['HostHessianPadded', 'GuestHessianPadded', 'GuestHessianShare', 'HostHessianShare']) expect(on.log.some((r) => r.type === t)).toBe(true);
    // The sweep finds the leak when the defence is off (round 0 at least).
    expect(sOff.inSpan['host<-vfl-lr/Residual']).toBeGreaterThan(0);
  }, 240_000);

  it('scorecard: no ciphertext any party receives, in binning, training or the scorecard stage, lies in the span of what it sent', async () => {
    const guest = loadCsv(data('breast_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const host = loadCsv(data('breast_hetero_host.csv'), { idColumn: 'id' });
    const pair = await splitPair(guest, host, 'span-scorecard', 0.2);
    const run = await runScorecard(pair, { seed: 'span-scorecard', policy: 'partial', training: { maxIterations: 30, refuseUnconverged: false } }); // breast does not converge (60 rounds either); the spans are under test
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
