/** Post-loan monitoring, the platform's side: new public credit events on request, against the snapshot. */
import { DEFAULT_LIMITS, type NodeLimits } from '../limits.ts';
import { IndomainError } from '../../engine/errors.ts';
import type { AuthorisationRegistry } from '../authz.ts';
import { parseJobSpec } from '../jobs/spec.ts';
import type { NodeStore } from '../store/node-store.ts';
import { answerSigned } from '../transport/answer.ts';
import { MONITOR_EXCHANGE } from '../transport/exchange.ts';
import type { Gate } from '../transport/gate.ts';
import { EVENT_COLUMNS, eventColumns } from './snapshot.ts';

/** The platform's side: events on request, against the snapshot. */
export class PlatformMonitor {
  constructor(
    private readonly store: NodeStore,
    private readonly authz: AuthorisationRegistry,
    private readonly gate: Gate,
    private readonly limits: NodeLimits = DEFAULT_LIMITS,
  ) {}

  answer(sender: string, bytes: Uint8Array): Promise<Uint8Array> {
    return answerSigned(this.store, this.gate, MONITOR_EXCHANGE, sender, bytes, this.limits, ({ model, ids }) => {
      const job = this.store.job(model);
      if (!job) throw new IndomainError('SC_UNKNOWN_MODEL', `"${model}"`);
      const spec = parseJobSpec(job.spec);
      if (spec.guest.node !== sender) throw new IndomainError('SRV_UNKNOWN_PARTY', `"${sender}" is not the bank of model "${model}"`);
      const now = Date.now();
      const allowed = ids.filter((id) => this.authz.check(id, sender, 'post-loan', now) === 'valid');
      const v = eventColumns(this.store, spec);
      const row = new Map(v.ids.map((id, i) => [id, i]));
      const get = this.store.db.prepare('SELECT value FROM monitor_snapshot WHERE model = ? AND id = ? AND column = ?');
      const put = this.store.db.prepare('INSERT OR REPLACE INTO monitor_snapshot (model, id, column, value) VALUES (?, ?, ?, ?)');
      const events: { id: string; kind: string }[] = [];
      this.store.tx(() => {
        for (const id of allowed) {
          const i = row.get(id);
          if (i === undefined) continue;
          for (const [c, col] of Object.entries(v.cols)) {
            const current = Number.isNaN(col[i]!) ? 0 : col[i]!;
            const before = (get.get(model, id, c) as { value: number } | undefined)?.value;
            if (before !== undefined && current > before) events.push({ id, kind: EVENT_COLUMNS[c]! });
            put.run(model, id, c, current);
          }
        }
      });
      return { body: { ids: events.map((e) => e.id), kinds: events.map((e) => e.kind), refused: ids.length - allowed.length }, recorded: { events: events.length } };
    });
  }

}
