/**
 * Attack: have one part of a round answered twice under the same pads (a MALICIOUS bank).
 *
 * In vfl-lr's shared round the platform answers the bank's Residual for part c of round r with
 * f_H = Σ_v E_v·B′_v + c_H − β, where B′ (its basis pad) and β (its share pad) are fixed by (r, c)
 * (protocols/vfl-lr/shares.ts). One answer is uniform. Two answers to two coefficient vectors E, E′
 * for the same part are not: f_H − f′_H = Σ_v (E_v − E′_v)·B′_v, and the bank holds F = B − B′
 * from HostBasis. With E′ = E − δ for weights δ of its choosing, Σ δ·B = Σ δ·F + (f_H − f′_H): one
 * extra query with δ = R_j on window j's T_1 and c_j − c_last on its indicator gives, per row,
 * R_j·τ + c_j − c_last, so the platform's partial logit u_H = c_j + R_j·τ on every row of the part.
 *
 * Here on real protocol output (default_credit, 3,000 rows in three parts; a real VflHost replayed
 * from its real inbox to the bank's Residual for the first part of round 2): a host that answers
 * every Residual it is sent (two instances in the same state: what the host would do without its
 * per-part bookkeeping, or after a restart that forgot the first answer) gives the bank every
 * platform logit of the part (1,000 of 1,000 within 1e-4); the host as built refuses the second
 * Residual of a part with a coded error and sends nothing. The mirror attack (the platform sends
 * a HostBasis part twice with F and F′ and reads Σ C·(F − F′), the bank's coefficients) is refused
 * by the bank's part order (VflGuest.onBasis: part c only after c − 1, once).
 */
import { describe, expect, it } from 'vitest';
import { alignTo } from '../../engine/align.ts';
import { linearPredictor } from '../../engine/columns.ts';
import { loadCsv } from '../../engine/csv.ts';
import { IndomainError } from '../../engine/errors.ts';
import { seededRng } from '../../engine/rng.ts';
import { selectRows } from '../../engine/table.ts';
import { applyStandardizer, fitStandardizer } from '../../engine/standardize.ts';
import { createCkks } from '../../protocols/he/ckks.ts';
import type { Envelope } from '../../protocols/message.ts';
import { decodeFixed, encodeFixed, fromBytes, rowDot, sub, toBytes, add } from '../../protocols/mpc/rns.ts';
import type { DeliveryRecord } from '../../protocols/transport.ts';
import { sharedRoundConfig } from '../../protocols/vfl-lr/config.ts';
import { trainInMemory, vflConfig, VflHost } from '../../protocols/vfl-lr/protocol.ts';
import { BASIS_BITS, COEF_BITS, RESIDUAL_BITS } from '../../protocols/vfl-lr/shares.ts';
import { windowDegree } from '../../protocols/vfl-lr/windows.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
const ROUND = 2;
const ROWS = 3000;

async function run() {
  const all = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
  const g = selectRows(all, Array.from({ length: ROWS }, (_, i) => i));
  const h = alignTo(loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' }), g.ids);
  const std = (f: readonly Float64Array[]) => applyStandardizer(fitStandardizer([...f]), [...f]);
  const host = std(h.features);
  const config = vflConfig('attack-twice', { maxIterations: 4, refuseUnconverged: false, partRows: 1000 });
  const fed = await trainInMemory({ guest: std(g.features), labels: g.label!, host, config, rng: seededRng('twice-arbiter'), guestRng: seededRng('twice-guest') });
  return { log: fed.transport.log, host, config, rows: g.label!.length };
}

/** A fresh host fed its real inbox up to (not including) log entry `k`. */
async function hostBefore(o: Awaited<ReturnType<typeof run>>, k: number): Promise<VflHost> {
  const host = new VflHost(await createCkks(o.config.params), o.host, o.config);
  for (let i = 0; i < k; i++) {
    if (o.log[i]!.to !== 'host') continue;
    host.receive(o.log[i]!.received);
    host.flush();
  }
  return host;
}

/** The ResidualShare a host sends for `env`, if any (a coded refusal counts as none). */
function answer(host: VflHost, env: Envelope): { share?: Uint8Array; refused?: string } {
  try {
    const out = [...host.receive(env), ...host.flush()];
    const share = out.find((e) => e.type === 'ResidualShare')?.body.share as Uint8Array | undefined;
    return share ? { share } : {};
  } catch (e) {
    if (e instanceof IndomainError) return { refused: e.code };
    throw e;
  }
}

const at = (log: readonly DeliveryRecord[], type: string, to: string) => log.findIndex((r) => r.type === type && r.round === ROUND && r.to === to && r.received.body.chunk === 0);

describe('attack: a part of the round answered twice (malicious bank)', () => {
  it('the second Residual of a part is refused; answered, it gives the bank every platform logit', async () => {
    const o = await run();
    const { log, config, rows } = o;
    const k = at(log, 'Residual', 'host');
    const honest = log[k]!.received;
    const basis = log[at(log, 'HostBasis', 'guest')]!.received.body as Record<string, never>;
    // The bank's own view: the windows, the padded basis F, its own coefficients E as sent.
    const centres = basis.centres as number[];
    const halfWidths = basis.halfWidths as number[];
    const shared = { ...sharedRoundConfig(config), sigmoidTolerance: basis.sigmoidTolerance as number };
    const degrees = halfWidths.map((r) => windowDegree(r, shared));
    const vectors = degrees.reduce((s, d) => s + d + 1, 0) - 1;
    const len = Math.min(rows, config.partRows);
    const f = fromBytes(basis.basis, vectors * len, 'basis');
    const e = fromBytes(honest.body.coefficients as Uint8Array, vectors * len, 'coefficients');
    // δ: R_j on window j's T_1, c_j − c_last on its indicator (the last window has none).
    const last = centres.length - 1;
    const delta = new Float64Array(vectors * len);
    let v = 0;
    degrees.forEach((d, j) => {
      delta.fill(halfWidths[j]!, v * len, (v + 1) * len);
      v += d;
      if (j < last) delta.fill(centres[j]! - centres[last]!, v * len, (v++ + 1) * len);
    });
    const d = encodeFixed(delta, COEF_BITS, 'delta');
    const crafted: Envelope = { ...honest, body: { ...honest.body, coefficients: toBytes(sub(e, d)) } };

    // As built: the first Residual is answered, the second refused, nothing more sent.
    const built = await hostBefore(o, k);
    const first = answer(built, honest);
    expect(first.share).toBeDefined();
    const second = answer(built, crafted);
    expect(second.share).toBeUndefined();
    expect(second.refused).toBe('VFL_BAD_MESSAGE');

    // A host that answers every Residual (a second instance in the same state).
    const again = answer(await hostBefore(o, k), crafted);
    expect(again.share).toBeDefined();
    // Σ δ·B = Σ δ·F + (f_H − f′_H), at 2^(26+26); plus c_last: the platform's partial logit.
    const combined = add(rowDot(d, f, vectors, len), sub(fromBytes(first.share!, len, 'share'), fromBytes(again.share!, len, 'share')));
    const read = decodeFixed(combined, COEF_BITS + BASIS_BITS).map((x) => x + centres[last]!);
    expect(COEF_BITS + BASIS_BITS).toBe(RESIDUAL_BITS);

    // Scored against the platform's true partial logits at that round (which the bank does not have).
    const w = new Float64Array(o.host.length);
    for (const m of log.filter((x) => x.type === 'Update' && x.to === 'host' && x.round < ROUND)) (m.received.body.step as Float64Array).forEach((s, j) => (w[j] += s));
    const uH = linearPredictor(o.host, w, rows);
    let right = 0;
    for (let i = 0; i < len; i++) if (Math.abs(read[i]! - uH[i]!) < 1e-4) right++;
    console.log(`residual twice, round ${ROUND}: ${centres.length} windows, ${vectors} basis vectors; the bank reads ${right} of ${len} platform logits within 1e-4 from one extra answer; the host as built: ${second.refused}`);
    expect(right / len).toBeGreaterThan(0.99);
  }, 240_000);
});
