/**
 * Every party of a protocol in its own worker thread, as if in its own process: they compute at
 * the same time, which {@link MemoryTransport} (one thread, one party at a time) cannot show.
 * The main thread only routes envelopes, encoded with the wire codec, and counts their bytes.
 * Parties are built inside their thread by a module exporting `createParty(args)` (data and
 * settings go in `args`, structured-cloned once), so setting up, which a long-running node does
 * once per process, is timed apart from the run. INDOMAIN_TRACE_THREADS=1 prints, per handled
 * message, when it started (ms, wall clock) and how long decoding, `receive` and `flush` took.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { IndomainError } from '../engine/errors.ts';
import type { Party } from './transport.ts';

export interface ThreadPartyModule {
  createParty(args: unknown): Promise<{ party: Party; result(): unknown }>;
}

export type ToWorker = { kind: 'init'; module: string; args: unknown } | { kind: 'start' } | { kind: 'deliver'; bytes: Uint8Array };
export type ToMain =
  | { kind: 'ready' }
  | { kind: 'send'; to: string; type: string; bytes: Uint8Array }
  | { kind: 'done'; result: unknown }
  | { kind: 'error'; error: { code: string; message: string } };

export interface ThreadSpec {
  /** URL (href) of a module exporting `createParty`. */
  readonly module: string;
  readonly args: unknown;
}

export interface ThreadRun {
  /** From the start signal until every party is done. */
  readonly seconds: number;
  /** Starting the threads and building the parties. */
  readonly setupSeconds: number;
  readonly results: Record<string, unknown>;
  readonly bytesByPair: Record<string, number>;
  readonly messages: number;
}

export async function runInThreads(parties: Record<string, ThreadSpec>): Promise<ThreadRun> {
  const names = Object.keys(parties);
  const workers = new Map<string, Worker>();
  const t0 = performance.now();
  let tStart = 0;
  const results: Record<string, unknown> = {};
  const bytesByPair: Record<string, number> = {};
  let messages = 0;
  let ready = 0;
  try {
    return await new Promise<ThreadRun>((resolve, reject) => {
      const fail = (e: unknown) => reject(e);
      for (const name of names) {
        const w = new Worker(new URL('./thread-worker.mjs', import.meta.url));
        workers.set(name, w);
        w.on('error', fail);
        w.on('exit', (code) => {
          if (!(name in results)) fail(new IndomainError('SRV_INTERNAL', `the ${name} thread exited (code ${code}) before it was done`));
        });
        w.on('message', (m: ToMain) => {
          switch (m.kind) {
            case 'ready':
              if (++ready === names.length) {
                tStart = performance.now();
                for (const x of workers.values()) x.postMessage({ kind: 'start' } satisfies ToWorker);
              }
              return;
            case 'send': {
              const target = workers.get(m.to);
              if (!target) return fail(new IndomainError('SRV_UNKNOWN_PARTY', `"${m.to}" (from ${name}, ${m.type})`));
              messages++;
              bytesByPair[`${name}->${m.to}`] = (bytesByPair[`${name}->${m.to}`] ?? 0) + m.bytes.length;
              target.postMessage({ kind: 'deliver', bytes: m.bytes } satisfies ToWorker, [m.bytes.buffer as ArrayBuffer]);
              return;
            }
            case 'done':
              results[name] = m.result;
              if (Object.keys(results).length === names.length) {
                const end = performance.now();
                resolve({ seconds: (end - tStart) / 1000, setupSeconds: (tStart - t0) / 1000, results, bytesByPair, messages });
              }
              return;
            case 'error':
              return fail(new IndomainError(m.error.code as never, `the ${name} failed: ${m.error.message}`));
          }
        });
        w.postMessage({ kind: 'init', module: parties[name]!.module, args: parties[name]!.args } satisfies ToWorker);
      }
    });
  } finally {
    await Promise.all([...workers.values()].map((w) => w.terminate()));
  }
}
