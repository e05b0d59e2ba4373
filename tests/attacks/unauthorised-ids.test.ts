/**
 * Attack: the platform learns about enterprises the bank has no authorisation to ask about — the
 * bank's customers that are not on the platform at all, or whose authorisation is missing, expired,
 * revoked or not yet valid — from the ids the bank sends when it scores and monitors its book.
 *
 * As the platform: read every enterprise id it received (its audit chain records the ids of every
 * scoring and monitoring request before answering; its inbox holds every job message) and count
 * those the bank held no valid authorisation for.
 *
 * Real node processes (benchmarks/online.ts: coordinator, platform, bank, a deployed scorecard).
 * Defence on: the bank checks each id against its copy of its own authorisations
 * (server/grants.ts) and refuses unauthorised ones locally. Defence off: the same bank node code
 * (`createNode`, same data directory and port) with the test-only `askUnauthorised` switch.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineLab } from '../../benchmarks/online.ts';
import { csvRows } from '../../engine/csv.ts';
import { checkRecord, status } from '../../server/authz.ts';
import type { Cluster } from '../../server/cluster.ts';
import { createNode } from '../../server/main.ts';
import { tempDir } from '../helpers/tmp.ts';


/** Every id the platform received in a plaintext field after audit record `after`, and the last record's seq. */
function receivedByPlatform(c: Cluster, after: number, candidates: readonly string[]): { ids: Set<string>; last: number } {
  const db = new Database(join(c.dataDir('platform'), 'node.db'), { readonly: true });
  try {
    const rows = db.prepare("SELECT seq, body FROM audit WHERE seq > ? AND kind = 'message-received'").all(after) as { seq: number; body: string }[];
    const ids = new Set<string>();
    for (const r of rows) {
      const b = JSON.parse(r.body) as { enterprises?: unknown };
      if (Array.isArray(b.enterprises)) for (const id of b.enterprises) ids.add(String(id));
    }
    // Job messages received meanwhile too, in case any named an enterprise in plain text.
    const since = after === 0 ? Number.MAX_SAFE_INTEGER : (db.prepare('SELECT at FROM audit WHERE seq = ?').get(after) as { at: number }).at;
    const inbox = db.prepare('SELECT bytes FROM inbox WHERE received_at >= ?').all(since) as { bytes: Uint8Array }[];
    const text = inbox.map((r) => Buffer.from(r.bytes).toString('latin1')).join('\n');
    for (const id of candidates) if (text.includes(id)) ids.add(id);
    const last = (db.prepare('SELECT MAX(seq) AS s FROM audit').get() as { s: number }).s;
    return { ids, last };
  } finally {
    db.close();
  }
}

describe('attack: the platform reads the ids of enterprises the bank holds no authorisation for', () => {
  let lab: Awaited<ReturnType<typeof onlineLab>>;
  let c: Cluster;
  let book: string[];
  let unauthorised: string[];
  let authorised: string[];

  beforeAll(async () => {
    lab = await onlineLab(tempDir('indomain-attack-ids-'), 0, () => {});
    c = lab.cluster;
    // The truth, from the authorisation file: valid now for bank-1 (every purpose has the same grants).
    const auth = csvRows(readFileSync(lab.data.authorisations, 'utf8'));
    const head = auth[0]!;
    const now = Date.now();
    const valid = { 'pre-loan': new Set<string>(), 'post-loan': new Set<string>() };
    for (let i = 1; i < auth.length; i++) {
      const a = checkRecord(Object.fromEntries(head.map((h, j) => [h, auth[i]![j] ?? ''])), i + 1, 'authorisations');
      if (a.bank === 'bank-1' && (a.purpose === 'pre-loan' || a.purpose === 'post-loan') && status([a], now) === 'valid') valid[a.purpose].add(a.uscc);
    }
    expect([...valid['pre-loan']].sort()).toEqual([...valid['post-loan']].sort());
    book = csvRows(readFileSync(lab.data.banks[0]!, 'utf8')).slice(1).map((r) => r[0]!);
    unauthorised = book.filter((id) => !valid['pre-loan'].has(id));
    authorised = book.filter((id) => valid['pre-loan'].has(id));
  }, 240_000);
  afterAll(async () => {
    await c?.stop();
  });

  /** What the bank does with its book: batch scoring, online scoring of some of each, monitoring. */
  async function useTheBook(): Promise<{ batchRefused: number; onlineRefused: string[] }> {
    const batch = await c.admin<{ rows: number; outcomes: Record<string, number> }>('bank-1', 'POST', '/v1/admin/score-batch', { model: lab.model, dataset: 'loans', purpose: 'pre-loan' });
    const onlineRefused: string[] = [];
    for (const id of [...unauthorised.slice(0, 10), ...authorised.slice(0, 5)]) {
      try {
        await c.admin('bank-1', 'POST', '/v1/score', { model: lab.model, id, features: {} });
      } catch (e) {
        onlineRefused.push((e as { code: string }).code);
      }
    }
    await c.admin('bank-1', 'POST', '/v1/admin/monitor', { model: lab.model, dataset: 'loans', dropPoints: 15 });
    return { batchRefused: batch.outcomes.AUTH_NOT_AUTHORISED ?? 0, onlineRefused };
  }

  it('on: no unauthorised id reaches the platform; off: every one does', async () => {
    expect(unauthorised.length).toBeGreaterThan(100);
    const start = receivedByPlatform(c, 0, []).last;

    // Defence on: the bank node as the cluster runs it.
    const on = await useTheBook();
    const seenOn = receivedByPlatform(c, start, unauthorised);
    const leakedOn = unauthorised.filter((id) => seenOn.ids.has(id));
    expect(on.batchRefused).toBe(unauthorised.length);
    expect(on.onlineRefused).toEqual(new Array(10).fill('AUTH_NOT_AUTHORISED'));
    expect(authorised.filter((id) => seenOn.ids.has(id)).length).toBe(authorised.length);

    // Defence off: the same bank, restarted with the test-only switch on the same port.
    await c.kill('bank-1', 'SIGTERM');
    const off = await createNode({ role: 'bank', name: 'bank-1', data: c.dataDir('bank-1'), peers: c.peersFile, adminToken: c.token, psiWorkers: 1, unsafe: { askUnauthorised: true } });
    await off.app.listen({ port: Number(new URL(c.url('bank-1')).port), host: '127.0.0.1' });
    let leakedOff: string[];
    try {
      const r = await useTheBook();
      expect(r.batchRefused).toBe(unauthorised.length);
      leakedOff = unauthorised.filter((id) => receivedByPlatform(c, seenOn.last, unauthorised).ids.has(id));
    } finally {
      await off.close();
    }
    console.log(`unauthorised ids received by the platform (of ${unauthorised.length} in a book of ${book.length}): on ${leakedOn.length}, off ${leakedOff.length}`);
    expect(leakedOn).toEqual([]);
    expect(leakedOff.length).toBe(unauthorised.length);
  }, 240_000);
});
