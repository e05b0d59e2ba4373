/**
 * The chain-head exchange (server/audit-heads.ts) between real nodes over HTTP: a pinned node's
 * signed head is recorded in the receiver's chain and answered with the receiver's own head, signed
 * for that request; a head its sender did not sign, or of another node, is refused with its code
 * and nothing is recorded; the node's public head matches its chain.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../protocols/codec.ts';
import type { Envelope } from '../../protocols/message.ts';
import { HEADS_JOB, type ChainHead } from '../../server/audit.ts';
import { headSigned } from '../../server/audit-heads.ts';
import { REPLY_SIGNATURE, signRequest, verifyReply, type Identity } from '../../server/signing.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import { PEER_HEAD_PATH } from '../../server/transport/egress.ts';
import { TestNodes } from '../helpers/nodes.ts';

describe('chain heads between nodes', () => {
  let t: TestNodes;
  let coordinator: Identity;
  let platformKey: Uint8Array;

  beforeAll(async () => {
    t = await TestNodes.start();
    // The coordinator's identity, read from its own store (the same key its process signs with).
    const s = new NodeStore(t.node('coordinator').dir);
    coordinator = s.identity('coordinator');
    const p = new NodeStore(t.node('platform').dir);
    platformKey = p.identity('platform').publicKey;
    s.close();
    p.close();
  }, 60_000);
  afterAll(async () => {
    await t.close();
  });

  const head = async (node: string) => (await fetch(`${t.node(node).url}/v1/audit/head`)).json() as Promise<ChainHead>;
  const records = (node: string) => {
    const db = new Database(join(t.node(node).dir, 'node.db'), { readonly: true });
    const r = db.prepare('SELECT seq, kind, job, body FROM audit ORDER BY seq').all() as { seq: number; kind: string; job: string; body: string }[];
    db.close();
    return r;
  };
  const send = async (body: ChainHead) => {
    const env: Envelope = { job: HEADS_JOB, protocol: 'audit', type: 'ChainHead', round: 0, from: 'node', to: 'node', body: { ...body } };
    const bytes = encodeMessage(env);
    const headers = signRequest(coordinator, 'POST', PEER_HEAD_PATH, bytes);
    const r = await fetch(t.node('platform').url + PEER_HEAD_PATH, { method: 'POST', headers: { ...headers, 'content-type': 'application/msgpack' }, body: bytes });
    return { r, bytes: new Uint8Array(await r.arrayBuffer()), nonce: headers['x-indomain-nonce']! };
  };

  it("records the sender's signed head and answers with its own, signed for the request", async () => {
    const mine = await head('coordinator');
    expect(headSigned(mine, coordinator.publicKey)).toBe(true);
    const before = records('platform').length;
    const { r, bytes, nonce } = await send(mine);
    expect(r.status).toBe(200);
    expect(verifyReply(platformKey, 'platform', PEER_HEAD_PATH, nonce, r.headers.get(REPLY_SIGNATURE) ?? undefined, bytes)).toBe(true);
    const theirs = decodeMessage(bytes).body as unknown as ChainHead;
    expect(theirs.node).toBe('platform');
    expect(headSigned(theirs, platformKey)).toBe(true);
    // Recorded after the head it answered with (its chain then), and before the reply left.
    const after = records('platform');
    const rec = after.find((x) => x.kind === 'message-received' && x.job === HEADS_JOB && JSON.parse(x.body).head?.node === 'coordinator')!;
    expect(JSON.parse(rec.body).head).toEqual(mine);
    expect(theirs.seq).toBeGreaterThanOrEqual(before);
    expect(rec.seq).toBe(theirs.seq + 1);
  });

  it('refuses a head its sender did not sign, or one of another node; records nothing', async () => {
    const mine = await head('coordinator');
    const heldBefore = records('platform').filter((x) => x.kind === 'message-received' && x.job === HEADS_JOB).length;
    const forged = { ...mine, hash: mine.hash.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
    const a = await send(forged);
    expect(a.r.status).toBe(401);
    expect(JSON.parse(Buffer.from(a.bytes).toString('utf8')).code).toBe('SRV_BAD_SIGNATURE');
    const b = await send({ ...mine, node: 'bank-a' });
    expect(JSON.parse(Buffer.from(b.bytes).toString('utf8')).code).toBe('SRV_UNKNOWN_PARTY');
    // Nothing recorded of either (the platform's own head rounds may add records meanwhile: those are its requests).
    const held = records('platform').filter((x) => x.kind === 'message-received' && x.job === HEADS_JOB && JSON.parse(x.body).peer === 'coordinator' && JSON.parse(x.body).head?.node !== 'coordinator');
    expect(held).toEqual([]);
    expect(records('platform').filter((x) => x.kind === 'message-received' && x.job === HEADS_JOB && JSON.parse(x.body).head?.hash === forged.hash)).toEqual([]);
    expect(heldBefore).toBeGreaterThan(0);
  });
});
