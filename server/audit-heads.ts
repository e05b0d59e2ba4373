/**
 * Cross-signed chain heads: each node's audit chain is witnessed by the others' (server/audit.ts).
 *
 * A node sends its head (name, seq, time, hash of its last record and its signature over that
 * hash) to a pinned peer in a signed `audit/ChainHead` exchange (job `@heads`, class metadata); the
 * peer checks the head against the sender's pinned key, records it in its own chain (in the
 * `message-received` record, field `head`) and answers with its own head, which the sender records
 * likewise. After one exchange each chain holds the other's head, signed by its owner and
 * countersigned by the chain it sits in: a chain later cut, rolled back or rewritten no longer
 * contains a head its peers recorded, and `indomain audit verify` says so.
 *
 * When. A node exchanges heads with every peer when something other than head exchanges has been
 * recorded since its last exchange with that peer, and one of: a job ended on it (completed, failed
 * or cancelled); a peer sent it a head (so a job's end on the coordinator reaches every node's
 * chain within a round); the interval passed (default 60 s, `--head-interval SECONDS`). A chain
 * that only records head exchanges sends none: two idle nodes do not ping-pong. An exchange that
 * fails is recorded (`delivery-failed`) and retried at the next interval.
 */
import { IndomainError } from '../engine/errors.ts';
import { decodeMessage, encodeMessage } from '../protocols/codec.ts';
import type { Envelope } from '../protocols/message.ts';
import { HEADS_JOB, type ChainHead } from './audit.ts';
import { publicKeyObject, verifyWith } from './ed25519.ts';
import { sha256Hex as sha256 } from './signing.ts';
import type { NodeStore } from './store/node-store.ts';
import { checkEnvelope, HEAD_EXCHANGE, type SignedClient } from './transport/exchange.ts';
import type { Gate } from './transport/gate.ts';
import type { Peer } from './transport/peer.ts';

/** Default interval between head exchanges while a chain grows. */
export const HEAD_INTERVAL_MS = 60_000;

/** True when `head` is signed by `publicKey` (the signature of its last record). */
export function headSigned(head: Pick<ChainHead, 'hash' | 'signature'>, publicKey: Uint8Array): boolean {
  if (!/^[0-9a-f]{64}$/.test(head.hash) || head.signature === '') return false;
  return verifyWith(Buffer.from(head.signature, 'base64'), Buffer.from(head.hash, 'hex'), publicKeyObject(publicKey));
}

export interface ChainHeadsOptions {
  readonly name: string;
  readonly store: NodeStore;
  readonly peers: ReadonlyMap<string, Peer>;
  readonly gate: Gate;
  readonly client: SignedClient;
  readonly intervalMs?: number;
  readonly log?: (line: string) => void;
}

export class ChainHeads {
  private timer: NodeJS.Timeout | undefined;
  /** Per peer: the last record other than a head exchange that it has seen our head after. */
  private readonly witnessed = new Map<string, number>();
  private lastRound = Date.now();
  private endedJobs = -1;
  private nudged = false;
  private running: Promise<void> | undefined;

  constructor(private readonly o: ChainHeadsOptions) {}

  private get interval(): number {
    return this.o.intervalMs ?? HEAD_INTERVAL_MS;
  }

  /** This node's committed head (its last record is always signed). */
  head(): ChainHead {
    return this.o.store.audit.committedHead(this.o.name) ?? { node: this.o.name, seq: 0, at: 0, hash: '', signature: '' };
  }

  /** The seq of the last record that is not part of a head exchange (0: none). */
  private activity(): number {
    this.activityRow ??= this.o.store.db.prepare('SELECT seq FROM audit WHERE job != ? ORDER BY seq DESC LIMIT 1');
    return (this.activityRow.get(HEADS_JOB) as { seq: number } | undefined)?.seq ?? 0;
  }

  private activityRow: import('better-sqlite3').Statement | undefined;

  private ended(): number {
    this.endedRow ??= this.o.store.db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE status IN ('completed', 'failed', 'cancelled')");
    return (this.endedRow.get() as { n: number }).n;
  }

  private endedRow: import('better-sqlite3').Statement | undefined;

  start(): void {
    if (this.timer) return;
    this.endedJobs = this.ended();
    this.timer = setInterval(() => this.tick(), Math.min(1000, this.interval));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Exchange heads soon (a job ended, a peer sent its head). */
  nudge(): void {
    this.nudged = true;
  }

  private tick(): void {
    if (this.running) return;
    const ended = this.ended();
    const due = Date.now() - this.lastRound >= this.interval;
    const trigger = this.nudged || ended !== this.endedJobs || due;
    if (!trigger) return;
    this.nudged = false;
    this.endedJobs = ended;
    this.running = this.round(due).finally(() => (this.running = undefined));
  }

  /**
   * Exchange heads with every peer that has not seen this chain since its last activity. Peers whose
   * last exchange failed wait for the interval (`retryFailed`), so a peer that is down does not add
   * a failure record every second.
   */
  async round(retryFailed = true): Promise<void> {
    this.lastRound = Date.now();
    const act = this.activity();
    if (act === 0) return;
    for (const peer of this.o.peers.values()) {
      if (peer.name === this.o.name) continue;
      const seen = this.witnessed.get(peer.name) ?? 0;
      if (seen >= act || (seen < 0 && !retryFailed)) continue;
      try {
        await this.exchange(peer);
        this.witnessed.set(peer.name, act);
      } catch {
        // Recorded as delivery-failed by the client; retried at the next interval.
        this.witnessed.set(peer.name, -1);
      }
    }
  }

  private async exchange(peer: Peer): Promise<void> {
    const request: Envelope = { job: HEADS_JOB, protocol: 'audit', type: 'ChainHead', round: 0, from: 'node', to: 'node', body: { ...this.head() } };
    await this.o.client.exchange(peer, HEAD_EXCHANGE, request, { sent: {}, received: (r) => ({ head: this.checked(r.body, peer) }) });
  }

  /** A peer's head, checked: its own, signed by its pinned key. */
  private checked(body: Readonly<Record<string, unknown>>, peer: Peer): ChainHead {
    const h = body as unknown as ChainHead;
    if (h.node !== peer.name) throw new IndomainError('SRV_UNKNOWN_PARTY', `a chain head of "${h.node}" from "${peer.name}"`, { field: 'node' });
    if (!headSigned(h, peer.publicKey)) throw new IndomainError('SRV_BAD_SIGNATURE', `the chain head from "${peer.name}" is not signed by its pinned key`, { field: 'signature' });
    return { node: h.node, seq: h.seq, at: h.at, hash: h.hash, signature: h.signature };
  }

  /** The receiving side: record the sender's head, answer with ours (both records before the reply). */
  async answer(sender: string, bytes: Uint8Array): Promise<Uint8Array> {
    const { store, gate } = this.o;
    const env = decodeMessage(bytes);
    checkEnvelope(env, { protocol: 'audit', type: 'ChainHead', job: HEADS_JOB });
    gate.admit(env, sender);
    const peer = this.o.peers.get(sender);
    if (!peer) throw new IndomainError('SRV_UNKNOWN_PEER', `"${sender}"`);
    const head = this.checked(env.body, peer);
    const reply: Envelope = { job: HEADS_JOB, protocol: 'audit', type: 'ChainHead', round: 0, from: 'node', to: 'node', body: { ...this.head() } };
    gate.check(reply, sender);
    const out = encodeMessage(reply);
    const key = `${HEADS_JOB}|audit|${sha256(bytes).slice(0, 16)}`;
    await store.later(() => {
      store.audit.append('message-received', HEADS_JOB, { peer: sender, key, protocol: 'audit', type: 'ChainHead', round: 0, privacy: 'metadata', bytes: bytes.length, sha256: sha256(bytes), head });
      store.audit.append('message-sent', HEADS_JOB, { peer: sender, key: `${key}|reply`, protocol: 'audit', type: 'ChainHead', round: 0, privacy: 'metadata', bytes: out.length, sha256: sha256(out) });
    });
    this.nudge();
    return out;
  }
}
