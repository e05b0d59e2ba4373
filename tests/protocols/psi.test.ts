import { afterAll, describe, expect, it } from 'vitest';
import { cryptoRng, seededRng } from '../../engine/rng.ts';
import { blind, hashToGroup } from '../../protocols/psi/group.ts';
import { BlindingPool } from '../../protocols/psi/pool.ts';
import { PsiGuest, PsiHost } from '../../protocols/psi/protocol.ts';
import { psiInMemory } from '../../protocols/psi/run.ts';
import { MemoryTransport } from '../../protocols/transport.ts';

const pool = new BlindingPool(2);
afterAll(() => pool.close());

function plainIntersection(a: string[], b: string[]): string[] {
  const s = new Set(b);
  return a.filter((x) => s.has(x)).sort();
}

describe('X25519 blinding', () => {
  it('commutes, and the worker pool equals single-threaded blinding', async () => {
    const p = hashToGroup(['E1', 'E2', 'E3', '统一社会信用代码']);
    const a = cryptoRng.bytes(32);
    const b = cryptoRng.bytes(32);
    expect(Buffer.from(blind(a, blind(b, p)))).toEqual(Buffer.from(blind(b, blind(a, p))));
    expect(Buffer.from(await pool.blind(a, p))).toEqual(Buffer.from(blind(a, p)));
  });
  it('refuses a small-order point with PSI_BAD_POINT', () => {
    expect(() => blind(cryptoRng.bytes(32), new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'PSI_BAD_POINT' }));
  });
});

describe('ECDH-PSI', () => {
  it('outputs exactly the plain intersection for random sets (property)', async () => {
    const r = seededRng('psi-property');
    const universe = Array.from({ length: 400 }, (_, i) => `91${String(i).padStart(6, '0')}-${Math.floor(r.next() * 1e9)}`);
    const pick = (p: number) => universe.filter(() => r.next() < p);
    const cases: [string, string[], string[]][] = [
      ['empty guest', [], pick(0.3)],
      ['empty host', pick(0.3), []],
      ['both empty', [], []],
      ['identical', universe.slice(0, 150), [...universe.slice(0, 150)].reverse()],
      ['disjoint', universe.slice(0, 100), universe.slice(100, 220)],
    ];
    for (let t = 0; t < 8; t++) cases.push([`random ${t}`, pick(r.next()), pick(r.next())]);
    for (const [name, g, h] of cases) {
      const res = await psiInMemory(`job-${name}`, g, h, pool, { guest: cryptoRng, host: cryptoRng });
      const want = plainIntersection(g, h);
      expect(res.guest.intersection, name).toEqual(want);
      expect(res.host.intersection, name).toEqual(want);
      expect(res.guest.peerSetSize).toBe(h.length);
      expect(res.host.peerSetSize).toBe(g.length);
    }
  });
  it('sends only blinded points: no id, and nothing that equals an unblinded hash', async () => {
    // Ids long enough that random 32-byte points cannot contain them by chance (2-byte ids did, ~2% of runs).
    const id = (s: string) => `enterprise-${s}-0000000001`;
    const g = ['A1', 'A2', 'A3', 'A4'].map(id);
    const h = ['A2', 'A4', 'B9'].map(id);
    const res = await psiInMemory('job-privacy', g, h, pool, { guest: cryptoRng, host: cryptoRng });
    const hashes = new Set([...g, ...h].map((id) => Buffer.from(hashToGroup([id])).toString('hex')));
    for (const rec of res.transport.log) {
      expect(rec.privacy).toBe('blinded-ids');
      for (const v of Object.values(rec.received.body)) {
        const buf = Buffer.from(v as Uint8Array);
        for (const x of [...g, ...h]) expect(buf.includes(Buffer.from(x))).toBe(false);
        for (let i = 0; i < buf.length; i += 32) expect(hashes.has(buf.toString('hex', i, i + 32))).toBe(false);
      }
    }
    // The guest request is shuffled: its order does not follow the guest's id order.
    expect(res.guest.intersection).toEqual([id('A2'), id('A4')]);
  });
  it('refuses messages in the wrong stage or of the wrong size', async () => {
    const host = new PsiHost('j', ['x'], pool, cryptoRng);
    await expect(host.receive({ job: 'j', protocol: 'psi', type: 'PsiFinish', round: 0, from: 'guest', to: 'host', body: { doubleBlinded: new Uint8Array(32) } })).rejects.toMatchObject({ code: 'PSI_WRONG_STAGE' });
    await expect(host.receive({ job: 'j', protocol: 'psi', type: 'PsiRequest', round: 0, from: 'guest', to: 'host', body: { blinded: new Uint8Array(33) } })).rejects.toMatchObject({ code: 'PSI_BAD_MESSAGE' });
    const guest = new PsiGuest('j', ['x'], pool, cryptoRng);
    const t = new MemoryTransport([guest]);
    await expect(t.run()).rejects.toMatchObject({ code: 'SRV_UNKNOWN_PARTY' });
  });
});
