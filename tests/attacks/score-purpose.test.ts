/**
 * Attack: the bank scores enterprises that consented to modelling only. Every enterprise of a
 * job's sample holds a `modelling` authorisation for the bank (PSI admits no other), and the
 * platform's scoring answerers took any declared purpose, `modelling` included; so the bank, with
 * no pre-loan, in-loan or post-loan consent from anyone, asks for the platform's partial logit of
 * every enterprise under purpose `modelling` and gets it (an `lr` model: a float per enterprise,
 * training rows included, which training itself never gives the bank).
 *
 * Real nodes (createNode, 127.0.0.1): an `lr` job on the FATE breast data, every platform
 * enterprise authorised for bank-a's modelling and nothing else. The bank signs
 * score-lr/PartialLogitRequest with its own node key (a malicious bank does not need its own API)
 * and sends it to the platform's `/v1/peer/score-lr`; what comes back is compared with the
 * platform's own partial logits, computed here from its stored part and its CSV.
 *
 * Defence on: the platform gives a score only for a scoring purpose (server/authz.ts
 * SCORING_PURPOSES), and the bank's API refuses `modelling` too. Off: the same platform node
 * (same data directory and port) restarted with the test-only `scoreForAnyPurpose`.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCsv } from '../../engine/csv.ts';
import { lrPartialLogits } from '../../engine/scoring.ts';
import { decodeMessage, encodeMessage } from '../../protocols/codec.ts';
import { createNode } from '../../server/main.ts';
import { compiledLr, partColumns, type StoredLr } from '../../server/scoring/lr-part.ts';
import { identityFromSecret, signRequest, type Identity } from '../../server/signing.ts';
import { PEER_SCORE_LR_PATH } from '../../server/transport/egress.ts';
import { TOKEN, TestNodes } from '../helpers/nodes.ts';

const MODEL = 'lr-purpose';

function readDb<T>(dir: string, f: (db: Database.Database) => T): T {
  const db = new Database(join(dir, 'node.db'), { readonly: true });
  try {
    return f(db);
  } finally {
    db.close();
  }
}

describe('attack: the bank scores enterprises under their modelling consent', () => {
  let t: TestNodes;
  let ids: readonly string[];
  let truth: Map<string, number>;
  let bank: Identity;

  beforeAll(async () => {
    t = await TestNodes.start();
    const files = await t.breast();
    await t.admin('coordinator', 'POST', '/v1/admin/jobs', { id: MODEL, pipeline: 'lr', coordinator: 'coordinator', guest: { node: 'bank-a', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' }, seed: '11', testFraction: 0.25, training: { maxIterations: 12, refuseUnconverged: false } });
    const j = await t.settle(MODEL);
    expect(j.status, JSON.stringify(j.error)).toBe('completed');
    // The truth: the platform's partial logits from its own stored part and its own raw data.
    const host = readDb(t.node('platform').dir, (db) => JSON.parse((db.prepare('SELECT model FROM models WHERE job = ? AND name = ?').get(MODEL, 'host') as { model: string }).model) as StoredLr);
    const table = loadCsv(files.host, { idColumn: 'id' });
    const k = compiledLr(MODEL, 'host', host);
    const u = lrPartialLogits(k, partColumns(k, table));
    truth = new Map(table.ids.map((id, i) => [id, u[i]!]));
    ids = table.ids;
    const secret = readDb(t.node('bank-a').dir, (db) => (db.prepare("SELECT value FROM meta WHERE key = 'ed25519-secret'").get() as { value: Buffer }).value);
    bank = identityFromSecret('bank-a', new Uint8Array(secret));
  }, 600_000);
  afterAll(async () => t?.close());

  /** The bank's own signed request, straight to the platform: the partial logits it gets, or the refusal's code. */
  async function ask(purpose: string): Promise<{ read: number; exact: number } | string> {
    const bytes = encodeMessage({ job: MODEL, protocol: 'score-lr', type: 'PartialLogitRequest', round: 0, from: 'guest', to: 'host', body: { request: randomBytes(12).toString('hex'), model: MODEL, purpose, ids } });
    const r = await fetch(t.node('platform').url + PEER_SCORE_LR_PATH, { method: 'POST', headers: { 'content-type': 'application/msgpack', ...signRequest(bank, 'POST', PEER_SCORE_LR_PATH, bytes) }, body: bytes });
    if (r.status !== 200) return ((await r.json()) as { code: string }).code;
    const body = decodeMessage(new Uint8Array(await r.arrayBuffer())).body as { logits: Float64Array; outcomes: string[] };
    let read = 0;
    let exact = 0;
    ids.forEach((id, k) => {
      if (body.outcomes[k] !== '') return;
      read++;
      if (Math.abs(body.logits[k]! - truth.get(id)!) <= 1e-12 * Math.max(1, Math.abs(truth.get(id)!))) exact++;
    });
    return { read, exact };
  }

  it("on: refused at the platform and at the bank's API; off: every enterprise's partial logit", async () => {
    expect(ids.length).toBeGreaterThan(500);
    // The control: no enterprise authorised the bank for pre-loan scoring.
    expect(await ask('pre-loan')).toEqual({ read: 0, exact: 0 });
    const on = await ask('modelling');
    const api = await t.admin('bank-a', 'POST', '/v1/score', { model: MODEL, id: ids[0], features: {}, purpose: 'modelling' }).then(
      () => 'scored',
      (e: { body: { code: string } }) => e.body.code,
    );

    // Defence off: the same platform, restarted with the test-only switch on the same port.
    const p = t.node('platform');
    await p.close();
    const off = await createNode({ role: 'platform', name: 'platform', data: p.dir, peers: join(t.dir, 'peers.json'), adminToken: TOKEN, dataRoot: t.dataRoot, psiWorkers: 1, unsafe: { scoreForAnyPurpose: true } });
    await off.app.listen({ port: Number(new URL(p.url).port), host: '127.0.0.1' });
    (p as { close: () => Promise<void> }).close = off.close;
    const leaked = await ask('modelling');

    console.log(`partial logits the bank read under modelling consent (of ${ids.length} enterprises): on ${JSON.stringify(on)}, bank API ${api}; off ${JSON.stringify(leaked)}`);
    expect(on).toBe('SRV_BAD_REQUEST');
    expect(api).toBe('SRV_BAD_REQUEST');
    expect(leaked).toEqual({ read: ids.length, exact: ids.length });
  }, 120_000);
});
