/**
 * Attack: whoever hands the regulator the node records also hands over the keys beside them. They
 * alter an audit record of the platform (an authorisation's source document), rebuild the chain's
 * hashes from there, re-sign every signed record with a key of their own, and put that key in the
 * platform's identity.json and in the peers.json beside the records.
 *
 * Defence off: verification that takes the keys found beside the records (`verifyAudit` on the
 * directory, as `indomain audit verify DIR` does today) passes the forged chain.
 * Defence on: the regulator's console (server/regulator.ts `verifySet`) stages the records with
 * the regulator's own pinned keys file and never reads a key beside them: the forgery is a finding
 * at the platform's first record (the first the forger re-signed).
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { verifyAudit } from '../../server/audit-verify.ts';
import { recordHash, type AuditRecord } from '../../server/audit.ts';
import { generateSecretKey, publicKeyOf, sign } from '../../server/ed25519.ts';
import { verifySet } from '../../server/regulator.ts';
import { INJECT_TOKEN, injectNodes } from '../helpers/inject-nodes.ts';
import { tempDir } from '../helpers/tmp.ts';

describe("attack: forged records with the forger's keys beside them", () => {
  it("passes where keys beside the records are trusted, and fails under the regulator's pinned keys", async () => {
    const nodes = await injectNodes();
    const platform = nodes.nodes.find((n) => n.role === 'platform')!;
    const nodesDir = join(platform.app.node.store.dir, '..');
    for (const [i, uscc] of ['91350100M000100Y43', '91110000600037341L'].entries()) {
      const r = await platform.app.inject({ method: 'POST', url: '/v1/admin/authorisations', headers: { 'x-admin-token': INJECT_TOKEN }, payload: { uscc, bank: 'bank-1', purpose: 'modelling', valid_from: '2024-01-01', valid_to: '2030-01-01', source_ref: `DOC-${i}` } });
      expect(r.statusCode).toBe(201);
    }
    await nodes.close();
    // The regulator's keys, taken before the records were handed over.
    const keys = join(tempDir('indomain-regulator-keys-'), 'keys.json');
    const peers = JSON.parse(readFileSync(join(nodesDir, 'peers.json'), 'utf8')) as { nodes: { name: string; publicKey: string }[] };
    writeFileSync(keys, JSON.stringify({ nodes: peers.nodes.map((n) => ({ name: n.name, publicKey: n.publicKey })) }));
    const work = tempDir('indomain-regulator-work-');
    const honest = await verifySet(nodesDir, keys, work);
    expect(honest.ok, JSON.stringify(honest.findings)).toBe(true);

    // The forgery, on the copy the regulator receives.
    const given = tempDir('indomain-given-');
    cpSync(nodesDir, given, { recursive: true });
    const db = new Database(join(given, 'platform', 'node.db'));
    db.exec('DROP TRIGGER audit_no_update');
    const records = db.prepare('SELECT * FROM audit ORDER BY seq').all() as AuditRecord[];
    const target = records.find((r) => r.body.includes('DOC-1'))!;
    const forger = generateSecretKey();
    const update = db.prepare('UPDATE audit SET body = ?, prev = ?, hash = ?, signature = ? WHERE seq = ?');
    // Every record re-signed (and re-hashed from the altered one on): the whole chain is the forger's.
    let prev = '0'.repeat(64);
    for (const r of records) {
      const body = r.seq === target.seq ? r.body.replace('DOC-1', 'DOC-FORGED') : r.body;
      const hash = recordHash(r.seq, r.at, r.kind, r.job, body, prev);
      const signature = r.signature === '' ? '' : Buffer.from(sign(Buffer.from(hash, 'hex'), forger)).toString('base64');
      update.run(body, prev, hash, signature, r.seq);
      prev = hash;
    }
    db.close();
    const forgedKey = Buffer.from(publicKeyOf(forger)).toString('base64');
    const identity = JSON.parse(readFileSync(join(given, 'platform', 'identity.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(given, 'platform', 'identity.json'), JSON.stringify({ ...identity, publicKey: forgedKey }));
    writeFileSync(join(given, 'peers.json'), JSON.stringify({ nodes: peers.nodes.map((n) => (n.name === 'platform' ? { ...n, publicKey: forgedKey } : n)) }));

    // Defence off: the keys beside the records vouch for the forgery.
    const off = verifyAudit([given]);
    expect(off.ok, JSON.stringify(off.findings)).toBe(true);
    expect(off.nodes.find((n) => n.name === 'platform')!.pinned).toBe(true);

    // Defence on: the regulator's own keys.
    const on = await verifySet(given, keys, work);
    expect(on.ok).toBe(false);
    expect(on.findings[0]).toMatchObject({ node: 'platform', seq: 1 });
    expect(on.findings[0]!.problem).toMatch(/signature does not verify under the node's key in the regulator's keys file/);
    expect(on.records[0]!.seq).toBe(1);
    console.log(`forged record #${target.seq}: keys beside the records ok=${off.ok}; regulator's pinned keys ok=${on.ok}, ${on.findings.length} finding(s)`);
  });
});
