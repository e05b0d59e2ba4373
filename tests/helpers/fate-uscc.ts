/**
 * FATE's default_credit pair as the platform keys it: by USCC, admitting only authorised
 * enterprises. The numeric ids become valid USCCs (same rows), and `bank` is authorised for all of
 * them (tests/server/cluster.test.ts, two-party.test.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { usccFromNumber } from '../../server/lab/generate.ts';

const fate = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;

/** `purposes`: the authorisations granted for every enterprise (modelling; pre-loan for online scoring). */
export function usccCopies(dir: string, bank = 'bank-a', purposes: readonly string[] = ['modelling']): { guest: string; host: string; authorisations: string } {
  const map = (src: string, dest: string) => {
    const [head, ...lines] = readFileSync(fate(src), 'utf8').trimEnd().split('\n');
    writeFileSync(dest, [head, ...lines.map((l) => { const k = l.indexOf(','); return usccFromNumber(Number(l.slice(0, k))) + l.slice(k); })].join('\n') + '\n');
    return lines.map((l) => usccFromNumber(Number(l.slice(0, l.indexOf(',')))));
  };
  const guest = join(dir, 'guest.csv');
  const host = join(dir, 'host.csv');
  map('default_credit_hetero_guest.csv', guest);
  const ids = map('default_credit_hetero_host.csv', host);
  const authorisations = join(dir, 'authorisations.csv');
  writeFileSync(authorisations, ['uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref', ...purposes.flatMap((purpose) => ids.map((id, i) => `${id},${bank},${purpose},2024-01-01,2030-12-31,,TEST-${purpose}-${i}`))].join('\n') + '\n');
  return { guest, host, authorisations };
}
