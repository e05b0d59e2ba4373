/**
 * KNOWN LIMITATION (documented, not fixed): a MALICIOUS host learns labels and guest values in `vfl-lr-2p`
 * (protocols/vfl-lr-2p/protocol.ts "Threat model", README "Two-party").
 *
 * The host holds no key and every ciphertext it receives is under the guest's (two-party-host.
 * test.ts), but it receives its own moves in plaintext (Update) and keeps its own weights, and
 * those are functions of the labels. A host that declares indicator "features" x_l = e_{i_l}
 * (1 at row i_l, 0 elsewhere; nothing the guest can see distinguishes them from real columns)
 * makes its gradient coordinate l the residual of row i_l, σ(z_i) − y_i, whose sign is −y_i's:
 *   (a) with honest messages: at convergence λw_l = −(σ(z_i) − y_i)/n, so the sign of each final
 *       platform weight is that row's label: p_H labels per job from the model itself;
 *   (b) deviating in one message (a HostSampleGram with a zero Gram and a zero cross block, so
 *       the guest's initial Hessian is λI on the host block): the FIRST Update is −α(p̄ − y_i)/λ
 *       per column, so its sign is each label after one round (and its two values give p̄).
 *   (c) the guest as decryption oracle: the host returns as "its gradient" a ciphertext of the
 *       guest's own (here a diagonal of its encrypted columns, GuestColumns, amplified 2^8 times
 *       by adding it to itself), with the crafted Gram of (b); the guest decrypts it and the first
 *       Update is −α·(its values)/λ: the guest's per-row feature values, calibrated by the
 *       intercept slot. The amplification puts the values far above what the guest adds whatever
 *       the host sends (its flood on release, ~1.5e-5, and its flooded cross block coupling its
 *       own gradient into the host's move): without it one read in five or so was off by 1e-2.
 * A defence must limit what the host's weights can say about single rows (the guest cannot see
 * the host's columns): e.g. differentially private steps, or a floor on the host's columns'
 * support proven to the guest. Not built; the three-party vfl-lr hands the host its own moves
 * too. This test asserts the MEASURED leak, it does not pretend the attack fails.
 */
import { describe, expect, it } from 'vitest';
import { alignTo } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { createCkks, deserialize, encryptVector, importPublicKeys, serialize, type Evaluation } from '../../protocols/he/ckks.ts';
import type { Envelope } from '../../protocols/message.ts';
import { MemoryTransport, type Party } from '../../protocols/transport.ts';
import { vflConfig } from '../../protocols/vfl-lr/config.ts';
import { trainTwoPartyInMemory, TwoPartyGuest, TwoPartyHost } from '../../protocols/vfl-lr-2p/protocol.ts';
import { cryptoRng } from '../../engine/rng.ts';
import { breastIndicatorAttack, fateData as data, zscore as z } from '../helpers/indicator-host.ts';

describe('a malicious host learns labels in two-party vertical LR (known limitation)', () => {
  it('indicator columns: labels from the signs of the final platform weights (honest messages) and of the first Update (crafted Gram)', async () => {
    const { y, targets, indicators, guestCols, hits, majority } = breastIndicatorAttack();
    const n = y.length;
    const q = targets.length;
    const config = vflConfig('attack-2p-indicator-host', { lambda: 0.05 });

    // (a) Honest messages, the platform's rotation on: only the declared columns are lies.
    const honest = await trainTwoPartyInMemory({ guest: guestCols, labels: y, host: indicators, config });
    const w = honest.host.weights;
    const finalHits = hits((l) => w[l]! > 0);

    // (b) One crafted message: HostSampleGram with a zero Gram and encryptions of zero as the cross
    // block (the host holds the guest's public key). The host block of the guest's initial
    // Hessian is then λI, isotropic, so the platform's own rotation (kept on) does not matter:
    // it reads its move in its own coordinates, Aᵀ·step, as an honest host does.
    const ckks = await createCkks(config.params);
    const real = new TwoPartyHost(ckks, indicators, config, cryptoRng);
    let ev: Evaluation | undefined;
    const updates: Float64Array[] = [];
    const host: Party = {
      name: 'host',
      get done() {
        return real.done;
      },
      start: () => real.start(),
      background: () => real.background(),
      receive(env: Envelope): Envelope[] {
        const b = env.body as Record<string, Uint8Array>;
        if (env.type === 'TwoPartySetup') ev = importPublicKeys(ckks, b.publicKey!, b.galoisKeys!);
        const replies = real.receive(env);
        if (env.type === 'Update') updates.push(Float64Array.from(real.weights)); // weights after the move, from 0
        return replies.map((out) => {
          if (out.type !== 'HostSampleGram') return out;
          const cross = (out.body.cross as Uint8Array[]).map(() => {
            const ct = encryptVector(ev!, new Float64Array(q));
            const bytes = serialize(ckks, ct);
            ct.delete();
            return bytes;
          });
          return { ...out, body: { gram: new Float64Array(q * q), cross } };
        });
      },
    };
    const cg = await createCkks(config.params);
    const guest = new TwoPartyGuest(cg, guestCols, y, config, cryptoRng);
    await new MemoryTransport([guest, host]).run();
    const first = updates[0]!;
    const firstHits = hits((l) => first[l]! > 0);
    const values = [...new Set(Array.from(first, (v) => v.toPrecision(3)))];

    console.log(
      `malicious host, ${q} indicator columns (breast, ${n} rows; majority guess ${majority}/${q}): ` +
        `honest messages, sign of its final weights: ${finalHits}/${q} labels (converged ${honest.guest.converged}, ${honest.guest.iterations} rounds); ` +
        `zero Gram sent, sign of the FIRST Update: ${firstHits}/${q} labels (its ${values.length} distinct values to 3 digits: ${values.slice(0, 4).join(', ')})`,
    );
    // The measured leak (known limitation).
    expect(finalHits).toBeGreaterThanOrEqual(q - 2);
    expect(firstHits).toBe(q);
  }, 600_000);

  it('the guest as decryption oracle: a host gradient replaced by the guest\'s own encrypted column diagonal returns the guest\'s per-row feature values in the first Update', async () => {
    const guestT = loadCsv(data('breast_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const hostT = alignTo(loadCsv(data('breast_hetero_host.csv'), { idColumn: 'id' }), guestT.ids);
    const y = guestT.label!;
    const xg = z(guestT.features);
    const xh = z(hostT.features); // the platform's real columns: only its messages deviate
    const p = xh.length;
    const config = vflConfig('attack-2p-oracle-host', { lambda: 0.05 });
    const ckks = await createCkks(config.params);
    const real = new TwoPartyHost(ckks, xh, config, cryptoRng);
    let ev: Evaluation | undefined;
    let diagonal: Uint8Array | undefined;
    let width = 0;
    const updates: Float64Array[] = [];
    // The query, 2^AMPLIFY times itself (public operations only): the guest's release adds the
    // same absolute noise whatever the values, and the intercept slot calibrates the factor away.
    const AMPLIFY = 8;
    const amplified = (bytes: Uint8Array): Uint8Array => {
      const ct = deserialize(ckks, bytes);
      for (let k = 0; k < AMPLIFY; k++) ckks.evaluator.add(ct, ct, ct);
      // SEAL's own serialisation: a malicious host skips the project's re-randomisation guard.
      const out = ct.saveArray(ckks.seal.ComprModeType.none);
      ct.delete();
      return out;
    };
    const host: Party = {
      name: 'host',
      get done() {
        return real.done;
      },
      start: () => real.start(),
      background: () => real.background(),
      receive(env: Envelope): Envelope[] {
        const b = env.body as Record<string, unknown>;
        if (env.type === 'TwoPartySetup') ev = importPublicKeys(ckks, b.publicKey as Uint8Array, b.galoisKeys as Uint8Array);
        if (env.type === 'GuestColumns') {
          const d = b.diagonals as Uint8Array[][];
          width = d.length;
          diagonal = d[0]![0]!; // slot s: guest column (s mod width) of row s, divided by √n
        }
        const replies = real.receive(env);
        if (env.type === 'Update') updates.push(Float64Array.from(env.body.step as Float64Array));
        return replies.map((out) => {
          if (out.type === 'HostSampleGram') {
            const cross = (out.body.cross as Uint8Array[]).map(() => {
              const ct = encryptVector(ev!, new Float64Array(p));
              const bytes = serialize(ckks, ct);
              ct.delete();
              return bytes;
            });
            return { ...out, body: { gram: new Float64Array(p * p), cross } };
          }
          if (out.type === 'TwoPartyGradient' && out.round === 0) return { ...out, body: { ...out.body, host: amplified(diagonal!) } };
          return out;
        });
      },
    };
    const cg = await createCkks(config.params);
    const guest = new TwoPartyGuest(cg, xg, y, config, cryptoRng);
    await new MemoryTransport([guest, host]).run();
    // The guest's initial Hessian has host block λI, so the first move is −α·g_H/λ in the host's
    // (rotated) coordinates, which the host received as its step: g_H,s ∝ x_G[s, s mod width].
    // Slot 0 is the intercept column (1 at row 0): it calibrates the unknown factor.
    const first = updates[0]!;
    const factor = first[0]!;
    const cols = [Float64Array.from({ length: y.length }, () => 1), ...xg];
    let err = 0;
    let read = 0;
    for (let s = 1; s < p; s++) {
      const j = s % width;
      if (j >= cols.length) continue;
      err = Math.max(err, Math.abs(first[s]! / factor - cols[j]![s]!));
      read++;
    }
    console.log(`malicious host, round 0: the guest's encrypted column diagonal as its "gradient": ${read} of the guest's per-row feature values read from the first Update to ${err.toExponential(1)} (standardised values; the query amplified 2^${AMPLIFY})`);
    expect(read).toBeGreaterThanOrEqual(10);
    expect(err).toBeLessThan(1e-2);
  }, 600_000);
});
