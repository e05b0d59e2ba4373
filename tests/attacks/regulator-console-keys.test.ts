/**
 * Attack: make the regulator's console accept a rewritten audit chain by shipping the records with
 * a key of the forger's own: a new identity.json and a peers.json beside the records naming the
 * forger's public key for the node (what `indomain audit verify` on the set as given reads).
 *
 * The platform's genuine records: a real node store (its audit chain signed by its own key) with
 * authorisation grants and a revocation. The forger rebuilds the chain under the same node name
 * with its own key, dropping the revocation, and writes that key beside the records. Baseline
 * (the keys beside the records): verifyAudit on the set as given says OK. The regulator's console
 * (buildRegulatorApp over HTTP, signed in through the console session with its CSRF token) is
 * started with the regulator's own keys file: the forged set must fail with a signature finding, a
 * node the keys file does not name must be a finding, and the genuine set must pass (the control).
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { verifyAudit } from '../../server/audit-verify.ts';
import { AuthorisationRegistry } from '../../server/authz.ts';
import { buildRegulatorApp } from '../../server/regulator.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import { tempDir } from '../helpers/tmp.ts';

const USCC = ['91350100M000100Y43', '91350100M000101W98'];

/** A node directory with its audit chain: grants for each enterprise, and the revocation unless `dropRevocation`. */
function nodeDir(dir: string, name: string, dropRevocation: boolean): string {
  mkdirSync(dir, { recursive: true });
  const store = new NodeStore(dir);
  const id = store.identity(name);
  const authz = new AuthorisationRegistry(store);
  for (const uscc of USCC) authz.grant({ uscc, bank: 'bank-1', purpose: 'modelling', validFrom: Date.UTC(2024, 0, 1), validTo: Date.UTC(2030, 0, 1), revokedAt: null, sourceRef: 'T' });
  if (!dropRevocation) authz.revoke(USCC[0]!, 'bank-1', 'modelling', Date.UTC(2025, 0, 1), 'consent withdrawn');
  store.close();
  const publicKey = Buffer.from(id.publicKey).toString('base64');
  writeFileSync(join(dir, 'identity.json'), JSON.stringify({ name, role: 'platform', publicKey }));
  return publicKey;
}

describe('regulator console: only the regulator’s pinned keys', () => {
  const root = tempDir('indomain-regulator-attack-');
  const genuine = join(root, 'genuine');
  const forged = join(root, 'forged');
  const extra = join(root, 'extra');
  let app: FastifyInstance;
  let base: string;
  let token: string;

  beforeAll(async () => {
    const realKey = nodeDir(join(genuine, 'nodes', 'platform'), 'platform', false);
    writeFileSync(join(genuine, 'nodes', 'peers.json'), JSON.stringify({ nodes: [{ name: 'platform', role: 'platform', url: 'http://x', publicKey: realKey }] }));
    // The forger's chain under the same name, its own key beside it (identity.json and peers.json).
    const forgedKey = nodeDir(join(forged, 'nodes', 'platform'), 'platform', true);
    writeFileSync(join(forged, 'nodes', 'peers.json'), JSON.stringify({ nodes: [{ name: 'platform', role: 'platform', url: 'http://x', publicKey: forgedKey }] }));
    // A set with the genuine platform and a node the regulator never pinned, its key beside it.
    cpSync(join(genuine, 'nodes', 'platform'), join(extra, 'nodes', 'platform'), { recursive: true });
    const strangerKey = nodeDir(join(extra, 'nodes', 'stranger'), 'stranger', false);
    writeFileSync(join(extra, 'nodes', 'peers.json'), JSON.stringify({ nodes: [{ name: 'stranger', role: 'platform', url: 'http://x', publicKey: strangerKey }] }));
    // The regulator's own keys file, obtained independently: the genuine platform key only.
    const keys = join(root, 'regulator-keys.json');
    writeFileSync(keys, JSON.stringify({ nodes: [{ name: 'platform', publicKey: realKey }] }));
    const built = await buildRegulatorApp({ records: [genuine, forged, extra], keys });
    app = built.app;
    token = built.token;
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  }, 60_000);
  afterAll(async () => app?.close());

  const verify = async (set: number, headers: Record<string, string>) => {
    const r = await fetch(`${base}/v1/admin/regulator/verify`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ set }) });
    return { status: r.status, body: (await r.json()) as { ok?: boolean; findings?: { node: string; kind: string; problem: string }[]; code?: string } };
  };

  it('a chain re-signed with a key shipped beside the records fails under the regulator’s keys', async () => {
    // Baseline: the keys beside the records (what a verifier that reads them would trust).
    const beside = verifyAudit([forged]);
    const besideGenuine = verifyAudit([genuine]);
    // The console, signed in the way the page does it.
    const s = await fetch(`${base}/v1/console/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: base }, body: JSON.stringify({ token }) });
    const cookie = String(s.headers.get('set-cookie')).split(';')[0]!;
    const { csrf } = (await s.json()) as { csrf: string };
    const h = { cookie, 'x-csrf-token': csrf, origin: base };
    const [g, f, x] = [await verify(0, h), await verify(1, h), await verify(2, h)];
    console.log(`[regulator-keys] keys beside the records: forged set ok=${beside.ok} (${beside.findings.length} findings), genuine ok=${besideGenuine.ok}`);
    console.log(`[regulator-keys] regulator console: genuine ok=${g.body.ok}; forged ok=${f.body.ok} (${f.body.findings?.map((y) => `${y.node}: ${y.problem}`).join('; ')}); unpinned node ok=${x.body.ok} (${x.body.findings?.map((y) => `${y.node} ${y.kind}`).join(', ')})`);
    expect(beside.ok).toBe(true); // the attack works against keys found beside the records
    expect(besideGenuine.ok).toBe(true);
    expect(g.status).toBe(200);
    expect(g.body.ok).toBe(true);
    expect(f.body.ok).toBe(false);
    expect(f.body.findings!.some((y) => y.node === 'platform' && /regulator's keys file/.test(y.problem))).toBe(true);
    expect(x.body.ok).toBe(false);
    expect(x.body.findings!.some((y) => y.node === 'stranger' && y.kind === 'key')).toBe(true);
    expect(x.body.findings!.some((y) => y.node === 'platform')).toBe(false);
  });

  it('the verification and the sources need the session with its CSRF token, or the token', async () => {
    const none = await verify(1, {});
    const noCsrf = await fetch(`${base}/v1/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
    const cookie = String(noCsrf.headers.get('set-cookie')).split(';')[0]!;
    const forgedCsrf = await verify(1, { cookie, 'x-csrf-token': 'x' });
    const sources = await fetch(`${base}/v1/admin/regulator/sources`);
    const wrongToken = await verify(1, { 'x-admin-token': `${token}x` });
    console.log(`[regulator-keys] no credential ${none.status}, cookie with forged CSRF ${forgedCsrf.status}, sources without credential ${sources.status}, wrong token ${wrongToken.status}`);
    expect([none.status, forgedCsrf.status, sources.status, wrongToken.status]).toEqual([401, 403, 401, 401]);
  });
});
