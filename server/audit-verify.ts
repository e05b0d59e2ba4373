/**
 * `indomain audit verify DIR...`: offline verification of the nodes' audit chains, by anyone who
 * has the data directories and the pinned-peers file (a regulator, an auditor).
 *
 * It checks, and names the first record that fails:
 *   1. each chain is intact: consecutive sequence numbers, each record's hash recomputes and links
 *      to the previous one, and each is signed by its node's pinned Ed25519 key;
 *   2. the sender's and the receiver's records of every message agree (same key and SHA-256), in
 *      both directions, among the nodes given;
 *   3. every message a node sent had a privacy class its policy (as recorded in its chain) allowed;
 *   4. every enterprise the platform fed into a PSI had a valid authorisation for that bank and
 *      purpose at that moment, per the authorisation changes recorded earlier in its chain.
 * Then it prints every job's leakage ledger: what each party received, by declared message type.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { publicKeyObject, verifyWith } from './ed25519.ts';
import { GENESIS, recordHash, type AuditRecord } from './audit.ts';
import { status, type Authorisation } from './authz.ts';
import { messageSpec } from '../protocols/message.ts';
import './messages.ts';
import '../protocols/psi/messages.ts';
import '../protocols/vfl-lr/messages.ts';
import '../protocols/scorecard/messages.ts';
import '../protocols/secagg/messages.ts';

export interface NodeChain {
  name: string;
  dir: string;
  publicKey: Uint8Array;
  pinned: boolean;
  records: AuditRecord[];
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
  discloses: string;
}

export interface VerifyResult {
  ok: boolean;
  nodes: { name: string; records: number; pinned: boolean }[];
  findings: Finding[];
  ledger: LedgerEntry[];
  psi: { job: string; bank: string; used: number; excluded: Record<string, number> }[];
}

/** Find node data directories (with node.db) and pinned keys (peers.json) under the given paths. */
export function loadChains(paths: readonly string[]): NodeChain[] {
  const dirs: { dir: string; peers?: string }[] = [];
  for (const p0 of paths) {
    const p = resolve(p0);
    const candidates = [p, join(p, 'nodes')];
    for (const c of candidates) {
      if (existsSync(join(c, 'node.db'))) dirs.push({ dir: c, ...(existsSync(join(c, '..', 'peers.json')) ? { peers: join(c, '..', 'peers.json') } : {}) });
      else if (existsSync(c) && existsSync(join(c, 'peers.json'))) {
        for (const d of readdirSync(c, { withFileTypes: true })) {
          if (d.isDirectory() && existsSync(join(c, d.name, 'node.db'))) dirs.push({ dir: join(c, d.name), peers: join(c, 'peers.json') });
        }
      }
    }
  }
  const seen = new Set<string>();
  const out: NodeChain[] = [];
  for (const d of dirs) {
    if (seen.has(d.dir)) continue;
    seen.add(d.dir);
    const identity = JSON.parse(readFileSync(join(d.dir, 'identity.json'), 'utf8')) as { name: string; publicKey: string };
    let publicKey = new Uint8Array(Buffer.from(identity.publicKey, 'base64'));
    let pinned = false;
    if (d.peers) {
      const peers = JSON.parse(readFileSync(d.peers, 'utf8')) as { nodes: { name: string; publicKey: string }[] };
      const p = peers.nodes.find((n) => n.name === identity.name);
      if (p) {
        publicKey = new Uint8Array(Buffer.from(p.publicKey, 'base64'));
        pinned = true;
      }
    }
    const db = new Database(join(d.dir, 'node.db'), { readonly: true, fileMustExist: true });
    const records = db.prepare('SELECT seq, at, kind, job, body, prev, hash, signature FROM audit ORDER BY seq').all() as AuditRecord[];
    db.close();
    out.push({ name: identity.name, dir: d.dir, publicKey, pinned, records });
  }
  return out;
}

function checkChain(c: NodeChain): Finding | undefined {
  let prev = GENESIS;
  const key = publicKeyObject(c.publicKey);
  for (let i = 0; i < c.records.length; i++) {
    const r = c.records[i]!;
    const f = (problem: string): Finding => ({ node: c.name, seq: r.seq, kind: r.kind, problem });
    if (r.seq !== i + 1) return f(`expected record #${i + 1} here: a record is missing or out of order`);
    if (r.prev !== prev) return f('does not link to the previous record (deleted, inserted or swapped records)');
    if (recordHash(r.seq, r.at, r.kind, r.job, r.body, r.prev) !== r.hash) return f('hash does not match its contents (the record was altered)');
    // An unsigned record is covered by the next signed one (a group commit); the last must be signed.
    if (r.signature === '' && i === c.records.length - 1) return f('the last record is not signed (records after it were removed)');
    if (r.signature !== '') {
      const ok = verifyWith(Buffer.from(r.signature, 'base64'), Buffer.from(r.hash, 'hex'), key);
      if (!ok) return f(`signature does not verify under ${c.pinned ? "the node's pinned key" : "the node's own identity file (no peers.json found)"}`);
    }
    prev = r.hash;
  }
  return undefined;
}

function parseBody(r: AuditRecord): Record<string, unknown> {
  try {
    const v = JSON.parse(r.body) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

interface Msg {
  node: string;
  seq: number;
  peer: string;
  key: string;
  sha256: string;
  privacy: string;
  bytes: number;
  job: string;
  type: string;
  protocol: string;
}

export function verifyAudit(paths: readonly string[]): VerifyResult {
  const chains = loadChains(paths);
  const findings: Finding[] = [];
  if (chains.length === 0) findings.push({ node: '-', seq: 0, kind: '-', problem: `no node data directory (node.db) under ${paths.join(', ')}` });
  const chainFindings: Finding[] = [];
  for (const c of chains) {
    const f = checkChain(c);
    if (f) chainFindings.push(f);
  }
  findings.push(...chainFindings);
  const names = new Set(chains.map((c) => c.name));
  const sent: Msg[] = [];
  const received: Msg[] = [];
  for (const c of chains) {
    let policy: string[] | undefined;
    for (const r of c.records) {
      const b = parseBody(r);
      if (r.kind === 'policy') policy = Array.isArray(b.allowedClasses) ? (b.allowedClasses as string[]) : [];
      if (r.kind !== 'message-sent' && r.kind !== 'message-received') continue;
      const m: Msg = {
        node: c.name,
        seq: r.seq,
        peer: String(b.peer),
        key: String(b.key),
        sha256: String(b.sha256),
        privacy: String(b.privacy),
        bytes: Number(b.bytes),
        job: r.job,
        type: String(b.type),
        protocol: String(b.protocol),
      };
      if (r.kind === 'message-sent') {
        sent.push(m);
        if (!policy) findings.push({ node: c.name, seq: r.seq, kind: r.kind, problem: 'a message was sent before any policy was recorded' });
        else if (!policy.includes(m.privacy)) findings.push({ node: c.name, seq: r.seq, kind: r.kind, problem: `privacy class "${m.privacy}" was not allowed by the node's policy (${policy.join(', ')})` });
      } else received.push(m);
    }
  }
  const index = (ms: Msg[]) => new Map(ms.map((m) => [`${m.node}|${m.peer}|${m.key}`, m]));
  const rx = index(received);
  const tx = index(sent);
  for (const m of sent) {
    if (!names.has(m.peer)) continue;
    const other = rx.get(`${m.peer}|${m.node}|${m.key}`);
    if (!other) findings.push({ node: m.node, seq: m.seq, kind: 'message-sent', problem: `${m.peer} has no record of receiving ${m.key}` });
    else if (other.sha256 !== m.sha256) findings.push({ node: m.node, seq: m.seq, kind: 'message-sent', problem: `${m.peer} recorded different bytes for ${m.key}` });
  }
  for (const m of received) {
    if (!names.has(m.peer)) continue;
    if (!tx.get(`${m.peer}|${m.node}|${m.key}`)) findings.push({ node: m.node, seq: m.seq, kind: 'message-received', problem: `${m.peer} has no record of sending ${m.key}` });
  }
  // Authorisations: rebuild the registry from the platform's chain, check every PSI input.
  const psi: VerifyResult['psi'] = [];
  for (const c of chains) {
    const registry = new Map<string, Authorisation[]>();
    const k = (uscc: string, bank: string, purpose: string) => `${uscc}|${bank}|${purpose}`;
    for (const r of c.records) {
      const b = parseBody(r);
      if (r.kind === 'admin' && (b.action === 'authorisations-imported' || b.action === 'authorisation-granted')) {
        for (const a of (Array.isArray(b.records) ? b.records : []) as Authorisation[]) {
          const key = k(a.uscc, a.bank, a.purpose);
          registry.set(key, [...(registry.get(key) ?? []), { ...a }]);
        }
      } else if (r.kind === 'admin' && b.action === 'authorisation-revoked') {
        for (const a of registry.get(k(String(b.uscc), String(b.bank), String(b.purpose))) ?? []) if (a.revokedAt === null) a.revokedAt = Number(b.at);
      } else if (r.kind === 'psi-input') {
        const ids = (Array.isArray(b.ids) ? b.ids : []) as string[];
        const bad = ids.find((id) => status(registry.get(k(id, String(b.bank), String(b.purpose))) ?? [], Number(b.at)) !== 'valid');
        if (bad) findings.push({ node: c.name, seq: r.seq, kind: r.kind, problem: `enterprise ${bad} had no valid ${String(b.purpose)} authorisation for ${String(b.bank)} when job ${r.job} used it` });
        psi.push({ job: r.job, bank: String(b.bank), used: ids.length, excluded: b.excluded as Record<string, number> });
      }
    }
  }
  // The leakage ledger: what each node received, per job and declared type.
  const ledger = new Map<string, LedgerEntry>();
  for (const m of received) {
    const key = `${m.job}|${m.node}|${m.peer}|${m.protocol}/${m.type}`;
    const e = ledger.get(key);
    if (e) {
      e.count++;
      e.bytes += m.bytes;
    } else {
      let discloses = '(undeclared type)';
      try {
        discloses = messageSpec(m.protocol, m.type).discloses;
      } catch {
        /* stays marked */
      }
      ledger.set(key, { job: m.job, receiver: m.node, from: m.peer, type: `${m.protocol}/${m.type}`, privacy: m.privacy, count: 1, bytes: m.bytes, discloses });
    }
  }
  // Broken chains first (nothing else about that node can be trusted), then the rest by node and record.
  const chainBroken = new Set(chainFindings.map((f) => `${f.node}|${f.seq}`));
  findings.sort((a, b) => {
    const ca = chainBroken.has(`${a.node}|${a.seq}`) ? 0 : 1;
    const cb = chainBroken.has(`${b.node}|${b.seq}`) ? 0 : 1;
    return ca - cb || (a.node === b.node ? a.seq - b.seq : a.node < b.node ? -1 : 1);
  });
  return {
    ok: findings.length === 0,
    nodes: chains.map((c) => ({ name: c.name, records: c.records.length, pinned: c.pinned })),
    findings,
    ledger: [...ledger.values()],
    psi,
  };
}

export function formatVerify(r: VerifyResult): string {
  const out: string[] = [];
  out.push(`audit chains: ${r.nodes.map((n) => `${n.name} (${n.records} records${n.pinned ? ', pinned key' : ', key from identity.json'})`).join(', ')}`);
  if (!r.ok) {
    const f = r.findings[0]!;
    out.push(`FAILED: ${f.node} record #${f.seq} (${f.kind}): ${f.problem}`);
    if (r.findings.length > 1) out.push(`(${r.findings.length - 1} more findings)`);
    return out.join('\n');
  }
  out.push('OK: every chain intact and signed; senders and receivers agree on every message; every message within its sender\'s policy; every enterprise used was authorised.');
  const jobs = [...new Set(r.ledger.map((e) => e.job))].sort();
  for (const job of jobs) {
    out.push('', `job ${job}: leakage ledger`);
    for (const p of r.psi.filter((x) => x.job === job)) out.push(`  platform PSI input for ${p.bank}: ${p.used} authorised enterprises (not valid then: ${JSON.stringify(p.excluded)})`);
    for (const e of r.ledger.filter((x) => x.job === job)) {
      out.push(`  ${e.receiver} ← ${e.from}  ${e.type} ×${e.count} [${e.privacy}, ${(e.bytes / 1e6).toFixed(2)} MB]: ${e.discloses}`);
    }
  }
  return out.join('\n');
}
