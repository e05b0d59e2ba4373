/**
 * Every party of a protocol in its own worker thread, as if in its own process: they compute at
 * the same time, which {@link MemoryTransport} (one thread, one party at a time) cannot show.
 * The main thread only routes envelopes, encoded with the wire codec, and counts their bytes.
 * Parties are built inside their thread by a module exporting `createParty(args)` (data and
 * settings go in `args`, structured-cloned), so setting up, which a long-running node does once
 * per process, is timed apart from the run. With `warmups`, the same run goes first that many
 * times on the same threads (compiled code warm, as in a node that has run jobs before) and only
 * the last is timed. INDOMAIN_TRACE_THREADS=1 prints, per handled message, when it started (ms,
 * wall clock) and how long decoding, `receive` and `flush` took.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { IndomainError } from '../engine/errors.ts';
import type { Party } from './transport.ts';

export interface ThreadPartyModule {
  createParty(args: unknown): Promise<{ party: Party; result(): unknown }>;
}

export type ToWorker = { kind: 'init'; run: number; module: string; args: unknown } | { kind: 'start'; run: number } | { kind: 'deliver'; run: number; bytes: Uint8Array };
export type ToMain =
  | { kind: 'ready'; run: number }
  | { kind: 'send'; run: number; to: string; type: string; bytes: Uint8Array }
  | { kind: 'done'; run: number; result: unknown }
  | { kind: 'error'; run: number; error: { code: string; message: string } };

export interface ThreadSpec {
  /** URL (href) of a module exporting `createParty`. */
  readonly module: string;
  readonly args: unknown;
}

export interface ThreadRun {
  /** From the start signal until every party is done (the last run). */
  readonly seconds: number;
  /** Building the parties in their threads (the last run; the first also starts the threads). */
  readonly setupSeconds: number;
  readonly results: Record<string, unknown>;
  readonly bytesByPair: Record<string, number>;
  readonly messages: number;
  /** `seconds` of each warm-up run (the first on cold threads). */
  readonly warmupSeconds: readonly number[];
}

export async function runInThreads(parties: Record<string, ThreadSpec>, options: { warmups?: number } = {}): Promise<ThreadRun> {
  const names = Object.keys(parties);
  const workers = new Map<string, Worker>();
  let current: ((m: ToMain, from: string) => void) | undefined;
  let broken: ((e: unknown) => void) | undefined;
  for (const name of names) {
    const w = new Worker(new URL('./thread-worker.mjs', import.meta.url));
    workers.set(name, w);
    w.on('message', (m: ToMain) => current?.(m, name));
    w.on('error', (e) => broken?.(e));
    w.on('exit', (code) => broken?.(new IndomainError('SRV_INTERNAL', `the ${name} thread exited (code ${code})`)));
  }
  const once = (run: number): Promise<ThreadRun> =>
    new Promise<ThreadRun>((resolve, reject) => {
      const t0 = performance.now();
      let tStart = 0;
      let ready = 0;
      let messages = 0;
      const results: Record<string, unknown> = {};
      const bytesByPair: Record<string, number> = {};
      broken = reject;
      current = (m, from) => {
        if (m.run !== run) return;
        switch (m.kind) {
          case 'ready':
            if (++ready === names.length) {
              tStart = performance.now();
              for (const w of workers.values()) w.postMessage({ kind: 'start', run } satisfies ToWorker);
            }
            return;
          case 'send': {
            const target = workers.get(m.to);
            if (!target) return reject(new IndomainError('SRV_UNKNOWN_PARTY', `"${m.to}" (from ${from}, ${m.type})`));
            messages++;
            bytesByPair[`${from}->${m.to}`] = (bytesByPair[`${from}->${m.to}`] ?? 0) + m.bytes.length;
            target.postMessage({ kind: 'deliver', run, bytes: m.bytes } satisfies ToWorker, [m.bytes.buffer as ArrayBuffer]);
            return;
          }
          case 'done':
            results[from] = m.result;
            if (Object.keys(results).length === names.length) {
              resolve({ seconds: (performance.now() - tStart) / 1000, setupSeconds: (tStart - t0) / 1000, results, bytesByPair, messages, warmupSeconds: [] });
            }
            return;
          case 'error':
            return reject(new IndomainError(m.error.code as never, `the ${from} failed: ${m.error.message}`));
        }
      };
      for (const [name, w] of workers) w.postMessage({ kind: 'init', run, module: parties[name]!.module, args: parties[name]!.args } satisfies ToWorker);
    });
  try {
    const warmups = options.warmups ?? 0;
    const warmupSeconds: number[] = [];
    for (let run = 0; run < warmups; run++) warmupSeconds.push((await once(run)).seconds);
    return { ...(await once(warmups)), warmupSeconds };
  } finally {
    current = undefined;
    broken = undefined;
    await Promise.all([...workers.values()].map((w) => w.terminate()));
  }
}
