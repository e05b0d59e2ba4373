/** Test data for the hybrid consortium: FATE's hetero default_credit dealt to several banks. */
import { alignTo, seededSplit } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { permutation, seededRng } from '../../engine/rng.ts';
import { selectRows } from '../../engine/table.ts';
import type { HybridPair } from '../../protocols/consortium/hybrid.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;

/**
 * FATE's hetero default_credit: the guest rows dealt to three banks (seeded), the host file as the
 * platform; each bank aligns its rows with the platform's and splits them itself (80/20, seeded).
 */
export function hybridSplit(banks = 3, rows?: number) {
  const guest = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
  const host = loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' });
  const order = permutation(guest.ids.length, seededRng('hybrid-banks')).subarray(0, rows ?? guest.ids.length);
  const pairs = new Map<string, HybridPair>();
  const test = new Map<string, { cols: Float64Array[]; y: Uint8Array }>();
  for (let k = 0; k < banks; k++) {
    const name = `bank-${k + 1}`;
    const own = selectRows(guest, order.filter((_, i) => i % banks === k));
    const platform = alignTo(host, own.ids);
    const split = seededSplit(own.ids.length, 0.2, `42:${name}`);
    const [tr, te, htr, hte] = [selectRows(own, split.train), selectRows(own, split.test), selectRows(platform, split.train), selectRows(platform, split.test)];
    pairs.set(name, { bank: tr.features, y: tr.label!, platform: htr.features });
    test.set(name, { cols: [...te.features, ...hte.features], y: te.label! });
  }
  const pool = (parts: { cols: readonly Float64Array[]; y: Uint8Array }[]) => ({
    cols: parts[0]!.cols.map((_, j) => Float64Array.from(parts.flatMap((p) => [...p.cols[j]!]))),
    y: Uint8Array.from(parts.flatMap((p) => [...p.y])),
  });
  return { pairs, test, pooledTrain: pool([...pairs.values()].map((p) => ({ cols: [...p.bank, ...p.platform], y: p.y }))), pooledTest: pool([...test.values()]) };
}

