/**
 * Streaming. The packed product (protocols/he/packing.ts, used by vfl-lr-2p and the scorecard)
 * sums chunks as they arrive within a memory budget of diagonals; vfl-lr sends each round's basis,
 * residual and shares one part of the rows at a time (config.partRows; protocols/vfl-lr/shares.ts),
 * so no party holds a round's values for every row. Checked here: the streamed product, in any
 * chunk order and with every diagonal encoded per use, equals the one-shot product; a multi-part
 * vfl-lr run trains; parts out of order or disagreeing are refused.
 */
import { describe, expect, it } from 'vitest';
import { seededRng } from '../../engine/rng.ts';
import { createCkks, decryptorFor, encryptVector, generateKeys, importPublicKeys } from '../../protocols/he/ckks.ts';
import { PackedColumns } from '../../protocols/he/packing.ts';
import type { Envelope } from '../../protocols/message.ts';
import { MemoryTransport, type Party } from '../../protocols/transport.ts';
import { vflConfig, VflArbiter, VflGuest, VflHost } from '../../protocols/vfl-lr/protocol.ts';
import { shapeData } from '../helpers/shapes.ts';

describe('streamed packed product', () => {
  it('chunks added in reverse order with no diagonal kept (all encoded per use) give the one-shot product', async () => {
    const ckks = await createCkks('ckks-n8192-l1');
    const keys = generateKeys(ckks);
    const ev = importPublicKeys(ckks, keys.publicKey, keys.galoisKeys);
    const dec = decryptorFor(ckks, keys);
    const rng = seededRng('stream-product');
    const rows = 3 * ckks.slots - 100;
    const cols = Array.from({ length: 5 }, () => Float64Array.from({ length: rows }, () => rng.next() * 2 - 1));
    const v = Float64Array.from({ length: rows }, () => rng.next() * 2 - 1);
    const cts = [0, 1, 2].map((c) => encryptVector(ev, v.subarray(c * ckks.slots, Math.min(rows, (c + 1) * ckks.slots)), ckks.scale * ckks.operandScale));
    const kept = new PackedColumns(ev, cols, Math.sqrt(rows), ckks.operandScale);
    const oneShot = dec.decrypt(kept.transposeTimes(cts), cols.length);
    expect(kept.keptDiagonals).toBe(kept.width * 3);
    const none = new PackedColumns(ev, cols, Math.sqrt(rows), ckks.operandScale, 0);
    const sum = none.begin();
    for (const c of [2, 0, 1]) none.add(sum, c, cts[c]!);
    const streamed = dec.decrypt(none.finish(sum), cols.length);
    expect(none.keptDiagonals).toBe(0);
    const exact = cols.map((col) => col.reduce((s, x, i) => s + x * v[i]!, 0) / Math.sqrt(rows));
    exact.forEach((e, j) => {
      expect(Math.abs(streamed[j]! - e)).toBeLessThan(1e-5);
      expect(Math.abs(streamed[j]! - oneShot[j]!)).toBeLessThan(1e-5);
    });
    // A chunk twice, or a product finished short of a chunk: coded refusals.
    const twice = none.begin();
    none.add(twice, 0, cts[0]!);
    expect(() => none.add(twice, 0, cts[0]!)).toThrow(expect.objectContaining({ code: 'VFL_ROW_MISMATCH' }));
    expect(() => none.finish(twice)).toThrow(expect.objectContaining({ code: 'VFL_ROW_MISMATCH' }));
  }, 120_000);
});

/** A party whose outgoing envelopes pass through `edit` first. */
function tampered(p: Party, edit: (e: Envelope) => Envelope): Party {
  return {
    name: p.name,
    get done() {
      return p.done;
    },
    start: async () => (await p.start()).map(edit),
    receive: async (e) => (await p.receive(e)).map(edit),
    flush: () => (p.flush ? p.flush().map(edit) : []),
  };
}

async function roles(job: string) {
  // 4,500 training rows in parts of 2,048: three parts of each message a round.
  const d = shapeData('plain', 6000);
  // Run to convergence: a run cut short is refused at its end (VFL_NOT_CONVERGED) where that check is in.
  const config = vflConfig(job, { partRows: 2048 });
  const [cg, ch, ca] = await Promise.all([createCkks(config.params), createCkks(config.params), createCkks(config.params)]);
  return {
    guest: new VflGuest(cg, d.g.train, d.yTrain, config, seededRng(`${job}-g`)),
    host: new VflHost(ch, d.h.train, config),
    arbiter: new VflArbiter(ca, config, seededRng(`${job}-a`)),
  };
}

describe('vfl-lr basis and residual parts', () => {
  it('a run over three parts sends three parts of each per round, in order, and trains', async () => {
    const { guest, host, arbiter } = await roles('parts');
    const t = new MemoryTransport([arbiter, guest, host]);
    await t.run();
    expect(arbiter.done).toBe(true);
    expect(arbiter.converged).toBe(true);
    const r0 = t.log.filter((r) => r.round === 0);
    for (const type of ['HostBasis', 'Residual', 'ResidualShare', 'BeaverCorrection', 'HostColumns', 'GuestColumns']) expect(r0.filter((r) => r.type === type).map((r) => r.received.body.chunk)).toEqual([0, 1, 2]);
    // Each basis part holds every vector on that part's rows only: 5 residues × V × rows × 4 bytes.
    const vectors = r0.find((r) => r.type === 'BasisSize')!.received.body.vectors as number;
    expect(r0.filter((x) => x.type === 'HostBasis').map((r) => (r.received.body.basis as Uint8Array).length)).toEqual([2048, 2048, 4500 - 4096].map((rows) => 20 * vectors * rows));
  }, 180_000);

  it('the host refuses a residual part out of order (VFL_BAD_MESSAGE naming the chunk)', async () => {
    const { guest, host, arbiter } = await roles('parts-order');
    const g = tampered(guest, (e) => (e.type === 'Residual' ? { ...e, body: { ...e.body, chunk: 1 } } : e));
    await expect(new MemoryTransport([arbiter, g, host]).run()).rejects.toMatchObject({ code: 'VFL_BAD_MESSAGE', location: { field: 'chunk' } });
  }, 120_000);

  it('the guest refuses a later basis part whose windows differ from the first part of its round', async () => {
    const { guest, host, arbiter } = await roles('parts-windows');
    const h = tampered(host, (e) => (e.type === 'HostBasis' && e.body.chunk === 1 ? { ...e, body: { ...e.body, centres: (e.body.centres as number[]).map((c) => c + 0.5) } } : e));
    await expect(new MemoryTransport([arbiter, guest, h]).run()).rejects.toMatchObject({ code: 'VFL_BAD_MESSAGE' });
  }, 120_000);
});
