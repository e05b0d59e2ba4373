/**
 * What `indomain audit verify` and `indomain audit anchor` read: the nodes' audit chains from their
 * data directories, the regulator's keys file, and the regulator's anchor file. Anything that
 * cannot be read is a coded error naming the file (AUDIT_UNREADABLE, AUDIT_BAD_KEYS,
 * AUDIT_BAD_ANCHOR), never a stack trace.
 *
 * Keys. With the regulator's own keys file (`--keys`, the nodes' public keys as the regulator
 * recorded them when each node was admitted; the peers.json form `{ nodes: [{ name, publicKey }] }`)
 * every chain is checked under that key only. Without it, a chain's key comes from the peers.json
 * or identity.json found beside the records, which whoever can rewrite the records can rewrite too:
 * the result then says it is unpinned.
 *
 * Anchor file: `{ format: "indomain-anchor-v1", heads: [{ node, seq, at, hash, signature, pulledAt, source }] }`,
 * every head the regulator pulled, oldest first (server/audit-anchor.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { IndomainError } from '../engine/errors.ts';
import type { AuditRecord, ChainHead } from './audit.ts';

/** Where a chain's key came from. */
export type KeySource = 'regulator' | 'peers.json' | 'identity.json';

export interface NodeChain {
  name: string;
  dir: string;
  /** Undefined: the regulator's keys file has no key for this node. */
  publicKey: Uint8Array | undefined;
  keySource: KeySource;
  /** The key is from the regulator's file or a peers.json (compatibility: `pinned` of old results). */
  pinned: boolean;
  records: AuditRecord[];
}

export interface AnchoredHead extends ChainHead {
  /** When the regulator pulled it (ms), and from where (a URL or a directory). */
  pulledAt: number;
  source: string;
}

export interface AnchorFile {
  format: 'indomain-anchor-v1';
  heads: AnchoredHead[];
}

const KEY_BYTES = 32;

function readJson(path: string, code: 'AUDIT_UNREADABLE' | 'AUDIT_BAD_KEYS' | 'AUDIT_BAD_ANCHOR', what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new IndomainError(code, `cannot read ${what}`, { file: path });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new IndomainError(code, `${what} is not JSON`, { file: path });
  }
}

/** The regulator's keys: node name → Ed25519 public key. */
export function readKeys(path: string): Map<string, Uint8Array> {
  const raw = readJson(path, 'AUDIT_BAD_KEYS', 'the keys file') as { nodes?: unknown };
  if (!raw || typeof raw !== 'object' || !Array.isArray(raw.nodes) || raw.nodes.length === 0) throw new IndomainError('AUDIT_BAD_KEYS', 'expected { nodes: [{ name, publicKey }, ...] }', { file: path });
  const keys = new Map<string, Uint8Array>();
  raw.nodes.forEach((n: unknown, i: number) => {
    const o = n as { name?: unknown; publicKey?: unknown };
    const key = typeof o?.publicKey === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(o.publicKey) ? Buffer.from(o.publicKey, 'base64') : undefined;
    if (typeof o?.name !== 'string' || o.name === '' || !key || key.length !== KEY_BYTES) throw new IndomainError('AUDIT_BAD_KEYS', `node ${i} needs a name and a 32-byte base64 publicKey`, { file: path, field: `nodes[${i}]` });
    if (keys.has(o.name)) throw new IndomainError('AUDIT_BAD_KEYS', `node "${o.name}" is listed twice`, { file: path, field: `nodes[${i}]` });
    keys.set(o.name, new Uint8Array(key));
  });
  return keys;
}

const HEAD_FIELDS = { node: 'string', seq: 'number', at: 'number', hash: 'string', signature: 'string', pulledAt: 'number', source: 'string' } as const;

/** The regulator's anchor file (an empty one if `mayBeMissing` and there is none yet). */
export function readAnchor(path: string, mayBeMissing = false): AnchorFile {
  if (mayBeMissing && !existsSync(path)) return { format: 'indomain-anchor-v1', heads: [] };
  const raw = readJson(path, 'AUDIT_BAD_ANCHOR', 'the anchor file') as { format?: unknown; heads?: unknown };
  if (!raw || raw.format !== 'indomain-anchor-v1' || !Array.isArray(raw.heads)) throw new IndomainError('AUDIT_BAD_ANCHOR', 'expected { format: "indomain-anchor-v1", heads: [...] }', { file: path });
  raw.heads.forEach((h: unknown, i: number) => {
    const o = h as Record<string, unknown>;
    for (const [k, t] of Object.entries(HEAD_FIELDS)) {
      if (typeof o?.[k] !== t) throw new IndomainError('AUDIT_BAD_ANCHOR', `head ${i}: ${k} must be a ${t}`, { file: path, field: `heads[${i}].${k}` });
    }
    if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 1 || !/^[0-9a-f]{64}$/.test(o.hash as string)) throw new IndomainError('AUDIT_BAD_ANCHOR', `head ${i}: seq must be a positive integer and hash 64 hex digits`, { file: path, field: `heads[${i}]` });
  });
  return raw as AnchorFile;
}

/** Node data directories (with node.db) under the given paths, with the peers.json beside them if any. */
function nodeDirs(paths: readonly string[]): { dir: string; peers?: string }[] {
  const dirs: { dir: string; peers?: string }[] = [];
  for (const p0 of paths) {
    const p = resolve(p0);
    if (!existsSync(p)) throw new IndomainError('AUDIT_UNREADABLE', 'no such directory', { file: p0 });
    let found = false;
    for (const c of [p, join(p, 'nodes')]) {
      if (existsSync(join(c, 'node.db'))) {
        dirs.push({ dir: c, ...(existsSync(join(c, '..', 'peers.json')) ? { peers: join(c, '..', 'peers.json') } : {}) });
        found = true;
      } else if (existsSync(c)) {
        let entries;
        try {
          entries = readdirSync(c, { withFileTypes: true });
        } catch {
          continue;
        }
        for (const d of entries) {
          if (d.isDirectory() && existsSync(join(c, d.name, 'node.db'))) {
            dirs.push({ dir: join(c, d.name), ...(existsSync(join(c, 'peers.json')) ? { peers: join(c, 'peers.json') } : {}) });
            found = true;
          }
        }
      }
    }
    if (!found) throw new IndomainError('AUDIT_UNREADABLE', 'no node data directory (with node.db) here or under nodes/', { file: p0 });
  }
  return dirs;
}

const RECORD_FIELDS = { seq: 'number', at: 'number', kind: 'string', job: 'string', body: 'string', prev: 'string', hash: 'string', signature: 'string' } as const;

function readRecords(file: string): AuditRecord[] {
  let db: Database.Database | undefined;
  let rows: AuditRecord[];
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    rows = db.prepare('SELECT seq, at, kind, job, body, prev, hash, signature FROM audit ORDER BY seq').all() as AuditRecord[];
  } catch (e) {
    const why = /no such table/.test((e as Error).message) ? 'has no audit table' : /not a database|malformed/.test((e as Error).message) ? 'is not a readable SQLite database' : 'cannot be opened';
    throw new IndomainError('AUDIT_UNREADABLE', `the node database ${why}`, { file });
  } finally {
    db?.close();
  }
  // A database handed over may have any schema: a field of another type is unreadable, not a crash.
  rows.forEach((r, i) => {
    for (const [k, t] of Object.entries(RECORD_FIELDS)) {
      if (typeof r[k as keyof AuditRecord] !== t) throw new IndomainError('AUDIT_UNREADABLE', `the node database's audit record ${i + 1} has a ${k} that is not a ${t}`, { file, field: `audit.${k}` });
    }
  });
  return rows;
}

/**
 * Every node's chain under the given paths. `keys`: the regulator's keys (the only keys used when
 * given); otherwise each node's key from the peers.json beside it, else its identity.json.
 */
export function loadChains(paths: readonly string[], keys?: ReadonlyMap<string, Uint8Array>): NodeChain[] {
  const seen = new Set<string>();
  const out: NodeChain[] = [];
  for (const d of nodeDirs(paths)) {
    if (seen.has(d.dir)) continue;
    seen.add(d.dir);
    const idFile = join(d.dir, 'identity.json');
    const identity = readJson(idFile, 'AUDIT_UNREADABLE', "the node's identity.json") as { name?: unknown; publicKey?: unknown };
    if (typeof identity?.name !== 'string') throw new IndomainError('AUDIT_UNREADABLE', 'identity.json has no node name', { file: idFile, field: 'name' });
    const name = identity.name;
    let publicKey: Uint8Array | undefined;
    let keySource: KeySource;
    if (keys) {
      publicKey = keys.get(name);
      keySource = 'regulator';
    } else {
      keySource = 'identity.json';
      publicKey = typeof identity.publicKey === 'string' ? new Uint8Array(Buffer.from(identity.publicKey, 'base64')) : undefined;
      if (d.peers) {
        const peers = readJson(d.peers, 'AUDIT_UNREADABLE', 'peers.json') as { nodes?: { name: string; publicKey: string }[] };
        const p = Array.isArray(peers?.nodes) ? peers.nodes.find((n) => n?.name === name) : undefined;
        if (p && typeof p.publicKey === 'string') {
          publicKey = new Uint8Array(Buffer.from(p.publicKey, 'base64'));
          keySource = 'peers.json';
        }
      }
    }
    out.push({ name, dir: d.dir, publicKey, keySource, pinned: keySource !== 'identity.json', records: readRecords(join(d.dir, 'node.db')) });
  }
  return out;
}

/** A record's body as an object ({} if it is not one). */
export function parseBody(r: AuditRecord): Record<string, unknown> {
  try {
    const v = JSON.parse(r.body) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export interface Finding {
  node: string;
  seq: number;
  kind: string;
  problem: string;
}

export interface LedgerEntry {
  job: string;
  receiver: string;
  from: string;
  type: string;
  privacy: string;
  count: number;
  bytes: number;
  /** Sent to the receiver, which has no record of it: the sender or the receiver recorded the exchange as failed. */
  unconfirmed: number;
  unconfirmedBytes: number;
  discloses: string;
}

/** A message as one node's chain records it (sent or received). */
export interface Msg {
  node: string;
  seq: number;
  /** The record's time, by its node's clock. */
  at: number;
  peer: string;
  key: string;
  sha256: string;
  privacy: string;
  bytes: number;
  job: string;
  type: string;
  protocol: string;
}

export interface VerifyResult {
  ok: boolean;
  /** 'regulator': every chain checked under the regulator's keys file only; 'beside': keys found beside the records. */
  keys: 'regulator' | 'beside';
  /** The regulator's anchor, if given: heads in it, the latest pull, nodes it names that were not given. */
  anchor: { heads: number; latest: number; unchecked: string[] } | undefined;
  nodes: { name: string; records: number; pinned: boolean; keySource: KeySource }[];
  findings: Finding[];
  /** Heads checked against their chains (recorded by peers, and in the anchor). */
  heads: number;
  /** Per chain: its records and the newest of them a peer or the anchor recorded as its head (0: none). */
  tails: { node: string; records: number; witnessed: number }[];
  /** Messages whose two records were matched (both sides given). */
  messages: number;
  /** Sent messages without a receiver's record that their sender recorded as failed. */
  explained: { failedDeliveries: number };
  ledger: LedgerEntry[];
  psi: { job: string; bank: string; used: number; excluded: Record<string, number> }[];
  /** Per job and node: the dataset it used and the fingerprint its records of that use name (issue 15). */
  datasets: DatasetUse[];
}

/** A node's use of its dataset in a job, from its data-access and psi-input records. */
export interface DatasetUse {
  job: string;
  node: string;
  dataset: string;
  /** The SHA-256 the job pinned (every record of the use names it); '' if the records name none. */
  sha256: string;
  /** The seq of the node's record registering the dataset with this fingerprint (0: none in its chain). */
  registered: number;
}
