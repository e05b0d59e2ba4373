/**
 * A node's durable state: one SQLite database (better-sqlite3, WAL, synchronous=FULL) under its
 * data directory. Identity key, nonces, datasets, jobs, every message received (the inbox, from
 * which a restarted node rebuilds its protocol state by replay) and every message to send (the
 * outbox, retried until the peer accepts it), and job secrets (CKKS secret keys, per-job seeds).
 */
import { close as closeFd, fdatasync, mkdirSync, open } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { AUDIT_SCHEMA, AuditLog } from './audit.ts';
import { identityFromSecret, newIdentity, MAX_SKEW_MS, type Identity, type NonceStore } from './signing.ts';

/** What the audit chain records of a message besides its bytes. */
export interface MessageMeta {
  protocol: string;
  type: string;
  round: number;
  privacy: string;
}

/** The longest a group-committed record waits for fsync. */
export const SYNC_MS = 200;

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

export interface JobRow {
  id: string;
  spec: string;
  status: string;
  stage: string;
  progress: string;
  result: string | null;
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface DatasetRow {
  name: string;
  path: string;
  options: string;
  rows: number;
  features: string;
  registeredAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (sender TEXT NOT NULL, nonce TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (sender, nonce));
CREATE TABLE IF NOT EXISTS datasets (name TEXT PRIMARY KEY, path TEXT NOT NULL, options TEXT NOT NULL, rows INTEGER NOT NULL, features TEXT NOT NULL, registered_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, spec TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL, progress TEXT NOT NULL,
  result TEXT, error TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, key TEXT NOT NULL UNIQUE, sender TEXT NOT NULL,
  bytes BLOB NOT NULL, size INTEGER NOT NULL, processed INTEGER NOT NULL DEFAULT 0, received_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS inbox_job ON inbox (job, seq);
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, key TEXT NOT NULL UNIQUE, to_node TEXT NOT NULL,
  bytes BLOB NOT NULL, size INTEGER NOT NULL, delivered INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS approvals (job TEXT PRIMARY KEY, decision TEXT NOT NULL, by TEXT NOT NULL, reason TEXT, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS models (job TEXT NOT NULL, name TEXT NOT NULL, model TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (job, name));
CREATE TABLE IF NOT EXISTS secrets (job TEXT NOT NULL, name TEXT NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (job, name));
`;

export class NodeStore implements NonceStore {
  readonly db: Database.Database;
  readonly audit: AuditLog;
  private id: Identity | undefined;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.db = new Database(join(dir, 'node.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(SCHEMA);
    this.db.exec(AUDIT_SCHEMA);
    this.audit = new AuditLog(this.db, () => {
      if (!this.id) throw new Error('the node identity must be loaded before auditing');
      return this.id;
    });
  }

  /** Run `f` in one transaction. */
  tx<T>(f: () => T): T {
    if (this.db.inTransaction) return f();
    this.audit.resetHead();
    return this.db.transaction(f)();
  }

  close(): void {
    if (this.pendingWrites.length) this.flush();
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    this.db.close();
  }

  /** This node's identity, created on first use. */
  identity(name: string): Identity {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get('ed25519-secret') as { value: Buffer } | undefined;
    if (row) return (this.id = identityFromSecret(name, new Uint8Array(row.value)));
    const id = newIdentity(name);
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('ed25519-secret', Buffer.from(id.secretKey));
    return (this.id = id);
  }

  /**
   * Claim a nonce: false if seen within the freshness window. Checked in memory (loaded from the
   * database on first use, so a restart keeps refusing replays) and persisted by group commit.
   */
  claim(sender: string, nonce: string, timestamp: number): boolean {
    const now = Date.now();
    if (!this.nonceCache) {
      this.nonceCache = new Map();
      for (const r of this.db.prepare('SELECT sender, nonce, ts FROM nonces WHERE ts >= ?').all(now - 2 * MAX_SKEW_MS) as { sender: string; nonce: string; ts: number }[]) {
        this.nonceCache.set(`${r.sender}|${r.nonce}`, r.ts);
      }
    }
    const k = `${sender}|${nonce}`;
    if (this.nonceCache.has(k)) return false;
    this.nonceCache.set(k, timestamp);
    if (now - this.noncePruned > 60_000) {
      this.noncePruned = now;
      for (const [key, ts] of this.nonceCache) if (ts < now - 2 * MAX_SKEW_MS) this.nonceCache.delete(key);
      void this.later(() => this.db.prepare('DELETE FROM nonces WHERE ts < ?').run(now - 2 * MAX_SKEW_MS));
    }
    this.nonceInsert ??= this.db.prepare('INSERT OR IGNORE INTO nonces (sender, nonce, ts) VALUES (?, ?, ?)');
    const ins = this.nonceInsert;
    void this.later(() => ins.run(sender, nonce, timestamp));
    return true;
  }

  private nonceCache: Map<string, number> | undefined;
  private nonceInsert: Database.Statement | undefined;
  private noncePruned = 0;
  private pendingWrites: (() => void)[] = [];
  private pendingWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushScheduled = false;

  /**
   * Group commit for the online path: run `write` in the next shared transaction (all writes
   * queued in the same turn of the event loop); resolves once committed. These transactions are
   * committed to the WAL without waiting for fsync (synchronous=NORMAL): durable against a crash
   * of the process as soon as they resolve, and against a crash of the machine once the WAL is
   * synced, which a timer does within {@link SYNC_MS} ms. Job messages and administrative
   * records keep synchronous=FULL. Measured: fsync per group cost online scoring a third of its
   * throughput here (7.8k → 11k requests/s, p99 18 → 12 ms).
   */
  later(write: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pendingWrites.push(write);
      this.pendingWaiters.push({ resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const writes = this.pendingWrites;
    const waiters = this.pendingWaiters;
    this.pendingWrites = [];
    this.pendingWaiters = [];
    this.flushScheduled = false;
    try {
      this.syncNormal ??= this.db.prepare('PRAGMA synchronous = NORMAL');
      this.syncFull ??= this.db.prepare('PRAGMA synchronous = FULL');
      this.syncNormal.run();
      try {
        this.tx(() => {
          this.audit.beginBatch();
          try {
            for (const w of writes) w();
          } finally {
            this.audit.endBatch();
          }
        });
      } finally {
        this.syncFull.run();
      }
      for (const w of waiters) w.resolve();
    } catch (e) {
      for (const w of waiters) w.reject(e);
    }
    this.syncSoon();
  }

  private syncTimer: NodeJS.Timeout | undefined;
  private syncNormal: import('better-sqlite3').Statement | undefined;
  private datasetRow: import('better-sqlite3').Statement | undefined;
  private syncFull: import('better-sqlite3').Statement | undefined;

  /** Within SYNC_MS, fdatasync the WAL file, off the event loop (libuv's thread pool). */
  private syncSoon(): void {
    if (this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      const wal = join(this.dir, 'node.db-wal');
      open(wal, 'r', (err, fd) => {
        if (err) return;
        fdatasync(fd, () => closeFd(fd, () => {}));
      });
    }, SYNC_MS);
    this.syncTimer.unref();
  }

  // Datasets.
  putDataset(d: Omit<DatasetRow, 'registeredAt'>): void {
    this.tx(() => {
      this.db
        .prepare('INSERT OR REPLACE INTO datasets (name, path, options, rows, features, registered_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(d.name, d.path, d.options, d.rows, d.features, Date.now());
      this.audit.append('admin', '', { action: 'dataset-registered', name: d.name, path: d.path, rows: d.rows, features: JSON.parse(d.features) as unknown });
    });
  }
  /** One registered dataset (a prepared statement: online scoring asks on every request). */
  dataset(name: string): DatasetRow | undefined {
    this.datasetRow ??= this.db.prepare('SELECT name, path, options, rows, features, registered_at AS registeredAt FROM datasets WHERE name = ?');
    return this.datasetRow.get(name) as DatasetRow | undefined;
  }
  datasets(): DatasetRow[] {
    return this.db.prepare('SELECT name, path, options, rows, features, registered_at AS registeredAt FROM datasets ORDER BY name').all() as DatasetRow[];
  }

  // Jobs.
  putJob(id: string, spec: string): void {
    const now = Date.now();
    this.db
      .prepare("INSERT OR IGNORE INTO jobs (id, spec, status, stage, progress, created_at, updated_at) VALUES (?, ?, 'created', '', '{}', ?, ?)")
      .run(id, spec, now, now);
  }
  updateJob(id: string, fields: Partial<Pick<JobRow, 'status' | 'stage' | 'progress' | 'result' | 'error'>>): void {
    const sets = Object.keys(fields).map((k) => `${k} = @${k}`);
    this.db.prepare(`UPDATE jobs SET ${[...sets, 'updated_at = @now'].join(', ')} WHERE id = @id`).run({ ...fields, id, now: Date.now() });
  }
  job(id: string): JobRow | undefined {
    return this.db.prepare('SELECT id, spec, status, stage, progress, result, error, created_at AS createdAt, updated_at AS updatedAt FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
  }
  jobs(): JobRow[] {
    return this.db.prepare('SELECT id, spec, status, stage, progress, result, error, created_at AS createdAt, updated_at AS updatedAt FROM jobs ORDER BY created_at').all() as JobRow[];
  }

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

  // Job approval by the platform's analyst (or the auto-approval setting), audited.
  decide(job: string, decision: 'approved' | 'refused', by: string, reason?: string): void {
    this.tx(() => {
      this.db.prepare('INSERT OR REPLACE INTO approvals (job, decision, by, reason, at) VALUES (?, ?, ?, ?, ?)').run(job, decision, by, reason ?? null, Date.now());
      this.audit.append('admin', job, { action: decision === 'approved' ? 'job-approved' : 'job-refused', by, ...(reason ? { reason } : {}) });
    });
  }
  decision(job: string): 'approved' | 'refused' | undefined {
    return (this.db.prepare('SELECT decision FROM approvals WHERE job = ?').get(job) as { decision: 'approved' | 'refused' } | undefined)?.decision;
  }

  // Models: what this node holds of each job's model (its own weights, points tables, reports).
  putModel(job: string, name: string, model: unknown): void {
    this.db.prepare('INSERT OR REPLACE INTO models (job, name, model, created_at) VALUES (?, ?, ?, ?)').run(job, name, JSON.stringify(model), Date.now());
  }
  model(job: string, name: string): unknown {
    const r = this.db.prepare('SELECT model FROM models WHERE job = ? AND name = ?').get(job, name) as { model: string } | undefined;
    return r ? (JSON.parse(r.model) as unknown) : undefined;
  }

  // Secrets (CKKS secret keys, per-job seeds): never sent anywhere.
  storedSecret(job: string, name: string): Uint8Array | undefined {
    const row = this.db.prepare('SELECT bytes FROM secrets WHERE job = ? AND name = ?').get(job, name) as { bytes: Buffer } | undefined;
    return row ? new Uint8Array(row.bytes) : undefined;
  }
  keepSecret(job: string, name: string, bytes: Uint8Array): void {
    this.db.prepare('INSERT OR REPLACE INTO secrets (job, name, bytes) VALUES (?, ?, ?)').run(job, name, Buffer.from(bytes));
  }
  secret(job: string, name: string, make: () => Uint8Array): Uint8Array {
    const row = this.db.prepare('SELECT bytes FROM secrets WHERE job = ? AND name = ?').get(job, name) as { bytes: Buffer } | undefined;
    if (row) return new Uint8Array(row.bytes);
    const bytes = make();
    this.db.prepare('INSERT INTO secrets (job, name, bytes) VALUES (?, ?, ?)').run(job, name, Buffer.from(bytes));
    return bytes;
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
