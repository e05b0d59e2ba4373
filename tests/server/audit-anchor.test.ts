/**
 * Anchored evidence (issue 15, item 3), on the output of one real lab run (coordinator, platform and
 * two banks as processes on ports the operating system chose): every tamper the issue found the
 * verifier accepting, each on its own copy of that output, must be caught by
 * `verify --keys --anchor` with the regulator's own files, and is not caught with the defences
 * off (the verifier as it was: `legacy`, no keys, no anchor). The figures for every combination are
 * printed at the end.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { recordHash } from '../../server/audit.ts';
import { readAnchor, readKeys, type AnchorFile } from '../../server/audit-chains.ts';
import { formatVerify, verifyAudit, type VerifyOptions, type VerifyResult } from '../../server/audit-verify.ts';
import { generateSecretKey, publicKeyOf, sign } from '../../server/ed25519.ts';
import { runLab } from '../../server/lab/run.ts';
import { tempDir } from '../helpers/tmp.ts';

const CLI = new URL('../../server/indomain.mjs', import.meta.url).pathname;

type Db = Database.Database;

/** Sign record `seq` (and re-chain nothing): an attacker holding the database holds the node's key. */
function signWith(db: Db, seq: number, secret: Uint8Array): void {
  const r = db.prepare('SELECT hash FROM audit WHERE seq = ?').get(seq) as { hash: string } | undefined;
  if (r) db.prepare('UPDATE audit SET signature = ? WHERE seq = ?').run(Buffer.from(sign(Buffer.from(r.hash, 'hex'), secret)).toString('base64'), seq);
}

const ownKey = (db: Db) => new Uint8Array((db.prepare("SELECT value FROM meta WHERE key = 'ed25519-secret'").get() as { value: Buffer }).value);

/** Remove every record from `seq` on, and sign the new last record with the node's own key. */
function cutFrom(db: Db, seq: number): void {
  db.prepare('DELETE FROM audit WHERE seq >= ?').run(seq);
  signWith(db, seq - 1, ownKey(db));
}

/** Rebuild the chain from `seq` on (hashes and signatures) with `secret`. */
function rechain(db: Db, seq: number, secret: Uint8Array): void {
  const rows = db.prepare('SELECT * FROM audit WHERE seq >= ? ORDER BY seq').all(seq) as { seq: number; at: number; kind: string; job: string; body: string; prev: string }[];
  let prev = seq === 1 ? '0'.repeat(64) : (db.prepare('SELECT hash FROM audit WHERE seq = ?').get(seq - 1) as { hash: string }).hash;
  for (const x of rows) {
    const hash = recordHash(x.seq, x.at, x.kind, x.job, x.body, prev);
    const sig = Buffer.from(sign(Buffer.from(hash, 'hex'), secret)).toString('base64');
    db.prepare('UPDATE audit SET prev = ?, hash = ?, signature = ? WHERE seq = ?').run(prev, hash, sig, x.seq);
    prev = hash;
  }
}

describe('anchored audit evidence: every tamper of issue 15 item 3, on real lab output', () => {
  let base: string;
  let keys: ReadonlyMap<string, Uint8Array>;
  let anchor: AnchorFile;
  let regulator: string;
  const figures: string[] = [];

  beforeAll(async () => {
    const out = tempDir('indomain-anchor-lab-');
    await runLab({ enterprises: 2000, banks: 2, loans: 1000, overlap: 0.9, seed: 'anchor', out, serve: false, basePort: 0, log: () => {} });
    // The regulator keeps its keys and anchor itself: copied out of the lab's output before any tamper.
    regulator = tempDir('indomain-regulator-');
    cpSync(join(out, 'regulator'), regulator, { recursive: true });
    keys = readKeys(join(regulator, 'keys.json'));
    anchor = readAnchor(join(regulator, 'anchor.json'));
    // A slim copy of the nodes' directories to tamper with: chains, identities, pinned keys.
    base = tempDir('indomain-anchor-base-');
    cpSync(join(out, 'nodes'), base, { recursive: true, filter: (src) => !/\.(log|csv|pmml|sql|md)$/.test(src) });
    for (const n of ['coordinator', 'platform', 'bank-1', 'bank-2']) {
      const db = new Database(join(base, n, 'node.db'));
      db.exec('DELETE FROM inbox; DELETE FROM outbox; VACUUM;');
      db.close();
    }
  }, 600_000);

  /** A copy of the lab output with `mutate` applied to the named nodes' databases (triggers dropped). */
  function tampered(mutate: Record<string, (db: Db, dir: string) => void>, after?: (dir: string) => void): string {
    const copy = tempDir('indomain-tampered-');
    cpSync(base, copy, { recursive: true });
    for (const [node, f] of Object.entries(mutate)) {
      const db = new Database(join(copy, node, 'node.db'));
      db.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;');
      f(db, join(copy, node));
      db.close();
    }
    after?.(copy);
    return copy;
  }

  /** Verify `dir` with the defences off, partly on and on; record the figures; return them. */
  function modes(name: string, dir: string): Record<'off' | 'peers' | 'keys' | 'anchor' | 'on', VerifyResult> {
    const run = (o: VerifyOptions) => verifyAudit([dir], o);
    const r = { off: run({ legacy: true }), peers: run({}), keys: run({ keys }), anchor: run({ anchor }), on: run({ keys, anchor }) };
    const cell = (v: VerifyResult) => (v.ok ? 'passes' : `caught (${v.findings.length})`);
    figures.push(`${name.padEnd(52)} off: ${cell(r.off)} | peer heads only: ${cell(r.peers)} | --keys: ${cell(r.keys)} | --anchor: ${cell(r.anchor)} | --keys --anchor: ${cell(r.on)}`);
    return r;
  }

  const count = (dir: string, node: string) => {
    const db = new Database(join(dir, node, 'node.db'), { readonly: true });
    const n = (db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n;
    db.close();
    return n;
  };

  it('untouched lab output passes with the regulator keys and anchor; heads and messages checked', () => {
    const r = verifyAudit([base], { keys, anchor });
    expect(r.findings).toEqual([]);
    expect(r.keys).toBe('regulator');
    expect(r.heads).toBeGreaterThan(anchor.heads.length);
    expect(r.messages).toBeGreaterThan(100);
    expect(new Set(anchor.heads.map((h) => h.node))).toEqual(new Set(['coordinator', 'platform', 'bank-1', 'bank-2']));
    expect(formatVerify(r)).toMatch(/senders and receivers agree on all \d+ messages/);
  });

  it("deleting a revocation record from the platform's tail", () => {
    const dir = tampered({
      platform: (db) => {
        const rev = db.prepare("SELECT seq FROM audit WHERE kind = 'admin' AND body LIKE '%\"authorisation-revoked\"%' ORDER BY seq DESC LIMIT 1").get() as { seq: number };
        cutFrom(db, rev.seq);
      },
    });
    const r = modes('revocation deleted from the platform tail', dir);
    expect(r.off.ok).toBe(true);
    expect(r.on.ok).toBe(false);
    expect(r.on.findings.filter((f) => f.node === 'platform' && f.kind === 'head').map((f) => f.problem)).toContainEqual(expect.stringMatching(/^the regulator's anchor holds this chain's head #\d+ .* but the chain ends at/));
  });

  it('erasing a whole job (consortium-lr) from the tails of the three chains that hold it', () => {
    const cut = (db: Db) => cutFrom(db, (db.prepare("SELECT MIN(seq) AS s FROM audit WHERE job = 'consortium-lr'").get() as { s: number }).s);
    const dir = tampered({ coordinator: cut, 'bank-1': cut, 'bank-2': cut });
    const r = modes('consortium-lr erased from 3 chain tails', dir);
    expect(r.off.ok).toBe(true);
    expect(r.on.ok).toBe(false);
    expect(new Set(r.on.findings.filter((f) => f.kind === 'head').map((f) => f.node))).toEqual(new Set(['coordinator', 'bank-1', 'bank-2']));
  });

  it('rolling every node.db back together (to just before consortium-lr was submitted)', () => {
    const db0 = new Database(join(base, 'coordinator', 'node.db'), { readonly: true });
    const t = (db0.prepare("SELECT at FROM audit WHERE job = 'consortium-lr' ORDER BY seq LIMIT 1").get() as { at: number }).at;
    db0.close();
    const back = (db: Db) => cutFrom(db, (db.prepare('SELECT MIN(seq) AS s FROM audit WHERE at >= ?').get(t) as { s: number }).s);
    const dir = tampered({ coordinator: back, platform: back, 'bank-1': back, 'bank-2': back });
    const r = modes('every node.db rolled back together', dir);
    expect(r.off.ok).toBe(true);
    // Among themselves the chains agree, unless a head exchange straddled the moment rolled back to
    // (seen in one run of two): the anchor is what catches a rollback of every node.
    expect(r.anchor.ok).toBe(false);
    expect(r.on.ok).toBe(false);
    expect(r.on.findings.filter((f) => f.kind === 'head').length).toBe(4);
  });

  /** The platform's first psi-input cut to 10 ids, the chain rebuilt and re-signed with a new key. */
  const rewrite = (dropPeers: boolean) => {
    const secret = generateSecretKey();
    const pub = Buffer.from(publicKeyOf(secret)).toString('base64');
    return tampered(
      {
        platform: (db, dir) => {
          const rec = db.prepare("SELECT seq, body FROM audit WHERE kind = 'psi-input' ORDER BY seq LIMIT 1").get() as { seq: number; body: string };
          const body = JSON.parse(rec.body) as { ids: string[] };
          expect(body.ids.length).toBeGreaterThan(100);
          body.ids = body.ids.slice(0, 10);
          db.prepare('UPDATE audit SET body = ? WHERE seq = ?').run(JSON.stringify(body), rec.seq);
          rechain(db, 1, secret); // every record re-signed with the new key
          db.prepare("UPDATE meta SET value = ? WHERE key = 'ed25519-secret'").run(Buffer.from(secret));
          const id = JSON.parse(readFileSync(join(dir, 'identity.json'), 'utf8')) as { publicKey: string };
          writeFileSync(join(dir, 'identity.json'), JSON.stringify({ ...id, publicKey: pub }));
        },
      },
      (dir) => {
        const peers = join(dir, 'peers.json');
        if (dropPeers) rmSync(peers);
        else {
          const p = JSON.parse(readFileSync(peers, 'utf8')) as { nodes: { name: string; publicKey: string }[] };
          for (const n of p.nodes) if (n.name === 'platform') n.publicKey = pub;
          writeFileSync(peers, JSON.stringify(p));
        }
      },
    );
  };

  it("rewriting the platform's psi-input (to 10 ids), re-signed with a new key and peers.json edited to match", () => {
    const r = modes('psi-input rewritten, new key, peers.json edited', rewrite(false));
    expect(r.off.ok).toBe(true);
    expect(r.on.ok).toBe(false);
    expect(r.keys.findings[0]).toMatchObject({ node: 'platform', problem: expect.stringMatching(/regulator's keys file \(signed by another key\)/) });
    expect(r.anchor.ok).toBe(false);
  });

  it('the same with peers.json deleted', () => {
    const r = modes('psi-input rewritten, new key, peers.json deleted', rewrite(true));
    expect(r.off.ok).toBe(true);
    expect(r.on.ok).toBe(false);
    expect(r.keys.findings[0]).toMatchObject({ node: 'platform', problem: expect.stringMatching(/signed by another key/) });
  });

  it('a chain cut to 10 records, verified alone', () => {
    const total = count(base, 'bank-2');
    expect(total).toBeGreaterThan(60);
    const dir = tampered({ 'bank-2': (db) => cutFrom(db, 11) });
    const alone = join(dir, 'bank-2');
    const run = (o: VerifyOptions) => verifyAudit([alone], o);
    const off = run({ legacy: true });
    const on = run({ keys, anchor });
    figures.push(`${`bank-2 cut to 10 of ${total} records, alone`.padEnd(52)} off: ${off.ok ? 'passes' : 'caught'} | --keys: ${run({ keys }).ok ? 'passes' : 'caught'} | --anchor: ${run({ anchor }).ok ? 'passes' : 'caught'} | --keys --anchor: ${on.ok ? 'passes' : `caught (${on.findings.length})`}`);
    expect(off.ok).toBe(true);
    expect(on.ok).toBe(false);
    expect(on.findings).toContainEqual(expect.objectContaining({ node: 'bank-2', kind: 'head', seq: 10 }));
    expect(on.anchor!.unchecked).toEqual(['bank-1', 'coordinator', 'platform']);
    // The nodes not given are findings too (tests/attacks/audit-evidence.test.ts), never passed over.
    expect(on.findings.filter((f) => /no directory given holds its chain/.test(f.problem)).map((f) => f.node)).toEqual(['bank-1', 'coordinator', 'platform']);
  });

  it('a node.db with an empty audit table: a finding, and never "senders and receivers agree"', () => {
    const dir = tampered({ 'bank-2': (db) => db.exec('DELETE FROM audit') });
    const alone = join(dir, 'bank-2');
    const off = verifyAudit([alone], { legacy: true });
    const on = verifyAudit([alone], { keys, anchor });
    const plain = verifyAudit([alone]);
    figures.push(`${'bank-2 with an empty audit table, alone'.padEnd(52)} off: ${off.ok ? 'passes' : 'caught'} | no keys, no anchor: ${plain.ok ? 'passes' : 'caught'} | --keys --anchor: ${on.ok ? 'passes' : `caught (${on.findings.length})`}`);
    expect(off.ok).toBe(true);
    expect(plain.ok).toBe(false);
    expect(on.findings[0]!.problem).toMatch(/the audit chain is empty/);
    expect(formatVerify(on)).not.toMatch(/senders and receivers agree/);
    expect(formatVerify(plain)).toMatch(/^UNPINNED: /);
  });

  it('the command line: coded errors for unreadable input, a head that went back, and a closed pipe', () => {
    const cli = (args: string[], shell?: string) =>
      shell ? spawnSync('sh', ['-c', shell], { encoding: 'utf8' }) : spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    const k = join(regulator, 'keys.json');
    const a = join(regulator, 'anchor.json');
    // A closed pipe: no EPIPE stack trace.
    const piped = cli([], `"${process.execPath}" "${CLI}" audit verify --keys "${k}" --anchor "${a}" "${base}" | head -1`);
    expect(piped.stdout).toMatch(/^keys: the regulator's keys file/);
    expect(piped.stderr).not.toMatch(/EPIPE|Error|at /);
    // A broken node.db, a missing directory, a bad keys file, a bad anchor file.
    const broken = tampered({});
    writeFileSync(join(broken, 'bank-1', 'node.db'), 'not a database at all');
    rmSync(join(broken, 'bank-1', 'node.db-wal'), { force: true });
    const cases: [string[], RegExp][] = [
      [['audit', 'verify', '--keys', k, broken], /^error AUDIT_UNREADABLE: .*node\.db.*not a readable SQLite database/m],
      [['audit', 'verify', join(base, 'no-such-dir')], /^error AUDIT_UNREADABLE: .*no-such-dir/m],
      [['audit', 'verify', '--keys', a, base], /^error AUDIT_BAD_KEYS: /m],
      [['audit', 'verify', '--keys', k, '--anchor', k, base], /^error AUDIT_BAD_ANCHOR: /m],
    ];
    for (const [args, want] of cases) {
      const r = cli(args);
      expect({ args, status: r.status, stderr: r.stderr }).toMatchObject({ status: 1, stderr: expect.stringMatching(want) });
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    // The regulator pulls heads again from a chain that lost records since: refused, nothing written.
    const cut = tampered({ platform: (db) => cutFrom(db, 20) });
    const a2 = join(tempDir('indomain-anchor2-'), 'anchor.json');
    cpSync(a, a2);
    const before = readFileSync(a2, 'utf8');
    const r = cli(['audit', 'anchor', '--keys', k, '--out', a2, join(cut, 'platform')]);
    expect(r.stderr).toMatch(/^error AUDIT_HEAD_REGRESSED: .*"platform" now ends at #19, but its head #\d+ was anchored/m);
    expect(readFileSync(a2, 'utf8')).toBe(before);
    // From the untouched records: appended.
    const ok = cli(['audit', 'anchor', '--keys', k, '--out', a2, base]);
    expect(ok.status).toBe(0);
    expect(readAnchor(a2).heads.length).toBe(anchor.heads.length + 4);
    console.log(['', 'tamper detection (issue 15 item 3), on one lab run:', ...figures].join('\n'));
    // Seven command-line runs, each loading the TypeScript sources: 120 s ran out at load 20 on 2 cores.
  }, 300_000);
});
