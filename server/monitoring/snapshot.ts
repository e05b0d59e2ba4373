/**
 * The platform's snapshots of public credit records for post-loan monitoring: the event columns of
 * a model's development sample, recorded when the model is deployed (server/jobs/node-job.ts calls
 * {@link snapshotEvents} through its `onDeployed` hook), against which new events are reported.
 */
import { IndomainError } from '../../engine/errors.ts';
import type { JobSpec } from '../jobs/spec.ts';
import { loadDataset, type NodeStore } from '../store/node-store.ts';

/** Platform columns whose increase is an event, when the dataset has them. */
export const EVENT_COLUMNS: Readonly<Record<string, string>> = { dishonest_debtor: 'dishonest-debtor', enforcement_cases: 'enforcement' };

export function eventColumns(store: NodeStore, spec: JobSpec): { ids: readonly string[]; cols: Record<string, Float64Array> } {
  const d = store.dataset(spec.host.dataset);
  if (!d) throw new IndomainError('SC_UNKNOWN_MODEL', `dataset "${spec.host.dataset}" is gone`);
  const t = loadDataset(d);
  const cols: Record<string, Float64Array> = {};
  for (const c of Object.keys(EVENT_COLUMNS)) {
    const j = t.featureNames.indexOf(c);
    if (j >= 0) cols[c] = t.features[j]!;
  }
  return { ids: t.ids, cols };
}

/** The platform records the event columns of a model's development sample when it is deployed. */
export function snapshotEvents(store: NodeStore, model: string, spec: JobSpec, ids: readonly string[]): void {
  const v = eventColumns(store, spec);
  if (Object.keys(v.cols).length === 0) return;
  const row = new Map(v.ids.map((id, i) => [id, i]));
  const ins = store.db.prepare('INSERT OR REPLACE INTO monitor_snapshot (model, id, column, value) VALUES (?, ?, ?, ?)');
  store.tx(() => {
    for (const id of ids) {
      const i = row.get(id);
      if (i === undefined) continue;
      for (const [c, col] of Object.entries(v.cols)) ins.run(model, id, c, Number.isNaN(col[i]!) ? 0 : col[i]!);
    }
  });
}
