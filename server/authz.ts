/**
 * The platform's authorisation registry: per enterprise (USCC), which bank may use its data, for
 * which purpose, from when to when, whether revoked, and the source document. Every change is an
 * audit record carrying the change itself, so a verifier can rebuild the registry at any moment
 * from the audit chain alone (server/audit-verify.ts).
 */
import { createHash } from 'node:crypto';
import { csvRows, readRegularFile } from '../engine/csv.ts';
import { IndomainError } from '../engine/errors.ts';
import { usccProblem } from '../engine/uscc.ts';
import type { DataFile } from './data-root.ts';
import type { NodeStore } from './store/node-store.ts';

export const PURPOSES = ['modelling', 'pre-loan', 'in-loan', 'post-loan'] as const;
export type Purpose = (typeof PURPOSES)[number];
/**
 * The purposes an enterprise's score may be asked for. `modelling` is not one: an enterprise that
 * consented to its data training a model has not consented to being scored, so a scoring request
 * under it is refused (tests/attacks/score-purpose.test.ts).
 */
export const SCORING_PURPOSES = ['pre-loan', 'in-loan', 'post-loan'] as const satisfies readonly Purpose[];

export interface Authorisation {
  uscc: string;
  bank: string;
  purpose: Purpose;
  /** Epoch milliseconds. */
  validFrom: number;
  validTo: number;
  revokedAt: number | null;
  sourceRef: string;
}

export type Exclusion = 'missing' | 'expired' | 'revoked' | 'not-yet-valid';

/** Whether one authorisation (or the best of several) covers time `at`; why not otherwise. */
export function status(records: readonly Authorisation[], at: number): 'valid' | Exclusion {
  if (records.length === 0) return 'missing';
  let best: Exclusion = 'missing';
  for (const r of records) {
    if (r.revokedAt !== null && r.revokedAt <= at) best = 'revoked';
    else if (at < r.validFrom) best = best === 'missing' ? 'not-yet-valid' : best;
    else if (at > r.validTo) best = best === 'missing' || best === 'not-yet-valid' ? 'expired' : best;
    else return 'valid';
  }
  return best;
}

function parseTime(s: string, field: string, line: number, file: string): number {
  const t = Date.parse(s.length === 10 ? `${s}T00:00:00Z` : s);
  if (!Number.isFinite(t)) throw new IndomainError('AUTH_BAD_RECORD', 'not a date (YYYY-MM-DD or ISO 8601)', { file, line, field });
  return t;
}

/** Check one record; errors name the file, line and field, never a value of the record. */
export function checkRecord(r: Record<string, string>, line: number, file: string): Authorisation {
  const need = (f: string) => {
    const v = r[f];
    if (v === undefined || v === '') throw new IndomainError('AUTH_BAD_RECORD', 'required', { file, line, field: f });
    return v;
  };
  const uscc = need('uscc');
  const p = usccProblem(uscc);
  if (p) throw new IndomainError('AUTH_BAD_RECORD', p, { file, line, field: 'uscc' });
  const purpose = need('purpose');
  if (!(PURPOSES as readonly string[]).includes(purpose)) throw new IndomainError('AUTH_BAD_RECORD', `purpose must be one of ${PURPOSES.join(', ')}`, { file, line, field: 'purpose' });
  const validFrom = parseTime(need('valid_from'), 'valid_from', line, file);
  const validTo = parseTime(need('valid_to'), 'valid_to', line, file);
  if (validTo < validFrom) throw new IndomainError('AUTH_BAD_RECORD', 'valid_to is before valid_from', { file, line, field: 'valid_to' });
  const revoked = r.revoked_at ?? '';
  return { uscc, bank: need('bank'), purpose: purpose as Purpose, validFrom, validTo, revokedAt: revoked === '' ? null : parseTime(revoked, 'revoked_at', line, file), sourceRef: need('source_ref') };
}

/**
 * Check every line of an authorisation CSV (uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref):
 * the records of the good lines and one coded error per bad line (naming file, line and field).
 */
export function checkCsv(text: string, name: string): { records: Authorisation[]; problems: IndomainError[] } {
  const rows = csvRows(text, name);
  const header = rows[0] ?? [];
  for (const f of ['uscc', 'bank', 'purpose', 'valid_from', 'valid_to', 'source_ref']) {
    if (!header.includes(f)) return { records: [], problems: [new IndomainError('AUTH_BAD_RECORD', 'missing column', { file: name, line: 1, field: f })] };
  }
  const records: Authorisation[] = [];
  const problems: IndomainError[] = [];
  rows.slice(1).forEach((cells, i) => {
    try {
      records.push(checkRecord(Object.fromEntries(header.map((h, j) => [h, cells[j] ?? ''])), i + 2, name));
    } catch (e) {
      if (e instanceof IndomainError) problems.push(e);
      else throw e;
    }
  });
  return { records, problems };
}

export class AuthorisationRegistry {
  /**
   * Records per (bank, purpose), then per enterprise, read once from the database for online
   * checks; every change goes through this registry, which drops the copy (a revocation takes
   * effect on the next check).
   */
  private readonly cached = new Map<string, Map<string, Authorisation[]>>();

  constructor(private readonly store: NodeStore) {}

  /** Run a change and drop the cached records, whether or not the change commits. */
  private change<T>(f: () => T): T {
    this.cached.clear();
    try {
      return this.store.tx(f);
    } finally {
      this.cached.clear();
    }
  }

  private insert(a: Authorisation): void {
    this.store.db
      .prepare('INSERT INTO authorisations (uscc, bank, purpose, valid_from, valid_to, revoked_at, source_ref) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(a.uscc, a.bank, a.purpose, a.validFrom, a.validTo, a.revokedAt, a.sourceRef);
  }

  /**
   * Import a CSV (uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref): all or nothing.
   * A path is read as a local file; the admin API passes a file already read under the node's data
   * root ({@link DataFile}), and errors then name it relative to the root.
   */
  importCsv(source: string | DataFile): { imported: number } {
    const { path, name, text } = typeof source === 'string' ? { path: source, name: source, text: readRegularFile(source) } : source;
    const { records, problems } = checkCsv(text, name);
    if (problems.length > 0) throw problems[0]!;
    return this.importChecked(records, path, text);
  }

  /** Import records already checked by {@link checkCsv} (one audit record names the source and its SHA-256). */
  importChecked(recs: readonly Authorisation[], source: string, text: string): { imported: number } {
    this.change(() => {
      for (const a of recs) this.insert(a);
      this.store.audit.append('admin', '', { action: 'authorisations-imported', source, sha256: createHash('sha256').update(text).digest('hex'), records: recs });
    });
    return { imported: recs.length };
  }

  grant(a: Authorisation): void {
    this.change(() => {
      this.insert(a);
      this.store.audit.append('admin', '', { action: 'authorisation-granted', records: [a] });
    });
  }

  /** Revoke every authorisation of (uscc, bank, purpose) that is not yet revoked, as of `at`; the reason goes into the audit record. */
  revoke(uscc: string, bank: string, purpose: Purpose, at = Date.now(), reason?: string): number {
    return this.change(() => {
      const r = this.store.db.prepare('UPDATE authorisations SET revoked_at = ? WHERE uscc = ? AND bank = ? AND purpose = ? AND revoked_at IS NULL').run(at, uscc, bank, purpose);
      this.store.audit.append('admin', '', { action: 'authorisation-revoked', uscc, bank, purpose, at, ...(reason ? { reason } : {}) });
      return r.changes;
    });
  }

  /** Records matching the filter, in import order, at most `limit` (10 000 by default). */
  query(filter: { uscc?: string; bank?: string }, limit = 10_000): Authorisation[] {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.uscc) (where.push('uscc = ?'), args.push(filter.uscc));
    if (filter.bank) (where.push('bank = ?'), args.push(filter.bank));
    const rows = this.store.db
      .prepare(`SELECT uscc, bank, purpose, valid_from AS validFrom, valid_to AS validTo, revoked_at AS revokedAt, source_ref AS sourceRef FROM authorisations ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id${Number.isFinite(limit) ? ` LIMIT ${Math.floor(limit)}` : ''}`)
      .all(...args);
    return rows as Authorisation[];
  }

  /** The authorisation status of one enterprise for (bank, purpose) at `at` (indexed lookup). */
  check(uscc: string, bank: string, purpose: Purpose, at: number): 'valid' | Exclusion {
    const k = `${bank}\u0000${purpose}`;
    let by = this.cached.get(k);
    if (!by) this.cached.set(k, (by = this.byEnterprise(bank, purpose)));
    return status(by.get(uscc) ?? [], at);
  }

  /** Every record of one bank for one purpose: what that bank's copy holds (server/grants.ts). */
  records(bank: string, purpose: Purpose): Authorisation[] {
    return [...this.byEnterprise(bank, purpose).values()].flat();
  }

  private byEnterprise(bank: string, purpose: Purpose): Map<string, Authorisation[]> {
    const rows = this.store.db
      .prepare('SELECT uscc, bank, purpose, valid_from AS validFrom, valid_to AS validTo, revoked_at AS revokedAt, source_ref AS sourceRef FROM authorisations WHERE bank = ? AND purpose = ?')
      .all(bank, purpose) as Authorisation[];
    const by = new Map<string, Authorisation[]>();
    for (const r of rows) {
      const l = by.get(r.uscc);
      if (l) l.push(r);
      else by.set(r.uscc, [r]);
    }
    return by;
  }

  /** Split ids into those authorised for (bank, purpose) at `at` and counts of the others by reason. */
  filter(ids: readonly string[], bank: string, purpose: Purpose, at: number): { allowed: string[]; excluded: Record<Exclusion, number> } {
    const by = this.byEnterprise(bank, purpose);
    const excluded: Record<Exclusion, number> = { missing: 0, expired: 0, revoked: 0, 'not-yet-valid': 0 };
    const allowed: string[] = [];
    for (const id of ids) {
      const s = status(by.get(id) ?? [], at);
      if (s === 'valid') allowed.push(id);
      else excluded[s]++;
    }
    return { allowed, excluded };
  }
}
