/**
 * Attack: cross-site request forgery against a signed-in console. In the lab every node is on
 * 127.0.0.1, so a page on any other port of that host is the same *site*: the browser sends the
 * SameSite=Strict session cookie with its requests. Routes with a JSON body are out of its reach
 * (a cross-origin page cannot send application/json without a CORS preflight the node never
 * grants), but a body-less POST is a "simple" request: `fetch(node + '/v1/admin/jobs/ID/cancel',
 * { method: 'POST', mode: 'no-cors', credentials: 'include' })` arrives with the cookie, the
 * attacker's Origin and `sec-fetch-site: same-site`, and no CSRF header.
 *
 * Defence on: the admin hook wants the session's CSRF token (and this node's origin): refused,
 * the job untouched. Defence off (TEST ONLY unsafe.consoleCsrf 'off'): the job is cancelled.
 */
import { describe, expect, it } from 'vitest';
import { INJECT_TOKEN, injectNodes } from '../helpers/inject-nodes.ts';

async function forge(csrf: 'on' | 'off'): Promise<{ status: number; job: string }> {
  const nodes = await injectNodes(csrf === 'off' ? { consoleCsrf: 'off' } : undefined);
  try {
    const platform = nodes.nodes.find((n) => n.role === 'platform')!.app;
    const spec = { id: 'victim', pipeline: 'scorecard', coordinator: 'coordinator', guest: { node: 'bank-1', dataset: 'loans' }, host: { node: 'platform', dataset: 'platform-credit' } };
    platform.node.store.putJob('victim', JSON.stringify(spec));
    // The analyst signed in earlier, in the same browser.
    const signIn = await platform.inject({ method: 'POST', url: '/v1/console/session', payload: { token: INJECT_TOKEN } });
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    // The forged request, as Chromium sends it from http://127.0.0.1:9999 (another port, same site).
    const r = await platform.inject({ method: 'POST', url: '/v1/admin/jobs/victim/cancel', headers: { cookie, origin: 'http://127.0.0.1:9999', 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors' } });
    return { status: r.statusCode, job: platform.node.store.job('victim')!.status };
  } finally {
    await nodes.close();
  }
}

describe('attack: a same-site page forges a state-changing console request', () => {
  it('is refused with the CSRF defence, and cancels the job without it', async () => {
    const on = await forge('on');
    const off = await forge('off');
    console.log(`forged cancel: defence on → HTTP ${on.status}, job ${on.job}; defence off → HTTP ${off.status}, job ${off.job}`);
    expect(on).toEqual({ status: 403, job: 'created' });
    expect(off).toEqual({ status: 200, job: 'cancelled' });
  });
});
