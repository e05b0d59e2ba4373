/**
 * Attack: add the other party's residual share to your own (issue 14's shared round, and the
 * critical label-recovery issue it must not reopen).
 *
 * In vfl-lr's round the per-row residual r = σ̂(z) − y (at 2^52 in Z_M) is split between the bank
 * and the platform: r = r_G + r_H. Each party sends the other its share under a one-time pad from a
 * seed only it and the arbiter hold (Residual.share = r_G − α, ResidualShare.share = r_H − β). The
 * platform holds r_H; if it could add r_G it would read r_i < 0 ⇔ y_i = 1, every label. The bank
 * holds r_G and y; if it could add r_H it would read σ̂(z_i), hence z_i and the platform's partial
 * logit z_i − u_G,i for every row.
 *
 * Both attacks run here, as each party would, from its own view of a real run (default_credit,
 * 3,000 rows, the seeds it was given in HeSetup, the messages it received): with the pads on they
 * must read nothing better than chance, with a pad switched off they must read everything.
 */
import { describe, expect, it } from 'vitest';
import { alignTo } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { linearPredictor, ones } from '../../engine/columns.ts';
import { seededRng } from '../../engine/rng.ts';
import { applyStandardizer, fitStandardizer } from '../../engine/standardize.ts';
import { selectRows } from '../../engine/table.ts';
import { add, decodeFixed, fromBytes, rowDot, uniform } from '../../protocols/mpc/rns.ts';
import type { DeliveryRecord } from '../../protocols/transport.ts';
import { trainInMemory, vflConfig } from '../../protocols/vfl-lr/protocol.ts';
import { pad, partRange, RESIDUAL_BITS, ringSeed } from '../../protocols/vfl-lr/shares.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
const ROWS = 3000;

async function run(padShares: { guest: boolean; host: boolean }) {
  const guestAll = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
  const hostAll = loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' });
  const g = selectRows(guestAll, Array.from({ length: ROWS }, (_, i) => i));
  const h = alignTo(hostAll, g.ids);
  const std = (f: readonly Float64Array[]) => applyStandardizer(fitStandardizer([...f]), [...f]);
  const guest = std(g.features);
  const host = std(h.features);
  const config = vflConfig('attack-shares', { maxIterations: 4, refuseUnconverged: false });
  const fed = await trainInMemory({ guest, labels: g.label!, host, config, rng: seededRng('shares-arbiter'), guestRng: seededRng('shares-guest'), padShares });
  return { log: fed.transport.log, labels: g.label!, guest, host, partRows: config.partRows };
}

const find = (log: readonly DeliveryRecord[], type: string, round: number, to: string) =>
  log.filter((r) => r.type === type && r.round === round && r.to === to).map((r) => r.received.body as Record<string, never>);

/** The platform's attack, round `round`, part 0: r = f_G + r_H with r_H rebuilt from its own view. */
function platformReadsLabels(log: readonly DeliveryRecord[], labels: Uint8Array, round: number, partRows: number): number {
  const seed = ringSeed(find(log, 'HeSetup', 0, 'host')[0]!.tripleSeed);
  const [lo, hi] = partRange(0, labels.length, partRows);
  const len = hi - lo;
  const vectors = find(log, 'BasisSize', round, 'arbiter')[0]!.vectors as number;
  const residual = find(log, 'Residual', round, 'host').find((b) => b.chunk === 0)!;
  const correction = find(log, 'BeaverCorrection', round, 'host').find((b) => b.chunk === 0)!;
  const e = fromBytes(residual.coefficients, vectors * len, 'coefficients');
  const rH = add(rowDot(e, uniform(seed, pad.basis(round, 0), vectors * len), vectors, len), fromBytes(correction.correction, len, 'correction'));
  const r = decodeFixed(add(rH, fromBytes(residual.share, len, 'share')), RESIDUAL_BITS);
  let right = 0;
  for (let i = 0; i < len; i++) if ((r[i]! < 0 ? 1 : 0) === labels[lo + i]) right++;
  return right / len;
}

/**
 * The bank's attack, round `round`, part 0: r = r_G + f_H, r_G = its own sent share plus its pad α;
 * σ̂ = r + y, z = logit σ̂, the platform's partial logit z − u_G. Returns the share of rows (with σ̂
 * away from 0 and 1, where the logit is defined to that precision) read within 0.01 of the truth.
 */
function bankReadsPlatformLogits(o: Awaited<ReturnType<typeof run>>, round: number): number {
  const { log, labels, guest, host, partRows } = o;
  const seed = ringSeed(find(log, 'HeSetup', 0, 'guest')[0]!.tripleSeed);
  const [lo, hi] = partRange(0, labels.length, partRows);
  const len = hi - lo;
  const sent = find(log, 'Residual', round, 'host').find((b) => b.chunk === 0)!;
  const rG = add(fromBytes(sent.share, len, 'share'), uniform(seed, pad.alpha(round, 0), len));
  const got = find(log, 'ResidualShare', round, 'guest').find((b) => b.chunk === 0)!;
  const r = decodeFixed(add(rG, fromBytes(got.share, len, 'share')), RESIDUAL_BITS);
  // Both parties' weights at that round, from the moves the arbiter sent (what the bank would not
  // know of the platform's: used only to score the attack).
  const weightsAt = (to: string, start: Float64Array) => {
    const w = Float64Array.from(start);
    for (const m of log.filter((x) => x.type === 'Update' && x.to === to && x.round < round)) (m.received.body.step as Float64Array).forEach((s, j) => (w[j] += s));
    return w;
  };
  const rate = labels.reduce((s, y) => s + y, 0) / labels.length;
  const wg = weightsAt('guest', Float64Array.from({ length: guest.length + 1 }, (_, j) => (j === 0 ? Math.log(rate / (1 - rate)) : 0)));
  const wh = weightsAt('host', new Float64Array(host.length));
  const uG = linearPredictor([ones(labels.length), ...guest], wg, labels.length);
  const uH = linearPredictor(host, wh, labels.length);
  let usable = 0;
  let right = 0;
  for (let i = 0; i < len; i++) {
    const s = r[i]! + labels[lo + i]!;
    if (!(s > 0.1 && s < 0.9)) continue;
    usable++;
    if (Math.abs(Math.log(s / (1 - s)) - uG[lo + i]! - uH[lo + i]!) < 0.05) right++;
  }
  return usable === 0 ? 0 : right / usable;
}

describe('attack: residual shares (a party adds the other\'s share to its own)', () => {
  it('padded shares: the platform reads no label and the bank no platform logit; unpadded: every one', async () => {
    const on = await run({ guest: true, host: true });
    const guestOff = await run({ guest: false, host: true });
    const hostOff = await run({ guest: true, host: false });
    const events = on.labels.slice(0, on.partRows).reduce((s, y) => s + y, 0);
    const rows = Math.min(ROWS, on.partRows);
    const majority = Math.max(events, rows - events) / rows;
    const round = 2;
    const labelsOn = platformReadsLabels(on.log, on.labels, round, on.partRows);
    const labelsOff = platformReadsLabels(guestOff.log, guestOff.labels, round, guestOff.partRows);
    const logitsOn = bankReadsPlatformLogits(on, round);
    const logitsOff = bankReadsPlatformLogits(hostOff, round);
    console.log(
      `residual shares, round ${round}, ${rows} rows: platform reads labels ${(100 * labelsOn).toFixed(1)}% right with the bank's pad, ${(100 * labelsOff).toFixed(1)}% without (majority ${(100 * majority).toFixed(1)}%); ` +
        `bank reads platform logits within 0.05 for ${(100 * logitsOn).toFixed(1)}% of rows with the platform's pad, ${(100 * logitsOff).toFixed(1)}% without`,
    );
    // Pads on: a uniform value in Z_M decodes to noise; its sign is a coin toss, its logit nowhere near.
    expect(labelsOn).toBeLessThan(Math.max(0.6, majority + 0.05));
    expect(logitsOn).toBeLessThan(0.05);
    // Pads off: the same attacks read everything (the labels but for rows whose σ̂ the round's
    // sigmoid tolerance leaves within it of 0 or 1, where r sits at 0 either way: 99.3% measured).
    expect(labelsOff).toBeGreaterThan(0.98);
    expect(logitsOff).toBeGreaterThan(0.99);
  }, 240_000);
});
