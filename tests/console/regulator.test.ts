/**
 * `indomain console regulator` (server/regulator.ts serveRegulator) by HTTP: it starts on the given
 * port, signs in with its token, verifies a record set under the keys file it was given, reports
 * a node the keys file does not name, and refuses an unreadable keys file at start.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serveRegulator } from '../../server/regulator.ts';
import { INJECT_TOKEN, injectNodes } from '../helpers/inject-nodes.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('indomain console regulator', () => {
  it('serves the console, and verifies under its own keys file only', async () => {
    const nodes = await injectNodes();
    const platform = nodes.nodes.find((n) => n.role === 'platform')!;
    await platform.app.inject({ method: 'POST', url: '/v1/admin/authorisations', headers: { 'x-admin-token': INJECT_TOKEN }, payload: { uscc: '91350100M000100Y43', bank: 'bank-1', purpose: 'modelling', valid_from: '2024-01-01', valid_to: '2030-01-01', source_ref: 'DOC' } });
    const records = join(platform.app.node.store.dir, '..');
    const identity = platform.app.node.identity;
    await nodes.close();
    const keys = join(tempDir('indomain-reg-'), 'keys.json');
    // The regulator holds the platform's key only.
    writeFileSync(keys, JSON.stringify({ nodes: [{ name: 'platform', publicKey: Buffer.from(identity.publicKey).toString('base64') }] }));
    const lines: string[] = [];
    process.env.INDOMAIN_CONSOLE_TOKEN = 'regulator-token-for-this-test';
    const app = await serveRegulator(['--records', records, '--keys', keys, '--port', '0'], (l) => lines.push(l));
    delete process.env.INDOMAIN_CONSOLE_TOKEN;
    try {
      const url = /regulator console: (http:\/\/[^ ]+)\/console\//.exec(lines[0]!)![1]!;
      expect((await fetch(`${url}/console/`)).status).toBe(200);
      expect((await fetch(`${url}/v1/admin/regulator/sources`)).status).toBe(401);
      const signIn = await fetch(`${url}/v1/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'regulator-token-for-this-test' }) });
      const { csrf } = (await signIn.json()) as { csrf: string };
      const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
      const noCsrf = await fetch(`${url}/v1/admin/regulator/verify`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ set: 0 }) });
      expect(noCsrf.status).toBe(403);
      const r = await fetch(`${url}/v1/admin/regulator/verify`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: JSON.stringify({ set: 0 }) });
      const report = (await r.json()) as { ok: boolean; nodes: { name: string; pinned: boolean }[]; findings: { node: string; kind: string; problem: string }[] };
      expect(report.ok).toBe(false);
      expect(report.nodes.find((n) => n.name === 'platform')!.pinned).toBe(true);
      // Every node but the platform is unknown to the keys file, whatever peers.json lies beside the records.
      expect(report.findings.filter((f) => f.kind === 'key').map((f) => f.node).sort()).toEqual(['bank-1', 'coordinator']);
      expect(report.findings.some((f) => f.node === 'platform')).toBe(false);
    } finally {
      await app.close();
    }
    const bad = join(tempDir('indomain-reg-bad-'), 'keys.json');
    writeFileSync(bad, '{ not json');
    await expect(serveRegulator(['--records', records, '--keys', bad, '--port', '0'], () => {})).rejects.toMatchObject({ code: 'CLI_BAD_ARGS' });
  });
});
