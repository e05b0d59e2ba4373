/**
 * The worker side of {@link runInThreads}: builds one party per run from its module, then runs it
 * on the envelopes the main thread routes to it, one at a time, in arrival order. Between
 * messages it gives the party's idle-time precomputation (`background`) a turn.
 */
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { errorJson } from '../engine/errors.ts';
import { decodeMessage, encodeMessage } from './codec.ts';
import type { Envelope } from './message.ts';
import type { ThreadPartyModule, ToMain, ToWorker } from './threads.ts';

const port = parentPort!;
const TRACE = process.env.INDOMAIN_TRACE_THREADS === '1';
let made: Awaited<ReturnType<ThreadPartyModule['createParty']>> | undefined;
let run = -1;
let queue: (Uint8Array | 'start')[] = [];
let busy = false;
let reported = false;
let idleScheduled = false;

function fail(e: unknown): void {
  port.postMessage({ kind: 'error', run, error: errorJson(e) } satisfies ToMain);
}

function send(envs: readonly Envelope[]): void {
  for (const env of envs) {
    // The codec returns a view into its reusable buffer, and cloning a view clones its whole
    // buffer: copy out exactly the message, then move (not clone) it.
    const bytes = new Uint8Array(encodeMessage(env));
    port.postMessage({ kind: 'send', run, to: env.to, type: env.type, bytes } satisfies ToMain, [bytes.buffer]);
  }
}

async function drain(): Promise<void> {
  if (busy || !made) return;
  busy = true;
  try {
    while (queue.length > 0) {
      const item = queue.shift()!;
      const { party } = made;
      const t0 = performance.now();
      const env = item === 'start' ? undefined : decodeMessage(item);
      const t1 = performance.now();
      send(env ? await party.receive(env) : await party.start());
      const t2 = performance.now();
      if (party.flush) for (let more = party.flush(); more.length > 0; more = party.flush()) send(more);
      const t3 = performance.now();
      if (TRACE) console.error(`${party.name} ${env?.type ?? 'start'} r${env?.round ?? 0} at ${(performance.timeOrigin + t0).toFixed(0)} decode ${(t1 - t0).toFixed(1)} receive ${(t2 - t1).toFixed(1)} flush ${(t3 - t2).toFixed(1)}`);
      if (party.done && !reported) {
        reported = true;
        port.postMessage({ kind: 'done', run, result: made.result() } satisfies ToMain);
      }
    }
  } catch (e) {
    fail(e);
    return;
  } finally {
    busy = false;
  }
  scheduleIdle();
}

/** One unit of background work per turn of the event loop, so arriving messages go first. */
function scheduleIdle(): void {
  if (idleScheduled) return;
  idleScheduled = true;
  setImmediate(idle);
}

function idle(): void {
  idleScheduled = false;
  if (busy || queue.length > 0 || !made || made.party.done || !made.party.background) return;
  if (made.party.background()) scheduleIdle();
}

port.on('message', (m: ToWorker) => {
  if (m.kind === 'init') {
    run = m.run;
    made = undefined;
    queue = [];
    reported = false;
    void (async () => {
      try {
        const mod = (await import(m.module)) as ThreadPartyModule;
        made = await mod.createParty(m.args);
        port.postMessage({ kind: 'ready', run } satisfies ToMain);
      } catch (e) {
        fail(e);
      }
    })();
    return;
  }
  if (m.run !== run) return; // left over from an earlier run
  queue.push(m.kind === 'start' ? 'start' : m.bytes);
  void drain();
});
