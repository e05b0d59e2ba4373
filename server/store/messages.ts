/** The inbox and outbox of a node's job messages, and the traffic they add up to. */
import { sha256Hex as sha256 } from '../signing.ts';
import { CoreStore } from './core.ts';

/** What the audit chain records of a message besides its bytes. */
export interface MessageMeta {
  protocol: string;
  type: string;
  round: number;
  privacy: string;
}

export interface InboxRow {
  seq: number;
  job: string;
  key: string;
  sender: string;
  bytes: Uint8Array;
  processed: number;
  /** Arrival time (ms): the time a replay sees too. */
  receivedAt: number;
}

export interface OutboxRow {
  seq: number;
  job: string;
  key: string;
  toNode: string;
  bytes: Uint8Array;
}

export class MessageStore extends CoreStore {
  // Inbox: durable, and audited, before the sender gets its acknowledgement; duplicates (same key) ignored.
  receive(job: string, key: string, sender: string, bytes: Uint8Array, meta: MessageMeta): boolean {
    return this.tx(() => {
      const r = this.db.prepare('INSERT OR IGNORE INTO inbox (job, key, sender, bytes, size, received_at) VALUES (?, ?, ?, ?, ?, ?)').run(job, key, sender, Buffer.from(bytes), bytes.length, Date.now());
      if (r.changes !== 1) return false;
      // The coordinator's own job-creation record is audited by the caller (with the spec).
      if (sender !== this.id?.name) this.audit.append('message-received', job, { peer: sender, key, ...meta, bytes: bytes.length, sha256: sha256(bytes) });
      return true;
    });
  }
  inbox(job: string): InboxRow[] {
    return (this.db.prepare('SELECT seq, job, key, sender, bytes, processed, received_at AS receivedAt FROM inbox WHERE job = ? ORDER BY seq').all(job) as (InboxRow & { bytes: Buffer })[]).map((r) => ({ ...r, bytes: new Uint8Array(r.bytes) }));
  }
  /** The keys of a job's received messages, in order (without reading their bodies). */
  inboxKeys(job: string): string[] {
    return (this.db.prepare('SELECT key FROM inbox WHERE job = ? ORDER BY seq').all(job) as { key: string }[]).map((r) => r.key);
  }
  /** The first inbox row of a job after sequence number `seq`. */
  inboxAfter(job: string, seq: number): InboxRow | undefined {
    const r = this.db.prepare('SELECT seq, job, key, sender, bytes, processed, received_at AS receivedAt FROM inbox WHERE job = ? AND seq > ? ORDER BY seq LIMIT 1').get(job, seq) as (InboxRow & { bytes: Buffer }) | undefined;
    return r && { ...r, bytes: new Uint8Array(r.bytes) };
  }
  /** Mark an inbox row processed and queue its outputs, atomically. */
  commit(seq: number | null, job: string, outputs: readonly { key: string; toNode: string; bytes: Uint8Array }[]): void {
    this.tx(() => {
      if (seq !== null) this.db.prepare('UPDATE inbox SET processed = 1 WHERE seq = ?').run(seq);
      const ins = this.db.prepare('INSERT OR IGNORE INTO outbox (job, key, to_node, bytes, size, created_at) VALUES (?, ?, ?, ?, ?, ?)');
      for (const o of outputs) ins.run(job, o.key, o.toNode, Buffer.from(o.bytes), o.bytes.length, Date.now());
    });
  }
  undelivered(): OutboxRow[] {
    return (this.db.prepare('SELECT seq, job, key, to_node AS toNode, bytes FROM outbox WHERE delivered = 0 ORDER BY seq').all() as (OutboxRow & { bytes: Buffer })[]).map((r) => ({
      ...r,
      bytes: new Uint8Array(r.bytes),
    }));
  }
  /** The peer accepted an outbox row: mark it and record the message as sent. */
  delivered(row: OutboxRow, meta: MessageMeta): void {
    this.tx(() => {
      this.db.prepare('UPDATE outbox SET delivered = 1 WHERE seq = ?').run(row.seq);
      this.audit.append('message-sent', row.job, { peer: row.toNode, key: row.key, ...meta, bytes: row.bytes.length, sha256: sha256(row.bytes) });
    });
  }
  /** An outbox row that will never be delivered (refused by its peer). */
  abandoned(row: OutboxRow, reason: string): void {
    this.tx(() => {
      this.db.prepare('UPDATE outbox SET delivered = 2 WHERE seq = ?').run(row.seq);
      this.audit.append('delivery-refused', row.job, { peer: row.toNode, key: row.key, reason, sha256: sha256(row.bytes) });
    });
  }
  /** Bytes sent to and received from each peer, for a job (or all jobs). */
  traffic(job?: string): { sent: Record<string, number>; received: Record<string, number> } {
    const w = job ? 'WHERE job = ?' : '';
    const args = job ? [job] : [];
    // Sizes are stored with the rows: summing blob lengths would read every blob.
    const sent = this.db.prepare(`SELECT to_node AS peer, SUM(size) AS n FROM outbox ${w} GROUP BY to_node`).all(...args) as { peer: string; n: number }[];
    const received = this.db.prepare(`SELECT sender AS peer, SUM(size) AS n FROM inbox ${w} GROUP BY sender`).all(...args) as { peer: string; n: number }[];
    return { sent: Object.fromEntries(sent.map((r) => [r.peer, r.n])), received: Object.fromEntries(received.map((r) => [r.peer, r.n])) };
  }
}
