/**
 * Attack by the host (platform) on two-party vertical LR (protocols/vfl-lr-2p): read the bank's
 * labels from what it receives.
 *
 * The guest's per-row coefficients carry the labels: [[c_0]] = [[coef_0 − y]] (the label folded
 * into the constant term), so whoever decrypts the round-0 GuestCoefficients reads every label.
 * The defence is that the host holds no key to decrypt with: the guest owns the job's only key
 * pair and no message has a field for a secret key. Defence off (what this test does as the
 * attacker, since no code path can): the host is handed the guest's secret key, decrypts [[c_0]]
 * and recovers every label. Defence on: with every key it can make (its own fresh key pair) the
 * same ciphertexts decrypt to noise, and the linear-span sweep (tests/helpers/ckks-span.ts) shows no
 * ciphertext it received can be stripped to a key-independent one by combining what it sent.
 */
import { describe, expect, it } from 'vitest';
import { alignTo } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { selectRows } from '../../engine/table.ts';
import { applyStandardizer, fitStandardizer } from '../../engine/standardize.ts';
import { createCkks, decryptorFor, generateKeys, type Ckks, type KeyOwner } from '../../protocols/he/ckks.ts';
import { declaredMessages } from '../../protocols/message.ts';
import { maxAbs } from '../../engine/linalg.ts';
import { vflConfig } from '../../protocols/vfl-lr/config.ts';
import { trainTwoPartyInMemory } from '../../protocols/vfl-lr-2p/protocol.ts';
import { loadCiphertext, sweep } from '../helpers/ckks-span.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;

/** Decrypt every chunk of [[c_0]] under `key`, split into two clusters, count labels read (best orientation). */
function readLabels(ckks: Ckks, key: KeyOwner, chunks: Uint8Array[], labels: Uint8Array): number {
  const dec = decryptorFor(ckks, key);
  const values: number[] = [];
  chunks.forEach((bytes, c) => {
    const ct = loadCiphertext(ckks, bytes)!;
    values.push(...dec.decrypt(ct, Math.min(ckks.slots, labels.length - c * ckks.slots)));
    ct.delete();
  });
  // coef_0 − y: coef_0 ∈ (0, 1), so rows with y = 1 sit below the midpoint of the two clusters.
  const finite = values.map((v) => (Number.isFinite(v) ? v : 0));
  const mid = (Math.min(...finite) + Math.max(...finite)) / 2;
  let agree = 0;
  finite.forEach((v, i) => (agree += Number((v < mid ? 1 : 0) === labels[i])));
  return Math.max(agree, finite.length - agree);
}

describe('attack: the host decrypts the residuals (two-party vertical LR)', () => {
  it('with the guest’s secret key it reads every label from [[c_0]]; without it (it holds none) no better than the majority guess, and nothing it receives lies in the span of what it sent', async () => {
    const rows = 6000;
    const guestAll = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const hostAll = loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' });
    const g = selectRows(guestAll, Array.from({ length: rows }, (_, i) => i));
    const h = alignTo(hostAll, g.ids);
    const z = (cols: readonly Float64Array[]) => applyStandardizer(fitStandardizer([...cols]), [...cols]);
    const config = vflConfig('attack-2p-host', { maxIterations: 3, refuseUnconverged: false });
    const run = await trainTwoPartyInMemory({ guest: z(g.features), labels: g.label!, host: z(h.features), config });
    const ckks = await createCkks(config.params);
    const labels = g.label!;
    const events = labels.reduce((s, y) => s + y, 0);
    const majority = Math.max(events, rows - events);

    const coefficients = run.transport.log.find((r) => r.type === 'GuestCoefficients' && r.round === 0)!.received.body.coefficients as Uint8Array[][];
    // Off: the host is handed the guest's secret key.
    const off = readLabels(ckks, run.guest.keyOwner!, coefficients[0]!, labels);
    // On: the keys the host can have are keys it makes itself.
    const own = generateKeys(ckks);
    const on = readLabels(ckks, own, coefficients[0]!, labels);
    own.secretKey.delete();

    // Everything the host received: which declared fields could carry a key, and what they carry.
    const toHost = run.transport.log.filter((r) => r.to === 'host');
    const fields = new Set(toHost.flatMap((r) => Object.keys(r.received.body)));
    const declared = declaredMessages().filter((m) => m.protocol === 'vfl-lr-2p' && m.to.includes('host'));
    const keyFields = declared.flatMap((m) => Object.keys(m.fields)).filter((f) => /key/i.test(f));
    const setup = toHost.find((r) => r.type === 'TwoPartySetup')!.received.body;
    const s = sweep(ckks, run.transport.log);
    console.log(
      `two-party host label attack, ${rows} rows: with the guest's key ${off} of ${rows} labels; with its own key ${on} (majority guess ${majority}); ` +
        `key fields it receives: ${keyFields.join(', ')}; sweep ${JSON.stringify(s)}`,
    );
    expect(off).toBe(rows);
    expect(on).toBeLessThan(majority);
    // The only key material the host receives is public: the public key is the guest's public key,
    // and the Galois and relinearisation keys are evaluation keys (no field for a secret key exists).
    expect(keyFields.sort()).toEqual(['galoisKeys', 'publicKey', 'relinKeys']);
    expect([...fields].filter((f) => /key/i.test(f)).sort()).toEqual(['galoisKeys', 'publicKey', 'relinKeys']);
    expect(setup.publicKey).toEqual(run.guest.keyOwner!.publicKey);
    // Every ciphertext the host receives is under the guest's key: under it each decrypts to
    // values of the size the flow sends (coefficients, standardised columns); under the host's
    // own key each decrypts to residues spread over the whole modulus.
    const guestDec = decryptorFor(ckks, run.guest.keyOwner!);
    const own2 = generateKeys(ckks);
    const ownDec = decryptorFor(ckks, own2);
    let received = 0;
    let smallUnderGuestKey = 0;
    let hugeUnderOwnKey = 0;
    for (const r of toHost) {
      if (r.privacy !== 'ciphertext') continue;
      for (const b of Object.values(r.received.body).flat(2) as Uint8Array[]) {
        const ct = loadCiphertext(ckks, b);
        expect(ct).toBeDefined();
        received++;
        smallUnderGuestKey += Number(maxAbs(guestDec.decrypt(ct!, ckks.slots)) < 1e3);
        hugeUnderOwnKey += Number(maxAbs(ownDec.decrypt(ct!, ckks.slots)) > 1e6);
        ct!.delete();
      }
    }
    own2.secretKey.delete();
    console.log(`ciphertexts the host received: ${received}; decrypt to values below 1e3 under the guest's key: ${smallUnderGuestKey}; above 1e6 under a key of the host's: ${hugeUnderOwnKey}`);
    expect(received).toBeGreaterThan(100);
    expect(smallUnderGuestKey).toBe(received);
    expect(hugeUnderOwnKey).toBe(received);
    // The sweep: no ciphertext any party received lies in the span of what it sent.
    expect(s.checked['host<-vfl-lr-2p/GuestCoefficients']).toBeGreaterThan(0);
    expect(s.checked['guest<-vfl-lr-2p/TwoPartyGradient']).toBeGreaterThan(0);
    expect(s.inSpan).toEqual({});
  }, 600_000);
});
