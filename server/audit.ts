/**
 * The audit chain of a node: append-only, hash-chained, Ed25519-signed records in the node's
 * SQLite database, written in the same transaction as what they record (a received message is
 * recorded with its inbox row, a sent one when its peer accepts it) with synchronous=FULL, so an
 * acknowledged record survives a crash.
 *
 * Record n: hash_n = SHA-256("indomain-audit-v1\n" n "\n" at "\n" kind "\n" job "\n" body "\n" hash_{n−1}),
 * signature_n = Ed25519(node key, hash_n); hash_0 is 64 zeros. `body` is the record's canonical
 * JSON (keys sorted). Kinds: `message-sent`, `message-received`, `egress-blocked`, `delivery-refused`,
 * `data-access`, `psi-input`, `admin`, `policy`.
 */
import { createHash } from 'node:crypto';
import { sign } from './ed25519.ts';
import type Database from 'better-sqlite3';
import type { Identity } from './signing.ts';

export type AuditKind = 'message-sent' | 'message-received' | 'egress-blocked' | 'delivery-refused' | 'data-access' | 'psi-input' | 'admin' | 'policy';

export const GENESIS = '0'.repeat(64);

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

export const AUDIT_SCHEMA = `
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, job TEXT NOT NULL,
  body TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL, signature TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;
`;

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
  constructor(
    private readonly db: Database.Database,
    private readonly identity: () => Identity,
  ) {}

  /** Append a record; call inside the transaction that does what it records. */
  append(kind: AuditKind, job: string, body: Record<string, unknown>, at = Date.now()): AuditRecord {
    const last = this.db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
    const seq = (last?.seq ?? 0) + 1;
    const prev = last?.hash ?? GENESIS;
    const text = canonicalJson(body);
    const hash = recordHash(seq, at, kind, job, text, prev);
    const signature = Buffer.from(sign(Buffer.from(hash, 'hex'), this.identity().secretKey)).toString('base64');
    this.db.prepare('INSERT INTO audit (seq, at, kind, job, body, prev, hash, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(seq, at, kind, job, text, prev, hash, signature);
    return { seq, at, kind, job, body: text, prev, hash, signature };
  }

  records(kind?: AuditKind): AuditRecord[] {
    return (kind
      ? this.db.prepare('SELECT * FROM audit WHERE kind = ? ORDER BY seq').all(kind)
      : this.db.prepare('SELECT * FROM audit ORDER BY seq').all()) as AuditRecord[];
  }
}
