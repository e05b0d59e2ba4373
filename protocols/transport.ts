/**
 * Transports move {@link Envelope}s between parties; protocols never see them. A protocol role is
 * a {@link Party}: given an incoming envelope it returns the envelopes to send. The same roles run
 * over {@link MemoryTransport} in one process (tests) and over HTTP between processes (server/).
 *
 * Every envelope is encoded with the wire codec and decoded again before delivery, even in memory,
 * so the bytes counted and inspected are the bytes an HTTP transport would carry.
 */
import { decodeMessage, encodeMessage } from './codec.ts';
import { messageSpec, type Envelope, type PrivacyClass } from './message.ts';
import { IndomainError } from '../engine/errors.ts';

/** Every envelope a party's flush has left, unit by unit, in order (for a transport that sends them together). */
export function flushAll(p: Pick<Party, 'flush'>): Envelope[] {
  const out: Envelope[] = [];
  if (p.flush) for (let more = p.flush(); more.length > 0; more = p.flush()) out.push(...more);
  return out;
}

export interface Party {
  readonly name: string;
  /** Envelopes to send before any message arrives. */
  start(): Envelope[] | Promise<Envelope[]>;
  receive(env: Envelope): Envelope[] | Promise<Envelope[]>;
  /**
   * Work that may wait until the envelopes `receive` returned are on their way: a transport that
   * runs parties concurrently (protocols/threads.ts) sends those first, so the receiver starts
   * on them meanwhile. Called after every `receive`, again and again until it returns nothing
   * ({@link flushAll}): each call one unit of work, whose envelopes go out before the next.
   */
  flush?(): Envelope[];
  /**
   * One small unit of optional precomputation for idle time (between messages); false when there
   * is none left. Transports that run parties concurrently call it; results never depend on it.
   */
  background?(): boolean;
  /** True once the party has nothing more to do in this job. */
  readonly done: boolean;
}

/** One delivered message, as the receiver got it. */
export interface DeliveryRecord {
  readonly from: string;
  readonly to: string;
  readonly protocol: string;
  readonly type: string;
  readonly round: number;
  readonly privacy: PrivacyClass;
  readonly bytes: number;
  /** The decoded envelope the receiver was handed. */
  readonly received: Envelope;
}

export class MemoryTransport {
  readonly log: DeliveryRecord[] = [];
  private readonly parties = new Map<string, Party>();

  constructor(parties: readonly Party[]) {
    for (const p of parties) this.parties.set(p.name, p);
  }

  /**
   * Deliver until every party is done or no message is left. Returns the number delivered. The
   * first call starts every party; a later call delivers `more` (what a party produced outside
   * `receive`, e.g. when a stage's deadline passed) and everything that follows from it.
   */
  async run(more?: readonly Envelope[]): Promise<number> {
    const queue: Envelope[] = [];
    if (more) queue.push(...more);
    else for (const p of this.parties.values()) queue.push(...(await p.start()));
    let delivered = 0;
    while (queue.length > 0) {
      const env = queue.shift()!;
      const to = this.parties.get(env.to);
      if (!to) throw new IndomainError('SRV_UNKNOWN_PARTY', `"${env.to}" (from ${env.from}, ${env.protocol}/${env.type})`);
      const spec = messageSpec(env.protocol, env.type);
      const bytes = encodeMessage(env);
      const received = decodeMessage(bytes);
      this.log.push({
        from: env.from,
        to: env.to,
        protocol: env.protocol,
        type: env.type,
        round: env.round,
        privacy: spec.privacy,
        bytes: bytes.length,
        received,
      });
      delivered++;
      queue.push(...(await to.receive(received)));
      queue.push(...flushAll(to));
    }
    return delivered;
  }

  /** Bytes carried from each sender to each receiver. */
  bytesByPair(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.log) out[`${r.from}->${r.to}`] = (out[`${r.from}->${r.to}`] ?? 0) + r.bytes;
    return out;
  }

  totalBytes(): number {
    return this.log.reduce((s, r) => s + r.bytes, 0);
  }
}
