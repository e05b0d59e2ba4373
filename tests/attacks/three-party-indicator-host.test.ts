/**
 * KNOWN LIMITATION (documented, not fixed): a MALICIOUS host learns labels in THREE-party `vfl-lr`
 * too (protocols/vfl-lr/protocol.ts "Threat model", docs/THREAT-MODEL.md, README).
 *
 * The two-party review found it for `vfl-lr-2p` (two-party-indicator-host.test.ts); the cause is
 * not the missing arbiter but that the platform receives its own moves (Update) and keeps its own
 * weights in plaintext, and those are functions of the labels. The three-party arbiter sends the
 * host its block of every move exactly as the two-party guest does. A host that declares
 * indicator "features" x_l = e_{i_l} (1 at row i_l, 0 elsewhere; neither the guest nor the
 * arbiter sees a column, only sums) makes its gradient coordinate l the residual of row i_l,
 * (σ(z_i) − y_i)/n, whose sign is −y_i's whatever z_i is:
 *   (a) honest messages: at the optimum λw_l = −g_l ∝ y_i − σ(z_i), so the sign of each final
 *       platform weight is that row's label;
 *   (b) one crafted message (a HostInit with a zero Gram, so the arbiter's initial Hessian has
 *       host block λI): in two-party, where the host can also zero the cross block, the sign of
 *       the FIRST move gives every label after one round; here the cross block stays (the host's
 *       share only cancels the guest's mask) and mixes the guest's gradient into the first move
 *       (measured 32 of 40); the final weights still give all 40.
 * p_H labels per job, p_H the host's own choice. This test asserts the MEASURED leak; it does not
 * pretend the attack fails (no defence is built: see the protocol header for what one needs).
 */
import { describe, expect, it } from 'vitest';
import { alignTo } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { selectRows } from '../../engine/table.ts';
import { fitLogistic, predictLogistic } from '../../models/logistic.ts';
import { auc } from '../../models/metrics.ts';
import { seededRng } from '../../engine/rng.ts';
import { createCkks } from '../../protocols/he/ckks.ts';
import type { Envelope } from '../../protocols/message.ts';
import { MemoryTransport, type Party } from '../../protocols/transport.ts';
import { trainInMemory, VflArbiter, VflGuest, VflHost, vflConfig } from '../../protocols/vfl-lr/protocol.ts';
import { breastIndicatorAttack, fateData as data, indicatorAttack, zscore as z } from '../helpers/indicator-host.ts';

describe('a malicious host learns labels in three-party vertical LR (known limitation)', () => {
  it('z-scored indicator columns: labels from the signs of the final platform weights (honest messages) and of the first Update (zero Gram)', async () => {
    const { y, targets, indicators, guestCols, hits, majority } = breastIndicatorAttack();
    const n = y.length;
    const q = targets.length;
    const config = vflConfig('attack-3p-indicator-host', { lambda: 0.05 });

    // (a) Honest messages; only the declared columns are lies. The indicators are z-scored
    // ((e_i − 1/n)/sd: mean 0, variance 1, as an honest platform's columns are), so a rule on the
    // Gram diagonal or on column moments that the platform reports would pass them. (Raw 0/1
    // indicators cannot even be sent here: their packed diagonals are all zero and SEAL refuses
    // the transparent product, see the report; the z-scored ones are what a careful attacker uses.)
    const cols = z(indicators);
    const honest = await trainInMemory({ guest: guestCols, labels: y, host: cols, config, rng: seededRng('3p-indicator-arbiter') });
    const w = honest.host.weights;
    const finalHits = hits((l) => w[l]! > 0);

    // (b) One crafted message: HostInit with a zero Gram (its cross-Gram share stays honest, so
    // the shares still sum to the true cross block). The first Update's signs are the labels.
    const [cg, ch, ca] = await Promise.all([createCkks(config.params), createCkks(config.params), createCkks(config.params)]);
    const real = new VflHost(ch, cols, config);
    const moves: Float64Array[] = [];
    const host: Party = {
      name: 'host',
      get done() {
        return real.done;
      },
      start: () => real.start(),
      // The host adds each residual part to its shares and sends its gradient in flush.
      flush: () => real.flush(),
      receive(env: Envelope): Envelope[] {
        if (env.type === 'Update') moves.push(Float64Array.from(env.body.step as Float64Array));
        return real.receive(env).map((out) => (out.type === 'HostInit' ? { ...out, body: { ...out.body, gram: new Float64Array(q * q) } } : out));
      },
    };
    const guest = new VflGuest(cg, guestCols, y, config, seededRng('3p-guest'));
    const arbiter = new VflArbiter(ca, config, seededRng('3p-arbiter'));
    await new MemoryTransport([arbiter, guest, host]).run();
    const first = moves[0]!;
    const firstHits = hits((l) => first[l]! > 0);
    const crafted = real.weights;
    const craftedFinalHits = hits((l) => crafted[l]! > 0);

    console.log(
      `three-party, malicious host with ${q} z-scored indicator columns (breast, ${n} rows; majority guess ${majority}/${q}): ` +
        `honest messages, sign of its final weights: ${finalHits}/${q} labels (converged ${honest.arbiter.converged}, ${honest.arbiter.iterations} rounds); ` +
        `zero Gram in HostInit, sign of the FIRST Update: ${firstHits}/${q} (final weights ${craftedFinalHits}/${q}, ${arbiter.iterations} rounds)`,
    );
    // The measured leak (known limitation): the final weights give every label, as in two-party,
    // with honest messages and with the crafted Gram alike. The first move alone is weaker here
    // (measured 32/40): unlike the two-party host, this host cannot zero the cross block (its
    // share only cancels the guest's mask), so the guest's gradient leaks into its block of the
    // first step. It is printed, not asserted: the final weights are the limit.
    expect(finalHits).toBeGreaterThanOrEqual(q - 2);
    expect(craftedFinalHits).toBeGreaterThanOrEqual(q - 2);
    expect(majority).toBeLessThan(q - 2); // the leak is not the majority guess
  }, 600_000);

  it('default_credit, default λ: the platform adds 40 z-scored indicator columns to its 10 real ones; it reads the 40 labels while its model on the real columns matches the honest fit', async () => {
    const n = 6000;
    const guestT = selectRows(loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' }), Array.from({ length: n }, (_, i) => i));
    const hostT = alignTo(loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' }), guestT.ids);
    const y = guestT.label!;
    const q = 40;
    const { indicators, hits, majority } = indicatorAttack(y, Array.from({ length: q }, (_, l) => 5 + 97 * l));
    const extra = z(indicators);
    const xg = z(guestT.features);
    const xh = z(hostT.features);
    const config = vflConfig('attack-3p-indicator-host-dc'); // the default λ = 1e-4
    const run = await trainInMemory({ guest: xg, labels: y, host: [...xh, ...extra], config, rng: seededRng('3p-indicator-dc') });
    const w = run.host.weights;
    const read = hits((l) => w[xh.length + l]! > 0);
    // What the bank can check: the joint model on the real columns against the honest fit.
    const honest = fitLogistic([...xg, ...xh], y, { optimizer: 'newton', tolerance: 1e-10, lambda: config.lambda });
    const shown = { intercept: run.guest.weights[0]!, weights: Float64Array.from([...run.guest.weights.subarray(1), ...w.subarray(0, xh.length)]) };
    const x = [...xg, ...xh];
    const aucShown = auc(predictLogistic(shown, x), y);
    const aucHonest = auc(predictLogistic(honest, x), y);
    console.log(`three-party, default_credit (${n} rows, λ ${config.lambda}): platform with 10 real + ${q} indicator columns reads ${read}/${q} labels (majority guess ${majority}); converged ${run.arbiter.converged} in ${run.arbiter.iterations} rounds; training AUC of the model on the real columns ${aucShown.toFixed(4)} vs honest ${aucHonest.toFixed(4)}`);
    expect(run.arbiter.converged).toBe(true);
    expect(read).toBeGreaterThanOrEqual(q - 2);
    expect(majority).toBeLessThan(q - 2);
    expect(Math.abs(aucShown - aucHonest)).toBeLessThan(0.002); // nothing in the model gives it away
  }, 600_000);
});
