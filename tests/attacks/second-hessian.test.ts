/**
 * Attack: a MALICIOUS arbiter asks for the weighted Hessian more than once.
 *
 * RoundStart declares that the arbiter learns one weighted Hessian XᵀWX of the sample rows per run
 * ("once, when the gradient first falls below config.hessianGradient"), at one point. The flag is
 * the arbiter's to set, and it also sets both parties' weights (Update): a party that computes its
 * side whenever the flag is on gives the arbiter Σ_i σ′(z_i)·x_i x_iᵀ at every point it steers
 * the run to, one d × d matrix of row-weighted second moments per round, far more than declared
 * (with weights pushed along a direction, σ′ singles out the rows near a hyperplane).
 *
 * Here on real protocol output (breast; the run's one Hessian in round 1): the arbiter sets the
 * flag again in round 3. A host and a bank that do not remember the first Hessian (replayed from
 * their real inboxes with round 1's flag off: the same state otherwise) hand over their sides, and
 * the arbiter, with the seeds it dealt, assembles XᵀWX/m at round 3's point: it matches the
 * plaintext Σσ′(z)xxᵀ/m there (within 1.6e-4, entries up to 0.06; 7.8e-2 away from round 1's).
 * The host as built refuses the second request with a coded error, and the bank a second flag.
 */
import { describe, expect, it } from 'vitest';
import { alignTo } from '../../engine/align.ts';
import { linearPredictor, ones } from '../../engine/columns.ts';
import { loadCsv } from '../../engine/csv.ts';
import { IndomainError } from '../../engine/errors.ts';
import { seededRng } from '../../engine/rng.ts';
import { applyStandardizer, fitStandardizer } from '../../engine/standardize.ts';
import { createCkks } from '../../protocols/he/ckks.ts';
import type { Envelope } from '../../protocols/message.ts';
import { assembleHessian, type HessianShares } from '../../protocols/vfl-lr/hessian.ts';
import { trainInMemory, vflConfig, VflGuest, VflHost } from '../../protocols/vfl-lr/protocol.ts';
import { sigmoid } from '../../models/logistic.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
const FIRST = 1;
const SECOND = 3;

async function run() {
  const g = loadCsv(data('breast_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
  const h = alignTo(loadCsv(data('breast_hetero_host.csv'), { idColumn: 'id' }), g.ids);
  const std = (f: readonly Float64Array[]) => applyStandardizer(fitStandardizer([...f]), [...f]);
  const guest = std(g.features);
  const host = std(h.features);
  // hessianGradient near 1: the run's one Hessian comes in round 1.
  const config = vflConfig('attack-hessian', { maxIterations: 5, refuseUnconverged: false, hessianGradient: 0.99 });
  const fed = await trainInMemory({ guest, labels: g.label!, host, config, rng: seededRng('hessian-arbiter'), guestRng: seededRng('hessian-guest') });
  return { log: fed.transport.log, guest, host, labels: g.label!, config };
}

type Run = Awaited<ReturnType<typeof run>>;

/**
 * A party fed its real inbox up to the arbiter's request of round SECOND. `forget`: round FIRST's
 * Hessian flag read as off and its Hessian messages left out (a party that keeps no record of it).
 */
function replay(o: Run, party: VflHost | VflGuest, forget: boolean): void {
  for (const r of o.log) {
    if (r.to !== party.name) continue;
    if (r.round >= SECOND && (r.type === 'RoundStart' || r.type === 'HostBasis')) break;
    let env = r.received;
    if (forget && r.round === FIRST) {
      if (r.type === 'HostHessianPadded' || r.type === 'GuestHessianPadded') continue;
      if (r.type === 'RoundStart' || r.type === 'HostBasis') env = { ...env, body: { ...env.body, hessian: false } };
    }
    party.receive(env);
    party.flush();
  }
}

const out = (p: VflHost | VflGuest, env: Envelope) => [...p.receive(env), ...p.flush()];
const one = (envs: Envelope[], type: string) => envs.find((e) => e.type === type)!;

describe('attack: a second weighted Hessian (malicious arbiter)', () => {
  it('the host refuses a second Hessian request; parties that comply give the arbiter XᵀWX at its new point', async () => {
    const o = await run();
    const { log, config } = o;
    expect(log.some((r) => r.type === 'HostHessianShare' && r.round === FIRST)).toBe(true);
    const request = log.find((r) => r.type === 'RoundStart' && r.round === SECOND)!.received;
    const asked = { ...request, body: { ...request.body, hessian: true } };

    // As built: the host remembers round 1's Hessian and refuses.
    const built = new VflHost(await createCkks(config.params), o.host, config);
    replay(o, built, false);
    let refused = '';
    try {
      out(built, asked);
    } catch (e) {
      if (!(e instanceof IndomainError)) throw e;
      refused = e.code;
    }
    expect(refused).toBe('VFL_BAD_MESSAGE');

    // Parties that do not: the exchange of round 3 runs as in the Hessian round.
    const host = new VflHost(await createCkks(config.params), o.host, config);
    const guest = new VflGuest(await createCkks(config.params), o.guest, o.labels, config, seededRng('hessian-guest'));
    replay(o, host, true);
    replay(o, guest, true);
    const fromHost = out(host, asked);
    const toArbiter: Envelope[] = [];
    const fromGuest: Envelope[] = [];
    for (const e of fromHost) if (e.type === 'HostBasis') fromGuest.push(...out(guest, e));
    // Residual parts and corrections are not needed for the Hessian; the padded sides cross.
    const hostSide = one(fromHost, 'HostHessianPadded');
    // The bank as built refuses the flag too (a host that forwards it).
    const bank = new VflGuest(await createCkks(config.params), o.guest, o.labels, config, seededRng('hessian-guest'));
    replay(o, bank, false);
    expect(() => out(bank, one(fromHost, 'HostBasis'))).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE' }));
    const guestSide = one(fromGuest, 'GuestHessianPadded');
    toArbiter.push(...out(guest, hostSide), ...out(host, guestSide));
    const g = one(toArbiter, 'GuestHessianShare').body as unknown as HessianShares;
    const h = one(toArbiter, 'HostHessianShare').body as unknown as HessianShares;

    // The arbiter's seeds are the ones it dealt in HeSetup.
    const seed = (to: string) => (log.find((r) => r.type === 'HeSetup' && r.to === to)!.received.body.tripleSeed as Uint8Array);
    const dg = o.guest.length + 1;
    const dh = o.host.length;
    const d = dg + dh;
    const m = Math.min(o.labels.length, config.hessianSampleRows);
    const read = assembleHessian(seed('guest'), seed('host'), SECOND, g, h, dg, dh, m, new Float64Array(d * d));

    // The truth at round 3's point (weights from the moves the arbiter sent: it knows them), and
    // at round 1's, to show the second read is a new matrix, not the first one again.
    const rate = o.labels.reduce((s, y) => s + y, 0) / o.labels.length;
    const xs = [ones(o.labels.length), ...o.guest, ...o.host];
    const truth = (round: number) => {
      const w = Float64Array.from({ length: d }, (_, j) => (j === 0 ? Math.log(rate / (1 - rate)) : 0));
      for (const r of log.filter((x) => x.type === 'Update' && x.round < round)) (r.received.body.step as Float64Array).forEach((s, j) => (w[(r.to === 'guest' ? 0 : dg) + j] += s));
      const z = linearPredictor(xs, w, o.labels.length);
      const t = new Float64Array(d * d);
      for (let a = 0; a < d; a++) {
        for (let b = 0; b < d; b++) {
          for (let i = 0; i < m; i++) {
            const s = sigmoid(z[i]!);
            t[a * d + b] += (s * (1 - s) * xs[a]![i]! * xs[b]![i]!) / m;
          }
        }
      }
      return t;
    };
    const dist = (x: Float64Array, y: Float64Array) => x.reduce((s, v, i) => Math.max(s, Math.abs(v - y[i]!)), 0);
    const now = truth(SECOND);
    const scale = now.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
    const error = dist(read, now);
    const moved = dist(truth(FIRST), now);
    console.log(
      `second Hessian, round ${SECOND}: the arbiter reads XᵀWX/m (${d} × ${d}, largest entry ${scale.toFixed(4)}) within ${error.toExponential(2)}; ` +
        `it moved ${moved.toExponential(2)} since round ${FIRST}'s; the host as built: ${refused}`,
    );
    expect(error).toBeLessThan(0.01 * scale);
    expect(moved).toBeGreaterThan(10 * error);
  }, 240_000);
});
