/**
 * A worker-thread pool for X25519 blinding: splits a batch of points into one slice per worker.
 * Scalars are sent to the workers of this process only (threads share the process's trust domain).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { IndomainError } from '../../engine/errors.ts';
import { POINT_BYTES } from './group.ts';

interface Pending {
  resolve: (v: Uint8Array) => void;
  reject: (e: Error) => void;
}

export class BlindingPool {
  private started: Worker[] | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  /** The workers start on the first blinding: a node restarted with no PSI to do pays nothing for them. */
  constructor(readonly size = Math.max(1, Math.min(4, availableParallelism()))) {}

  private get workers(): Worker[] {
    return (this.started ??= Array.from({ length: this.size }, () => {
      const w = new Worker(new URL('./x25519-worker.mjs', import.meta.url));
      w.on('message', (m: { id: number; points?: Uint8Array; error?: string; index?: number }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.points) p.resolve(m.points);
        else p.reject(new IndomainError('PSI_BAD_POINT', `${m.error} (element ${m.index} of its slice)`));
      });
      w.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(new IndomainError('PSI_WORKER_FAILED', e.message));
        this.pending.clear();
      });
      return w;
    }));
  }

  /** X25519(scalar, p) for every 32-byte point p, in order. */
  async blind(scalar: Uint8Array, points: Uint8Array): Promise<Uint8Array> {
    const count = points.length / POINT_BYTES;
    if (!Number.isInteger(count)) throw new IndomainError('PSI_BAD_MESSAGE', `${points.length} bytes is not a whole number of points`);
    if (count === 0) return new Uint8Array(0);
    const per = Math.ceil(count / this.workers.length);
    const slices: Promise<Uint8Array>[] = [];
    for (let w = 0; w * per < count; w++) {
      const part = points.slice(w * per * POINT_BYTES, Math.min(count, (w + 1) * per) * POINT_BYTES);
      const id = this.nextId++;
      slices.push(
        new Promise<Uint8Array>((resolve, reject) => {
          this.pending.set(id, { resolve, reject });
          this.workers[w]!.postMessage({ id, scalar, points: part }, [part.buffer]);
        }),
      );
    }
    const parts = await Promise.all(slices);
    const out = new Uint8Array(points.length);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all((this.started ?? []).map((w) => w.terminate()));
  }
}
