/**
 * Attacks on the evidence `indomain audit verify --keys KEYS.json --anchor ANCHOR.json DIR...` is
 * given, on real nodes over HTTP (coordinator, platform, bank-a in this process, OS-chosen ports):
 *
 * 1. A dishonest platform (its own process, database and key) holds back its chain head: every head
 *    it sends its peers (audit/ChainHead, request and reply) and serves the regulator's anchor
 *    (`GET /v1/audit/head`) is the one it had before it revoked an authorisation. Its peers record
 *    that old head (it is signed, it is the platform's), the regulator anchors it. Afterwards the
 *    platform erases the revocation and re-signs the rest of its chain: nothing anchored or
 *    cross-signed is touched, so the verifier as it was passes it. Caught now: a head a node sends
 *    must not be behind its own record of sending the same peer an earlier head.
 * 2. Whoever hands the records over leaves one node's directory out: the verifier as it was passed
 *    over it (the anchor's heads of that node "not checked", every message with it unchecked).
 *    Caught now: each node the keys file or the anchor names must be given, once.
 *
 * The figures print; the defences are switched off only through VerifyOptions' test-only switches.
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordHash, type AuditRecord, type ChainHead } from '../../server/audit.ts';
import { anchorHeads } from '../../server/audit-anchor.ts';
import { readAnchor, readKeys } from '../../server/audit-chains.ts';
import { ANCHOR_CLOCK_SKEW_MS, verifyAudit, type VerifyResult } from '../../server/audit-verify.ts';
import { createNode } from '../../server/main.ts';
import { usccFromNumber } from '../../server/lab/generate.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import type { NodeRole, PeersFile } from '../../server/transport/peer.ts';
import { ChainHeads } from '../../server/audit-heads.ts';
import { freePorts } from '../helpers/ports.ts';
import { tempDir } from '../helpers/tmp.ts';

const TOKEN = 'test-admin-token-'.padEnd(40, '0');
const NAMES: { name: string; role: NodeRole }[] = [
  { name: 'coordinator', role: 'coordinator' },
  { name: 'platform', role: 'platform' },
  { name: 'bank-a', role: 'bank' },
];
// Each node's ChainHeads (decorated inside the peer plugin, out of the root's reach): kept as it starts.
const started: ChainHeads[] = [];
const startHeads = ChainHeads.prototype.start;
ChainHeads.prototype.start = function (this: ChainHeads) {
  started.push(this);
  startHeads.call(this);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  dir: string;
  /** The regulator's own directory: its keys file and anchor, nothing of it beside the records. */
  reg: string;
  urls: Map<string, string>;
  heads: Map<string, ChainHeads>;
  stores: Map<string, NodeStore>;
  closes: (() => Promise<void>)[];
}

/** The three nodes; head exchanges only when nudged or asked (the interval is out of reach). */
async function start(): Promise<Run> {
  const dir = tempDir('indomain-audit-evidence-');
  const ports = await freePorts(3);
  const peers: PeersFile = { nodes: [] };
  NAMES.forEach((n, i) => {
    const s = new NodeStore(join(dir, n.name));
    peers.nodes.push({ name: n.name, role: n.role, url: `http://127.0.0.1:${ports[i]}`, publicKey: Buffer.from(s.identity(n.name).publicKey).toString('base64') });
    s.close();
  });
  writeFileSync(join(dir, 'peers.json'), JSON.stringify(peers));
  // The regulator's keys file: the keys as it recorded them when it admitted each node.
  const reg = tempDir('indomain-regulator-');
  writeFileSync(join(reg, 'keys.json'), JSON.stringify({ nodes: peers.nodes.map((n) => ({ name: n.name, publicKey: n.publicKey })) }));
  const run: Run = { dir, reg, urls: new Map(), heads: new Map(), stores: new Map(), closes: [] };
  for (const [i, n] of NAMES.entries()) {
    const made = await createNode({ role: n.role, name: n.name, data: join(dir, n.name), peers: join(dir, 'peers.json'), adminToken: TOKEN, psiWorkers: 1, headIntervalMs: 1e9 });
    await made.app.listen({ port: ports[i]!, host: '127.0.0.1' });
    run.urls.set(n.name, `http://127.0.0.1:${ports[i]}`);
    run.heads.set(n.name, started.at(-1)!);
    run.stores.set(n.name, made.runtime.store);
    run.closes.push(made.close);
  }
  return run;
}

const keysOf = (r: Run) => readKeys(join(r.reg, 'keys.json'));

async function admin(r: Run, node: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(r.urls.get(node)! + path, { method: 'POST', headers: { 'x-admin-token': TOKEN, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
}

const grant = (n: number) => ({ uscc: usccFromNumber(n), bank: 'bank-a', purpose: 'modelling', valid_from: '2024-01-01', valid_to: '2030-12-31', source_ref: `T-${n}` });

/**
 * What the platform does between two anchors: grants, a revocation, more grants, a head round after
 * each step; the peers answer and ask back (nudged). Then the regulator anchors every node's head.
 */
async function activity(r: Run, anchor: string, beforeAnchor = 0): Promise<void> {
  const p = r.heads.get('platform')!;
  await admin(r, 'platform', '/v1/admin/authorisations', grant(1));
  await admin(r, 'platform', '/v1/admin/authorisations', grant(2));
  await p.round();
  await sleep(2500); // the peers, nudged, send their heads back within a tick
  await admin(r, 'platform', '/v1/admin/authorisations/revoke', { uscc: usccFromNumber(2), bank: 'bank-a', purpose: 'modelling' });
  await admin(r, 'platform', '/v1/admin/authorisations', grant(3));
  await p.round();
  await sleep(2500 + beforeAnchor);
  await anchorHeads({ keys: keysOf(r), out: anchor, urls: [...r.urls.values()] });
}

function records(dir: string): AuditRecord[] {
  const db = new Database(join(dir, 'node.db'), { readonly: true });
  const rs = db.prepare('SELECT * FROM audit ORDER BY seq').all() as AuditRecord[];
  db.close();
  return rs;
}

/** The dishonest platform, stopped: its chain without the revocation, every later record re-linked and re-signed with its own key. */
function eraseRevocation(dir: string): number {
  const s = new NodeStore(dir);
  const id = s.identity('platform');
  const all = s.db.prepare('SELECT * FROM audit ORDER BY seq').all() as AuditRecord[];
  const cut = all.find((x) => x.kind === 'admin' && JSON.parse(x.body).action === 'authorisation-revoked')!;
  const kept = all.filter((x) => x !== cut);
  // Its own database: the append-only triggers go first (and could be put back after).
  s.db.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;');
  s.db.transaction(() => {
    s.db.prepare('DELETE FROM audit WHERE seq >= ?').run(cut.seq);
    let prev = cut.prev;
    const ins = s.db.prepare('INSERT INTO audit (seq, at, kind, job, body, prev, hash, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (const x of kept.filter((y) => y.seq > cut.seq)) {
      const seq = x.seq - 1;
      const hash = recordHash(seq, x.at, x.kind, x.job, x.body, prev);
      ins.run(seq, x.at, x.kind, x.job, x.body, prev, hash, Buffer.from(id.sign(Buffer.from(hash, 'hex'))).toString('base64'));
      prev = hash;
    }
  })();
  s.close();
  return cut.seq;
}

const cell = (v: VerifyResult) => (v.ok ? 'passes' : `caught (${v.findings.length}: ${v.findings[0]!.node} ${v.findings[0]!.problem.slice(0, 90)}…)`);

describe('attack: the evidence handed to the regulator', () => {
  let honest: Run;
  let bad: Run;
  let liar: Run;
  const figures: string[] = [];

  beforeAll(async () => {
    honest = await start();
    bad = await start();
    liar = await start();
  }, 90_000);
  afterAll(async () => {
    for (const r of [honest, bad, liar]) for (const c of r?.closes ?? []) await c();
    console.log(['', 'audit evidence attacks (verify --keys --anchor):', ...figures].join('\n'));
  });

  it('an honest platform: its heads are fresh and the chains pass with every defence on', async () => {
    const anchor = join(honest.reg, 'anchor.json');
    await activity(honest, anchor);
    for (const c of honest.closes.splice(0)) await c();
    const on = verifyAudit([honest.dir], { keys: keysOf(honest), anchor: readAnchor(anchor) });
    figures.push(`honest run (${on.nodes.map((n) => `${n.name} ${n.records}`).join(', ')} records; ${on.heads} heads checked): ${cell(on)}; newest witnessed head: ${on.tails.map((t) => `${t.node} #${t.witnessed}/${t.records}`).join(', ')}`);
    expect(on.findings).toEqual([]);
    expect(on.heads).toBeGreaterThanOrEqual(8);
  }, 60_000);

  it('a platform that holds back its head and later erases a revocation is caught', async () => {
    await sleep(1500);
    // The dishonest operator's process: every head it sends or serves is the one it has now.
    const store = bad.stores.get('platform')!;
    const held = store.audit.committedHead('platform')!;
    // Its time is not signed: a millisecond more each time keeps every request's bytes (and key) its own.
    let sent = 0;
    store.audit.committedHead = (node: string): ChainHead => ({ ...held, node, at: held.at + sent++ });
    const anchor = join(bad.reg, 'anchor.json');
    // The regulator pulls a while after the last head round (more than the clocks' allowed skew).
    await activity(bad, anchor, ANCHOR_CLOCK_SKEW_MS);
    for (const c of bad.closes.splice(0)) await c();
    const before = records(join(bad.dir, 'platform')).length;
    const anchored = readAnchor(anchor).heads.find((h) => h.node === 'platform')!;
    const peerHeads = ['coordinator', 'bank-a'].flatMap((n) => records(join(bad.dir, n)).map((x) => JSON.parse(x.body).head as ChainHead | undefined).filter((h): h is ChainHead => h?.node === 'platform'));
    const cutAt = eraseRevocation(join(bad.dir, 'platform'));
    const o = { keys: keysOf(bad), anchor: readAnchor(anchor) };
    const off = verifyAudit([bad.dir], { ...o, unsafeAcceptStaleHeads: true });
    const on = verifyAudit([bad.dir], o);
    // The peers alone (no anchor), and the anchor alone (a node that exchanged no head with any peer looks like this).
    const peersOnly = verifyAudit([bad.dir], { keys: o.keys });
    const anchorOnly = on.findings.filter((f) => /served the anchor an old head/.test(f.problem));
    figures.push(
      `held-back head: platform chain ${before} records, head sent to peers ${peerHeads.length}x and anchored: #${held.seq} (anchor #${anchored.seq}); revocation #${cutAt} erased, ${before - cutAt} records re-signed`,
      `  verifier as it was: ${cell(off)}`,
      `  with the freshness checks: ${cell(on)}; of which the peers' heads (no --anchor): ${cell(peersOnly)}; the anchor's: ${anchorOnly.length} (${anchorOnly[0]?.problem.slice(0, 110)}…)`,
      `  newest witnessed head (now printed): ${on.tails.map((t) => `${t.node} #${t.witnessed}/${t.records}`).join(', ')}`,
    );
    expect(peerHeads.length).toBeGreaterThanOrEqual(4);
    expect(peerHeads.every((h) => h.seq === held.seq)).toBe(true);
    expect(cutAt).toBeGreaterThan(held.seq);
    // The attack worked on the verifier as it was: no finding at all.
    expect(off.ok).toBe(true);
    expect(on.ok).toBe(false);
    expect(on.findings.some((f) => f.node === 'platform' && f.kind === 'head' && /behind its own record/.test(f.problem))).toBe(true);
    expect(peersOnly.ok).toBe(false);
    expect(anchorOnly).toHaveLength(1);
    expect(on.tails.find((t) => t.node === 'platform')).toEqual({ node: 'platform', records: before - 1, witnessed: held.seq });
  }, 60_000);

  it("a node's directory left out, or given twice, is a finding", () => {
    const anchorFile = join(honest.reg, 'anchor.json');
    const o = { keys: keysOf(honest), anchor: readAnchor(anchorFile) };
    const without = [join(honest.dir, 'coordinator'), join(honest.dir, 'bank-a')];
    const off = verifyAudit(without, { ...o, unsafeSkipMissingNodes: true });
    const on = verifyAudit(without, o);
    const keysOnly = verifyAudit(without, { keys: o.keys });
    const twice = tempDir('indomain-audit-twice-');
    cpSync(join(honest.dir, 'platform'), join(twice, 'platform-copy'), { recursive: true });
    const dup = verifyAudit([honest.dir, join(twice, 'platform-copy')], o);
    figures.push(
      `platform's directory left out: as it was ${cell(off)} (anchor unchecked: ${off.anchor!.unchecked.join(', ')}) | now ${cell(on)} | --keys only: ${cell(keysOnly)}`,
      `platform's directory given twice: ${cell(dup)}`,
    );
    expect(off.ok).toBe(true);
    expect(on.ok).toBe(false);
    expect(on.findings).toContainEqual(expect.objectContaining({ node: 'platform', problem: expect.stringMatching(/no directory given holds its chain/) }));
    expect(keysOnly.ok).toBe(false);
    expect(dup.findings).toContainEqual(expect.objectContaining({ node: 'platform', problem: expect.stringMatching(/2 directories/) }));
  });

  it("a bank that takes the platform's reply and records the exchange as failed stays in the ledger", async () => {
    await sleep(1500);
    // The dishonest bank's process: the platform's replies it receives go on record as failed deliveries.
    const audit = liar.stores.get('bank-a')!.audit;
    const append = audit.append.bind(audit);
    let denied = 0;
    audit.append = (kind, job, body, at) => {
      if (kind === 'message-received' && body.peer === 'platform' && String(body.key).endsWith('|reply')) {
        denied++;
        return append('delivery-failed', job, { peer: 'platform', key: String(body.key).slice(0, -'|reply'.length), code: 'SRV_PEER_UNREACHABLE', reason: 'platform: timed out' }, at);
      }
      return append(kind, job, body, at);
    };
    await liar.heads.get('bank-a')!.round();
    await sleep(2500);
    const anchor = join(liar.reg, 'anchor.json');
    await anchorHeads({ keys: keysOf(liar), out: anchor, urls: [...liar.urls.values()] });
    for (const c of liar.closes.splice(0)) await c();
    const o = { keys: keysOf(liar), anchor: readAnchor(anchor) };
    const off = verifyAudit([liar.dir], { ...o, unsafeLedgerConfirmedOnly: true });
    const on = verifyAudit([liar.dir], o);
    const entry = (v: VerifyResult) => v.ledger.find((e) => e.receiver === 'bank-a' && e.from === 'platform' && e.type === 'audit/ChainHead');
    const platformReplies = records(join(liar.dir, 'platform')).filter((x) => x.kind === 'message-sent' && JSON.parse(x.body).peer === 'bank-a' && JSON.parse(x.body).key.endsWith('|reply')).length;
    figures.push(
      `bank-a denies ${denied} reply of the platform it received (delivery-failed instead): platform sent bank-a ${platformReplies} replies; verify ${cell(on)}, ${on.explained.failedDeliveries} explained`,
      `  ledger bank-a ← platform audit/ChainHead as it was: ×${entry(off)?.count ?? 0} | now: ×${entry(on)?.count ?? 0} +${entry(on)?.unconfirmed ?? 0} not on bank-a's record`,
    );
    expect(denied).toBe(1);
    // Not detectable (a reply lost on the way looks the same), so: explained, and still in the ledger.
    expect(on.ok).toBe(true);
    expect(on.explained.failedDeliveries).toBeGreaterThanOrEqual(1);
    expect(entry(off)?.unconfirmed ?? 0).toBe(0);
    expect(entry(on)!.unconfirmed).toBe(1);
  }, 60_000);

  it('a node.db whose audit table was rebuilt with a NULL signature: a coded error on the command line, never a pass', () => {
    const copy = tempDir('indomain-audit-malformed-');
    cpSync(honest.dir, copy, { recursive: true });
    const db = new Database(join(copy, 'platform', 'node.db'));
    // Whoever hands the file over chooses its schema: the NOT NULL constraints go with the old table.
    db.exec('CREATE TABLE a2 AS SELECT * FROM audit; DROP TABLE audit; ALTER TABLE a2 RENAME TO audit; UPDATE audit SET signature = NULL WHERE seq = 3;');
    db.close();
    const cli = new URL('../../server/indomain.mjs', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [cli, 'audit', 'verify', '--keys', join(honest.reg, 'keys.json'), '--anchor', join(honest.reg, 'anchor.json'), copy], { encoding: 'utf8' });
    figures.push(`platform node.db with a NULL signature (table rebuilt): exit ${r.status}, ${r.stderr.split('\n').find((l) => l.startsWith('error')) ?? '(no error line)'}`);
    expect(r.status).toBe(1);
    expect(r.stdout).not.toMatch(/^OK/m);
    expect(r.stderr).toMatch(/^error AUDIT_UNREADABLE: .*node\.db.*audit\.signature/m);
  }, 60_000);
});
