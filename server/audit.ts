/**
 * The audit chain of a node: append-only, hash-chained, Ed25519-signed records in the node's
 * SQLite database, written in the same transaction as what they record (a received message is
 * recorded with its inbox row, a sent one when its peer accepts it) with synchronous=FULL, so an
 * acknowledged record survives a crash.
 *
 * Record n: hash_n = SHA-256("indomain-audit-v1\n" n "\n" at "\n" kind "\n" job "\n" body "\n" hash_{n−1}),
 * signature_n = Ed25519(node key, hash_n); hash_0 is 64 zeros. Records written together by a group
 * commit (the online scoring path) are signed once, on the last of them: its signature covers the
 * earlier ones through the hash chain, and their own signature field is empty. The chain's last
 * record is always signed. `body` is the record's canonical
 * JSON (keys sorted). Kinds: `message-sent`, `message-received`, `egress-blocked`, `ingress-refused`, `delivery-refused`,
 * `delivery-failed` (a signed exchange this node started got no valid reply: the peer was down, it
 * refused, or this node stopped first; with the code), `data-access`, `psi-input`, `admin`, `policy`.
 *
 * Anchoring (server/audit-heads.ts): a chain's head is its last record's seq, time, hash and
 * signature. Nodes exchange heads (`audit/ChainHead`, job {@link HEADS_JOB}) and each records the
 * other's in its own chain; the regulator pulls heads into its own anchor file
 * (server/audit-anchor.ts). A chain later cut, rolled back or rewritten no longer holds a head
 * that another chain or the anchor recorded.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Identity } from './signing.ts';

export type AuditKind = 'message-sent' | 'message-received' | 'egress-blocked' | 'ingress-refused' | 'delivery-refused' | 'delivery-failed' | 'data-access' | 'psi-input' | 'admin' | 'policy';

export const GENESIS = '0'.repeat(64);

/** The job field of the chain-head exchanges between nodes (not a job id: those cannot hold "@"). */
export const HEADS_JOB = '@heads';

/** A chain's head: its last record, as the node signed it. */
export interface ChainHead {
  node: string;
  seq: number;
  at: number;
  hash: string;
  signature: string;
}

export interface AuditRecord {
  seq: number;
  at: number;
  kind: AuditKind;
  job: string;
  body: string;
  prev: string;
  hash: string;
  signature: string;
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

export function recordHash(seq: number, at: number, kind: string, job: string, body: string, prev: string): string {
  return createHash('sha256').update(['indomain-audit-v1', seq, at, kind, job, body, prev].join('\n')).digest('hex');
}

export class AuditLog {
  /** The chain's head as last written; re-read after a rolled-back transaction. */
  private head: { seq: number; hash: string } | undefined;
  private readonly insert: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly identity: () => Identity,
  ) {
    this.insert = db.prepare('INSERT INTO audit (seq, at, kind, job, body, prev, hash, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  }

  private batch: (string | number)[][] | undefined;

  /** Start a group: records are hashed now, inserted at {@link endBatch} with one signature. */
  beginBatch(): void {
    this.batch = [];
  }

  endBatch(): void {
    const rows = this.batch ?? [];
    this.batch = undefined;
    if (rows.length === 0) return;
    const last = rows[rows.length - 1]!;
    last[7] = Buffer.from(this.identity().sign(Buffer.from(String(last[6]), 'hex'))).toString('base64');
    for (const r of rows) this.insert.run(...r);
  }

  private lastRow: import('better-sqlite3').Statement | undefined;

  /** Forget the cached head: called as each transaction starts (a rolled-back one leaves it stale). */
  resetHead(): void {
    this.head = undefined;
  }

  private last(): { seq: number; hash: string } {
    if (!this.head) {
      this.lastRow ??= this.db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
      const r = this.lastRow.get() as { seq: number; hash: string } | undefined;
      this.head = r ?? { seq: 0, hash: GENESIS };
    }
    return this.head;
  }

  /** Append a record; call inside the transaction that does what it records. */
  append(kind: AuditKind, job: string, body: Record<string, unknown>, at = Date.now()): AuditRecord {
    const last = this.last();
    const seq = last.seq + 1;
    const prev = last.hash;
    const text = canonicalJson(body);
    const hash = recordHash(seq, at, kind, job, text, prev);
    this.head = { seq, hash };
    if (this.batch) {
      this.batch.push([seq, at, kind, job, text, prev, hash, '']);
      return { seq, at, kind, job, body: text, prev, hash, signature: '' };
    }
    const signature = Buffer.from(this.identity().sign(Buffer.from(hash, 'hex'))).toString('base64');
    this.insert.run(seq, at, kind, job, text, prev, hash, signature);
    return { seq, at, kind, job, body: text, prev, hash, signature };
  }

  /** The committed, signed head of the chain (the last record of a group commit is always signed). */
  committedHead(node: string): ChainHead | undefined {
    this.headRow ??= this.db.prepare('SELECT seq, at, hash, signature FROM audit ORDER BY seq DESC LIMIT 1');
    const r = this.headRow.get() as Omit<ChainHead, 'node'> | undefined;
    return r && { node, ...r };
  }

  private headRow: import('better-sqlite3').Statement | undefined;

  records(kind?: AuditKind): AuditRecord[] {
    return (kind
      ? this.db.prepare('SELECT * FROM audit WHERE kind = ? ORDER BY seq').all(kind)
      : this.db.prepare('SELECT * FROM audit ORDER BY seq').all()) as AuditRecord[];
  }
}
