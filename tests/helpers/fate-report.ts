/**
 * A real scorecard validation report, cheaply: the federated scorecard (PSI, binning, CKKS
 * training, Fisher information, report) on the first `rows` enterprises of FATE's default_credit
 * pair (tests/data/fate), in process. Memoised per test file.
 */
import { loadCsv } from '../../engine/csv.ts';
import { selectRows } from '../../engine/table.ts';
import { splitPair } from '../../benchmarks/pair.ts';
import { runScorecard } from '../../benchmarks/scorecard.ts';
import type { ScorecardRun } from '../../protocols/scorecard/protocol.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
const runs = new Map<number, Promise<ScorecardRun>>();

export function fateScorecard(rows = 6000): Promise<ScorecardRun> {
  let run = runs.get(rows);
  if (!run) {
    run = (async () => {
      const guest = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
      const host = loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' });
      const first = Uint32Array.from({ length: Math.min(rows, guest.ids.length) }, (_, i) => i);
      const pair = await splitPair(selectRows(guest, first), host, 'charts', 0.3);
      return runScorecard(pair, { seed: 'charts', hostCategorical: ['x1', 'x2', 'x3'] });
    })();
    runs.set(rows, run);
  }
  return run;
}
