/**
 * Attack: guess the regulator console's sign-in token over HTTP. `indomain console regulator` took
 * its token from INDOMAIN_CONSOLE_TOKEN at any length (a node refuses an admin token under 16
 * characters), and its sign-in route is public and not rate-limited: a short token falls to a
 * plain enumeration of POST /v1/console/session, and the session it yields reads the record sets
 * and runs verifications.
 *
 * Defence off (`unsafe.shortToken`, a test-only option the command line cannot set): the real
 * regulator app on 127.0.0.1 with the two-character token "k7"; the attacker enumerates [a-z0-9]{1,2}
 * and then reads /v1/admin/regulator/sources with the session. Defence on: a token under 16
 * characters is refused when the app is built, from the API and from the command line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildRegulatorApp, serveRegulator } from '../../server/regulator.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir('indomain-regulator-token-');
const keys = join(dir, 'keys.json');
writeFileSync(keys, JSON.stringify({ nodes: [{ name: 'platform', publicKey: Buffer.alloc(32, 1).toString('base64') }] }));

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const candidates = [...ALPHABET, ...[...ALPHABET].flatMap((a) => [...ALPHABET].map((b) => a + b))];

/** Enumerate the sign-in route, 8 requests at a time; the first token it takes and the number of tries. */
async function enumerate(base: string): Promise<{ token?: string; tries: number; cookie?: string; csrf?: string }> {
  let tries = 0;
  for (let i = 0; i < candidates.length; i += 8) {
    const batch = candidates.slice(i, i + 8);
    const answers = await Promise.all(batch.map((token) => fetch(`${base}/v1/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) })));
    tries += batch.length;
    for (const [j, r] of answers.entries()) {
      if (r.status === 200) return { token: batch[j], tries, cookie: String(r.headers.get('set-cookie')).split(';')[0], csrf: ((await r.json()) as { csrf: string }).csrf };
      await r.arrayBuffer();
    }
  }
  return { tries };
}

describe('regulator console sign-in token', () => {
  let app: FastifyInstance | undefined;
  afterAll(async () => app?.close());

  it('defence off: a short token is enumerated over HTTP and its session reads the records', async () => {
    const built = await buildRegulatorApp({ records: [dir], keys, token: 'k7', unsafe: { shortToken: true } });
    app = built.app;
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const t0 = performance.now();
    const found = await enumerate(base);
    const ms = performance.now() - t0;
    const sources = await fetch(`${base}/v1/admin/regulator/sources`, { headers: { cookie: found.cookie ?? '' } });
    console.log(`[regulator-token] defence off: token ${JSON.stringify(found.token)} found after ${found.tries} sign-in attempts in ${ms.toFixed(0)} ms; sources with its session: ${sources.status}`);
    expect(found.token).toBe('k7');
    expect(sources.status).toBe(200);
  }, 120_000);

  it('defence on: a token under 16 characters is refused, from the API and from the command line', async () => {
    const refused: string[] = [];
    for (const token of ['k7', 'x'.repeat(15)]) {
      await buildRegulatorApp({ records: [dir], keys, token }).then(
        (b) => b.app.close(),
        (e: { code?: string }) => refused.push(`${token.length} chars: ${e.code}`),
      );
    }
    const saved = process.env.INDOMAIN_CONSOLE_TOKEN;
    process.env.INDOMAIN_CONSOLE_TOKEN = 'k7';
    try {
      await serveRegulator(['--records', dir, '--keys', keys, '--port', '0'], () => {}).then(
        (a) => a.close(),
        (e: { code?: string }) => refused.push(`command line: ${e.code}`),
      );
    } finally {
      if (saved === undefined) delete process.env.INDOMAIN_CONSOLE_TOKEN;
      else process.env.INDOMAIN_CONSOLE_TOKEN = saved;
    }
    // The default (a fresh random token) and a 16-character one still start.
    const fresh = await buildRegulatorApp({ records: [dir], keys });
    await fresh.app.close();
    const sixteen = await buildRegulatorApp({ records: [dir], keys, token: 'y'.repeat(16) });
    await sixteen.app.close();
    console.log(`[regulator-token] defence on: refused ${refused.join('; ')}; fresh token ${fresh.token.length} chars starts`);
    expect(refused).toEqual(['2 chars: CLI_BAD_ARGS', '15 chars: CLI_BAD_ARGS', 'command line: CLI_BAD_ARGS']);
  });
});
