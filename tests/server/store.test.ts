/**
 * The store's migrations: a new database gets every table at the latest version; a database written
 * by the code before migrations (its tables made by CREATE IF NOT EXISTS in store.ts, audit.ts,
 * authz.ts and monitor.ts, user_version 0; built here from those statements as they were) migrates
 * to the same schema with its rows kept, and the node works on it; a database from a newer version
 * is refused with SRV_STORE_VERSION and left as it was.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { isIndomainError } from '../../engine/errors.ts';
import { AuthorisationRegistry } from '../../server/authz.ts';
import { MIGRATIONS, SCHEMA_VERSION } from '../../server/store/migrations.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import { tempDir } from '../helpers/tmp.ts';

/** The statements the store, the audit log, the registry and monitoring ran before migrations. */
const OLD_SCHEMA = `
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
`;
/** authz.ts's statements (a platform); a bank's database had monitoring's instead, or neither. */
const OLD_AUTHZ = `
CREATE TABLE IF NOT EXISTS authorisations (id INTEGER PRIMARY KEY, uscc TEXT NOT NULL, bank TEXT NOT NULL, purpose TEXT NOT NULL,
  valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL, revoked_at INTEGER, source_ref TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS authorisations_key ON authorisations (bank, purpose, uscc);
`;

/** Every table, index and trigger with its SQL, and the version. */
function schemaOf(file: string): { version: number; objects: string[] } {
  const db = new Database(file, { readonly: true });
  try {
    const objects = (db.prepare("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as { type: string; name: string }[]).map((r) => `${r.type} ${r.name}`);
    return { version: db.pragma('user_version', { simple: true }) as number, objects };
  } finally {
    db.close();
  }
}

describe('store migrations', () => {
  it('numbers the migrations 1, 2, … and creates every table in them', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    const dir = tempDir('store-new-');
    new NodeStore(dir).close();
    const s = schemaOf(join(dir, 'node.db'));
    expect(s.version).toBe(SCHEMA_VERSION);
    for (const t of ['meta', 'nonces', 'datasets', 'jobs', 'inbox', 'outbox', 'approvals', 'models', 'secrets', 'audit', 'authorisations', 'monitor_snapshot', 'monitor_scores', 'alerts']) expect(s.objects).toContain(`table ${t}`);
  });

  it('migrates a database written before migrations, keeping its rows', () => {
    const fresh = tempDir('store-fresh-');
    new NodeStore(fresh).close();
    const dir = tempDir('store-old-');
    const old = new Database(join(dir, 'node.db'));
    old.exec(OLD_SCHEMA + OLD_AUTHZ);
    old.prepare("INSERT INTO jobs (id, spec, status, stage, progress, created_at, updated_at) VALUES ('j1', '{}', 'completed', 'evaluation', '{}', 1, 2)").run();
    old.prepare("INSERT INTO authorisations (uscc, bank, purpose, valid_from, valid_to, revoked_at, source_ref) VALUES ('U', 'bank-1', 'pre-loan', 0, 10, NULL, 'R')").run();
    expect(old.pragma('user_version', { simple: true })).toBe(0);
    old.close();

    const store = new NodeStore(dir);
    store.identity('platform');
    expect(store.job('j1')?.status).toBe('completed');
    const reg = new AuthorisationRegistry(store);
    expect(reg.query({ bank: 'bank-1' })).toHaveLength(1);
    // Monitoring's tables, which this database never had, are there now and usable.
    store.db.prepare("INSERT INTO alerts (model, run_at, kind, enterprise, detail) VALUES ('j1', 1, 'score-drop', NULL, '{}')").run();
    store.close();
    expect(schemaOf(join(dir, 'node.db'))).toEqual(schemaOf(join(fresh, 'node.db')));
  });

  it('refuses a database from a newer version with SRV_STORE_VERSION, leaving it as it was', () => {
    const dir = tempDir('store-newer-');
    new NodeStore(dir).close();
    const db = new Database(join(dir, 'node.db'));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    let code = '';
    try {
      new NodeStore(dir);
    } catch (e) {
      code = isIndomainError(e) ? e.code : String(e);
    }
    expect(code).toBe('SRV_STORE_VERSION');
    expect(schemaOf(join(dir, 'node.db')).version).toBe(SCHEMA_VERSION + 1);
  });
});
