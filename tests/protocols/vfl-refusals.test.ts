/**
 * Refusals of federated training (protocols/vfl-lr/refusal.ts), in memory with real CKKS, in the
 * three-party vfl-lr and the two-party vfl-lr-2p: a bank column that separates the labels
 * (VFL_SEPARATION, before any message), a run that stops without converging (VFL_NOT_CONVERGED
 * at each party, naming its own features), and the limit: a platform column that encodes the
 * label is not detected (measured and asserted, so a change in it is seen).
 */
import { describe, expect, it } from 'vitest';
import { seededRng } from '../../engine/rng.ts';
import { fitLogisticChecked } from '../../models/logistic.ts';
import { createCkks } from '../../protocols/he/ckks.ts';
import { MemoryTransport, type Party } from '../../protocols/transport.ts';
import { trainInMemory, vflConfig, VflArbiter, VflGuest, VflHost } from '../../protocols/vfl-lr/protocol.ts';
import { trainTwoPartyInMemory } from '../../protocols/vfl-lr-2p/protocol.ts';
import { shapeData } from '../helpers/shapes.ts';

const GUEST_NAMES = ['g0', 'g1', 'g2', 'g3', 'g4'];
const HOST_NAMES = ['h0', 'h1', 'h2', 'h3', 'h4'];

/** A column that encodes the label (a leak), |value| in [0.5, 1.5). */
function leakOf(y: Uint8Array, seed: string): Float64Array {
  const r = seededRng(seed);
  return Float64Array.from(y, (v) => (v ? 1 : -1) * (0.5 + r.next()));
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as { code: string; message: string },
  );

describe('federated refusals', () => {
  it('a bank column that encodes the label: both protocols refuse with VFL_SEPARATION naming it, before any message', async () => {
    const d = shapeData('plain', 3000, 'refusals');
    const guest = [...d.g.train, leakOf(d.yTrain, 'leak-g')];
    const names = [...GUEST_NAMES, 'leak'];
    expect(() => fitLogisticChecked([...guest, ...d.h.train], d.yTrain, [...names, ...HOST_NAMES])).toThrow(expect.objectContaining({ code: 'VFL_SEPARATION' }));
    const three = await trainInMemory({ guest, labels: d.yTrain, host: d.h.train, config: vflConfig('sep-3p'), rng: seededRng('sep-3p'), guestNames: names, hostNames: HOST_NAMES }).catch((e: unknown) => e);
    expect(three).toMatchObject({ code: 'VFL_SEPARATION', message: expect.stringMatching(/guest's own columns separate.*leak/) });
    const two = await failure(trainTwoPartyInMemory({ guest, labels: d.yTrain, host: d.h.train, config: vflConfig('sep-2p'), guestNames: names, hostNames: HOST_NAMES }));
    expect(two).toMatchObject({ code: 'VFL_SEPARATION', message: expect.stringMatching(/leak/) });
    console.log(`bank leak: ${(three as Error).message}`);
  }, 120_000);

  it('a run cut at its round limit: VFL_NOT_CONVERGED at each party, naming its own features only (both protocols); refuseUnconverged false keeps the model', async () => {
    const d = shapeData('special-codes', 3000, 'refusals');
    // Each party's own error, as its node records it.
    const config = vflConfig('nc-parties', { maxIterations: 2 });
    const [cg, ch, ca] = await Promise.all([createCkks(config.params), createCkks(config.params), createCkks(config.params)]);
    const errors: Record<string, { code: string; message: string }> = {};
    const catching = (p: Party): Party => {
      const receive = p.receive.bind(p);
      p.receive = (env) => {
        try {
          return receive(env);
        } catch (e) {
          errors[p.name] = e as { code: string; message: string };
          return [];
        }
      };
      return p;
    };
    const guest = catching(new VflGuest(cg, d.g.train, d.yTrain, config, seededRng('g'), true, GUEST_NAMES));
    const host = catching(new VflHost(ch, d.h.train, config, seededRng('h'), HOST_NAMES));
    await new MemoryTransport([new VflArbiter(ca, config, seededRng('a')), guest, host]).run();
    console.log(`three-party, 2 rounds: guest "${errors.guest?.message}"; host "${errors.host?.message}"`);
    expect(errors.guest).toMatchObject({ code: 'VFL_NOT_CONVERGED', message: expect.stringMatching(/after 2 iterations; cap, bin or drop .*g\d/) });
    expect(errors.host).toMatchObject({ code: 'VFL_NOT_CONVERGED', message: expect.stringMatching(/after 2 iterations; cap, bin or drop .*h\d/) });
    expect(errors.guest!.message).not.toMatch(/h\d/);
    expect(errors.host!.message).not.toMatch(/g\d/);

    const two = await failure(trainTwoPartyInMemory({ guest: d.g.train, labels: d.yTrain, host: d.h.train, config: vflConfig('nc-2p', { maxIterations: 2 }), guestNames: GUEST_NAMES, hostNames: HOST_NAMES }));
    expect(two).toMatchObject({ code: 'VFL_NOT_CONVERGED', message: expect.stringMatching(/cap, bin or drop .*g\d/) });
    const kept = await trainInMemory({ guest: d.g.train, labels: d.yTrain, host: d.h.train, config: vflConfig('nc-kept', { maxIterations: 2, refuseUnconverged: false }), rng: seededRng('nc') });
    expect(kept.arbiter.converged).toBe(false);
  }, 300_000);

  it('the limit: a platform column that encodes the label is not refused (the fit converges, every training row on its side)', async () => {
    const d = shapeData('plain', 3000, 'refusals');
    const host = [...d.h.train, leakOf(d.yTrain, 'leak-h')];
    expect(() => fitLogisticChecked([...d.g.train, ...host], d.yTrain)).toThrow(expect.objectContaining({ code: 'VFL_SEPARATION' }));
    const fed = await trainInMemory({ guest: d.g.train, labels: d.yTrain, host, config: vflConfig('sep-host'), rng: seededRng('sep-host') });
    expect(fed.arbiter.converged).toBe(true);
  }, 300_000);
});
