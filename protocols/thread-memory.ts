/**
 * Memory of a protocol role running in its own worker thread, for the benches' peak figures:
 * the thread's V8 heap plus the external memory V8 accounts to it (array buffers; SEAL's
 * WebAssembly heap where V8 counts it), sampled after every message the role handles.
 */
import { getHeapStatistics } from 'node:v8';

/** This thread's V8 heap plus external memory, MB. */
export function threadMB(): number {
  const h = getHeapStatistics() as ReturnType<typeof getHeapStatistics> & { external_memory?: number };
  return (h.used_heap_size + (h.external_memory ?? 0)) / 2 ** 20;
}

/** Wrap a role's `receive` so that `peak.mb` holds the largest sample after any message. */
export function sampled<P extends { receive(e: never): unknown }>(party: P, peak: { mb: number }): P {
  const receive = party.receive.bind(party) as (e: never) => unknown;
  (party as { receive: (e: never) => unknown }).receive = (e: never) => {
    const out = receive(e);
    peak.mb = Math.max(peak.mb, threadMB());
    return out;
  };
  return party;
}
