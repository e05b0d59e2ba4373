import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage, pack } from '../../protocols/codec.ts';
import { buildApp } from '../../server/app.ts';
import { DataRoot } from '../../server/data-root.ts';
import { NodeRuntime } from '../../server/runtime.ts';
import { jobFactory } from '../../server/jobs/factory.ts';
import { HttpClient } from '../../server/transport/http-client.ts';
import { MESSAGE_PATH } from '../../server/transport/egress.ts';
import type { Peer } from '../../server/transport/peer.ts';
import { newIdentity, signRequest, type Identity } from '../../server/signing.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import { tempDir } from '../helpers/tmp.ts';

/** A platform node served over real HTTP on an ephemeral port, with one pinned peer. */
describe('node HTTP security', () => {
  let app: FastifyInstance;
  let url: string;
  let store: NodeStore;
  const token = 'test-admin-token-0123456789';
  const bank: Identity = newIdentity('bank-a');
  const stranger: Identity = newIdentity('bank-z');

  beforeAll(async () => {
    store = new NodeStore(tempDir('indomain-node-'));
    const identity = store.identity('platform');
    const peers = new Map<string, Peer>([
      ['bank-a', { name: 'bank-a', role: 'bank', url: 'http://127.0.0.1:9', publicKey: bank.publicKey }],
      ['coordinator', { name: 'coordinator', role: 'coordinator', url: 'http://127.0.0.1:9', publicKey: newIdentity('coordinator').publicKey }],
    ]);
    const runtime = new NodeRuntime({ name: 'platform', role: 'platform', store, identity, jobs: jobFactory({ store }), http: new HttpClient(), peers });
    app = await buildApp({ runtime, identity, role: 'platform', peers, adminToken: token, dataRoot: new DataRoot(tempDir('indomain-root-')), bodyLimit: 1024 * 1024 });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app.close();
    store.close();
  });

  const body = encodeMessage({ job: 'j', protocol: 'psi', type: 'PsiRequest', round: 0, from: 'guest', to: 'host', body: { blinded: new Uint8Array(32) } });
  const post = async (headers: Record<string, string>, b: Uint8Array = body) => {
    const r = await fetch(url + MESSAGE_PATH, { method: 'POST', headers: { 'content-type': 'application/msgpack', ...headers }, body: b });
    return { status: r.status, json: (await r.json()) as { code: string; message: string } };
  };
  const inboxSize = () => (store.db.prepare('SELECT COUNT(*) AS n FROM inbox').get() as { n: number }).n;

  it('refuses an unsigned request', async () => {
    const r = await post({});
    expect(r).toMatchObject({ status: 401, json: { code: 'SRV_UNSIGNED' } });
  });
  it('refuses a forged signature (right name, wrong key)', async () => {
    const forger = { ...stranger, name: 'bank-a' };
    expect(await post(signRequest(forger, 'POST', MESSAGE_PATH, body))).toMatchObject({ status: 401, json: { code: 'SRV_BAD_SIGNATURE' } });
  });
  it('refuses a signature over another body or path', async () => {
    expect(await post(signRequest(bank, 'POST', MESSAGE_PATH, pack({ other: 1 })))).toMatchObject({ json: { code: 'SRV_BAD_SIGNATURE' } });
    expect(await post(signRequest(bank, 'POST', '/v1/other', body))).toMatchObject({ json: { code: 'SRV_BAD_SIGNATURE' } });
  });
  it('refuses a stale timestamp', async () => {
    expect(await post(signRequest(bank, 'POST', MESSAGE_PATH, body, Date.now() - 6 * 60 * 1000))).toMatchObject({ status: 401, json: { code: 'SRV_STALE_REQUEST' } });
  });
  it('refuses an unknown peer', async () => {
    expect(await post(signRequest(stranger, 'POST', MESSAGE_PATH, body))).toMatchObject({ status: 403, json: { code: 'SRV_UNKNOWN_PEER' } });
  });
  it('refuses a replayed request', async () => {
    // A message for a job this node does not know: refused after the signature checks, nonce used.
    const headers = signRequest(bank, 'POST', MESSAGE_PATH, body);
    const first = await post(headers);
    expect(first.json.code).toBe('SRV_NOT_FOUND');
    expect(await post(headers)).toMatchObject({ status: 409, json: { code: 'SRV_REPLAYED_REQUEST' } });
  });
  it('refuses an oversized body', async () => {
    const big = new Uint8Array(2 * 1024 * 1024);
    expect(await post(signRequest(bank, 'POST', MESSAGE_PATH, big), big)).toMatchObject({ status: 413, json: { code: 'SRV_BODY_TOO_LARGE' } });
  });
  it('refuses malformed msgpack, even correctly signed', async () => {
    const junk = Uint8Array.from([0xc1, 0xff, 0x00]);
    expect(await post(signRequest(bank, 'POST', MESSAGE_PATH, junk), junk)).toMatchObject({ status: 400, json: { code: 'SRV_MALFORMED_BODY' } });
  });
  it('stores nothing from refused requests', () => {
    expect(inboxSize()).toBe(0);
  });
  it('needs the admin token for administrative endpoints, and serves its OpenAPI description', async () => {
    const r = await fetch(`${url}/v1/admin/jobs`);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { code: string }).code).toBe('SRV_ADMIN_TOKEN');
    const ok = await fetch(`${url}/v1/admin/jobs`, { headers: { 'x-admin-token': token } });
    expect(ok.status).toBe(200);
    const api = (await (await fetch(`${url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(api.openapi).toMatch(/^3\./);
    expect(Object.keys(api.paths)).toEqual(expect.arrayContaining([MESSAGE_PATH, '/v1/admin/datasets', '/v1/admin/jobs/{id}']));
  });
  it('refuses a bad dataset with its coded error and keeps what was stored', async () => {
    const bad = await fetch(`${url}/v1/admin/datasets`, {
      method: 'POST',
      headers: { 'x-admin-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', path: '/nonexistent.csv', idColumn: 'id' }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('DATA_PATH_REFUSED');
    expect(store.datasets()).toEqual([]);
  });
});
