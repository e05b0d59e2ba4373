/** A node's store: its database (core.ts), messages (messages.ts) and the tables of its jobs. */
import { parseCsv, readFingerprinted, type LoadOptions } from '../../engine/csv.ts';
import { randomBytes } from 'node:crypto';
import { IndomainError } from '../../engine/errors.ts';
import { secretRng, type Rng } from '../../engine/rng.ts';
import type { PartyTable } from '../../engine/table.ts';
import { MessageStore } from './messages.ts';

export type { InboxRow, MessageMeta, OutboxRow } from './messages.ts';
export { SYNC_MS } from './core.ts';

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
  /** SHA-256 (hex) of the file's bytes at registration (null: registered before fingerprints). */
  sha256: string | null;
}


/**
 * The table of a registered dataset, loaded with the options it was registered with, from bytes
 * whose SHA-256 must be `expected` (by default the fingerprint recorded at registration): a file
 * changed since is DATA_FINGERPRINT_MISMATCH, never used silently. Also returns the fingerprint.
 */
export function loadDatasetChecked(d: DatasetRow, expected: string | null = d.sha256): { table: PartyTable; sha256: string } {
  const f = readFingerprinted(d.path);
  if (expected !== null && f.sha256 !== expected) {
    throw new IndomainError('DATA_FINGERPRINT_MISMATCH', `pinned ${expected.slice(0, 16)}…, the file now has ${f.sha256.slice(0, 16)}…`, { field: `dataset "${d.name}"` });
  }
  return { table: parseCsv(f.text, JSON.parse(d.options) as LoadOptions, d.path), sha256: f.sha256 };
}

/** {@link loadDatasetChecked}'s table, against the fingerprint recorded at registration. */
export function loadDataset(d: DatasetRow): PartyTable {
  return loadDatasetChecked(d).table;
}

export class NodeStore extends MessageStore {
  private datasetRow: import('better-sqlite3').Statement | undefined;

  // Datasets.
  putDataset(d: Omit<DatasetRow, 'registeredAt'>): void {
    this.tx(() => {
      this.db
        .prepare('INSERT OR REPLACE INTO datasets (name, path, options, rows, features, registered_at, sha256) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(d.name, d.path, d.options, d.rows, d.features, Date.now(), d.sha256);
      this.audit.append('admin', '', { action: 'dataset-registered', name: d.name, path: d.path, rows: d.rows, features: JSON.parse(d.features) as unknown, sha256: d.sha256 });
    });
  }

  /** The fingerprint job `job` pinned for `dataset`, pinning `sha256` if it has none yet. */
  pinDataset(job: string, dataset: string, sha256: string): string {
    this.db.prepare('INSERT OR IGNORE INTO job_datasets (job, dataset, sha256, pinned_at) VALUES (?, ?, ?, ?)').run(job, dataset, sha256, Date.now());
    return (this.db.prepare('SELECT sha256 FROM job_datasets WHERE job = ? AND dataset = ?').get(job, dataset) as { sha256: string }).sha256;
  }
  /** The fingerprint job `job` pinned for `dataset`, if any. */
  pinnedDataset(job: string, dataset: string): string | undefined {
    return (this.db.prepare('SELECT sha256 FROM job_datasets WHERE job = ? AND dataset = ?').get(job, dataset) as { sha256: string } | undefined)?.sha256;
  }
  /** One registered dataset (a prepared statement: online scoring asks on every request). */
  dataset(name: string): DatasetRow | undefined {
    this.datasetRow ??= this.db.prepare('SELECT name, path, options, rows, features, registered_at AS registeredAt, sha256 FROM datasets WHERE name = ?');
    return this.datasetRow.get(name) as DatasetRow | undefined;
  }
  datasets(): DatasetRow[] {
    return this.db.prepare('SELECT name, path, options, rows, features, registered_at AS registeredAt, sha256 FROM datasets ORDER BY name').all() as DatasetRow[];
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
  /** Jobs whose status is not one of `terminal` (their specs, without reading finished jobs' results). */
  unfinishedJobs(terminal: readonly string[]): Pick<JobRow, 'id' | 'status' | 'stage'>[] {
    return this.db.prepare(`SELECT id, status, stage FROM jobs WHERE status NOT IN (${terminal.map(() => '?').join(', ')}) ORDER BY created_at`).all(...terminal) as Pick<JobRow, 'id' | 'status' | 'stage'>[];
  }
  jobs(): JobRow[] {
    return this.db.prepare('SELECT id, spec, status, stage, progress, result, error, created_at AS createdAt, updated_at AS updatedAt FROM jobs ORDER BY created_at').all() as JobRow[];
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
  /**
   * A job's dataset, read against the fingerprint the job pinned (on first read: the one recorded
   * at registration, which it then pins): other content is DATA_FINGERPRINT_MISMATCH.
   */
  loadPinned(job: string, name: string): { table: PartyTable; sha256: string } {
    const d = this.dataset(name);
    if (!d) throw new IndomainError('SRV_NOT_FOUND', `dataset "${name}" is not registered on this node`, { field: 'dataset' });
    const { table, sha256 } = loadDatasetChecked(d, this.pinnedDataset(job, name) ?? d.sha256);
    return { table, sha256: this.pinDataset(job, name, sha256) };
  }
  /**
   * A cryptographic stream for one purpose of a job, from a secret kept here (created from the OS
   * generator on first use): the same after a restart, so a replay repeats its messages, and
   * unknown to every other party.
   */
  secretStream(job: string, name: string): Rng {
    return secretRng(this.secret(job, name, () => randomBytes(32)), name);
  }
  /** A stored CKKS/BFV secret key of a job (after a restart) and where to keep a new one. */
  secretKey(job: string, name: string): { stored?: Uint8Array; keep: (b: Uint8Array) => void } {
    const stored = this.storedSecret(job, name);
    return { ...(stored ? { stored } : {}), keep: (b: Uint8Array) => this.keepSecret(job, name, b) };
  }
}
