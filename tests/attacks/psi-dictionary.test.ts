/**
 * Attack: the platform reads the bank's whole book from its PSI request.
 *
 * The platform knows the universe of enterprise ids (every registered enterprise is in its
 * dictionary). The bank's PsiRequest carries [a]H(x) for every id x in its book, in random order.
 * Whoever knows the bank's scalar a computes [a]H(d) for every dictionary entry d and matches: it
 * learns every id of the book, not only the intersection. The defence is that a is a secret from a
 * cryptographic generator: the node derives it from a 32-byte per-job secret it never sends
 * (engine/rng.ts secretRng). With the defence off, the scalar comes from a statistical generator
 * keyed by what the platform also knows (the job id, as seeded splits are), and the attack reads the
 * whole book.
 */
import { describe, expect, it } from 'vitest';
import { loadCsv } from '../../engine/csv.ts';
import { cryptoRng, permutation, secretRng, seededRng, type Rng } from '../../engine/rng.ts';
import { blind, hashToGroup, pointKeys, randomScalar } from '../../protocols/psi/group.ts';
import { BlindingPool } from '../../protocols/psi/pool.ts';
import { psiInMemory } from '../../protocols/psi/run.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;

interface Outcome {
  /** Ids of the bank's book the platform identified (of `book`). */
  identified: number;
  /** Of them, ids outside the intersection (what PSI must not reveal). */
  outside: number;
  book: number;
  intersection: number;
}

/** Run PSI; the platform then tries every scalar it can derive from what it knows. */
async function attack(job: string, guestRng: Rng): Promise<Outcome> {
  const universe = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' }).ids.slice(0, 6000);
  const r = seededRng('psi-dictionary');
  const book = [...permutation(universe.length, r).slice(0, 3000)].map((i) => universe[i]!);
  const platform = [...permutation(universe.length, r).slice(0, 3000)].map((i) => universe[i]!);
  const pool = new BlindingPool(2);
  const run = await psiInMemory(job, book, platform, pool, { guest: guestRng, host: cryptoRng });
  await pool.close();
  const request = run.transport.log.find((m) => m.type === 'PsiRequest')!.received.body;
  const received = new Set(pointKeys(request.blinded as Uint8Array));
  // Candidate scalars: from the generators keyed by the job id (what the platform knows).
  const candidates = [seededRng(job), seededRng(`psi:${job}`), seededRng(`${job}:psi`)].map((g) => randomScalar(g));
  let best = new Set<string>();
  for (const a of candidates) {
    const keys = pointKeys(blind(a, hashToGroup(universe)));
    const hit = new Set(universe.filter((_, i) => received.has(keys[i]!)));
    if (hit.size > best.size) best = hit;
  }
  const inter = new Set(run.host.intersection!);
  return { identified: best.size, outside: [...best].filter((id) => !inter.has(id)).length, book: book.length, intersection: inter.size };
}

describe('attack: the platform reads the bank’s book from its PSI request', () => {
  it('with the scalar from the stored secret it identifies no id; with a statistical generator keyed by the job id, every id', async () => {
    const on = await attack('job-psi-dict-on', secretRng(cryptoRng.bytes(32), 'psi'));
    const off = await attack('job-psi-dict-off', seededRng('job-psi-dict-off'));
    console.log(
      `psi dictionary attack (book ${on.book}, dictionary 6000): cryptographic scalar: ${on.identified} ids identified (${on.outside} outside the intersection of ${on.intersection}); ` +
        `predictable scalar: ${off.identified} of ${off.book} (${off.outside} outside the intersection of ${off.intersection})`,
    );
    expect(on.identified).toBe(0);
    expect(off.identified).toBe(off.book);
    expect(off.outside).toBe(off.book - off.intersection);
  }, 120_000);
});
