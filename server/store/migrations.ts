/**
 * Every table of a node's database, created by numbered migrations, in this one place. The
 * database's `user_version` is the last migration applied. Opening a database runs the migrations
 * after its version, each in its own transaction with the version bump; one written by a newer
 * version of indomain (a higher `user_version`) is refused with SRV_STORE_VERSION, never opened.
 *
 * Version 0 is a database from before migrations (its tables were created with IF NOT EXISTS by the
 * store, the audit log, the authorisation registry and monitoring, some perhaps not yet), so every
 * statement here keeps IF NOT EXISTS: a version-0 database migrates to the same schema as a new one.
 * A later migration that changes a table must say how it treats both.
 */
import type Database from 'better-sqlite3';
import { IndomainError } from '../../engine/errors.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'node: identity, nonces, datasets, jobs, inbox, outbox, approvals, models, secrets; the audit chain',
    sql: `
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
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, job TEXT NOT NULL,
  body TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL, signature TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;
`,
  },
  {
    version: 2,
    name: "the platform's authorisation registry",
    sql: `
CREATE TABLE IF NOT EXISTS authorisations (id INTEGER PRIMARY KEY, uscc TEXT NOT NULL, bank TEXT NOT NULL, purpose TEXT NOT NULL,
  valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL, revoked_at INTEGER, source_ref TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS authorisations_key ON authorisations (bank, purpose, uscc);
`,
  },
  {
    version: 3,
    name: "post-loan monitoring: the platform's snapshots, the bank's scores and alerts",
    sql: `
CREATE TABLE IF NOT EXISTS monitor_snapshot (model TEXT NOT NULL, id TEXT NOT NULL, column TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (model, id, column));
CREATE TABLE IF NOT EXISTS monitor_scores (model TEXT NOT NULL, id TEXT NOT NULL, score INTEGER NOT NULL, band TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (model, id));
CREATE TABLE IF NOT EXISTS alerts (seq INTEGER PRIMARY KEY, model TEXT NOT NULL, run_at INTEGER NOT NULL, kind TEXT NOT NULL, enterprise TEXT, detail TEXT NOT NULL);
`,
  },
  {
    version: 4,
    name: "datasets' content fingerprints (SHA-256) and the fingerprint each job pinned",
    // A database of any earlier version has the datasets table of migration 1, without the column.
    // Datasets registered before this migration have no fingerprint: a job pins what it reads first.
    sql: `
ALTER TABLE datasets ADD COLUMN sha256 TEXT;
CREATE TABLE IF NOT EXISTS job_datasets (job TEXT NOT NULL, dataset TEXT NOT NULL, sha256 TEXT NOT NULL, pinned_at INTEGER NOT NULL, PRIMARY KEY (job, dataset));
`,
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Bring a database to {@link SCHEMA_VERSION}; returns the versions applied. */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const latest = migrations[migrations.length - 1]!.version;
  const at = db.pragma('user_version', { simple: true }) as number;
  if (at > latest) throw new IndomainError('SRV_STORE_VERSION', `schema version ${at}, this version of indomain knows up to ${latest}`);
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= at) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
    applied.push(m.version);
  }
  return applied;
}
