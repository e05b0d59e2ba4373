/**
 * Bounded work (issue 15, items 7 and 8): ids per request and id length before anything reads,
 * echoes or audits them; request and idle timeouts; Node's own refusals (headers too large, a
 * request not received in time) coded like every other answer.
 */
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage } from '../../protocols/codec.ts';
import { signRequest, type Identity } from '../../server/signing.ts';
import { PEER_SCORE_PATH } from '../../server/transport/egress.ts';
import { INJECT_TOKEN, injectNodes, type InjectNode } from '../helpers/inject-nodes.ts';

const auditCount = (n: InjectNode) => (n.app.node.store.db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n;

describe('ids per request and id length', () => {
  let nodes: InjectNode[];
  let identities: Map<string, Identity>;
  let close: () => Promise<void>;
  beforeAll(async () => void ({ nodes, identities, close } = await injectNodes(undefined, { idsPerRequest: 10_000, idLength: 64 })), 60_000);
  afterAll(async () => close?.());

  const partialScores = (ids: string[]) => {
    const bytes = encodeMessage({ job: 'm', protocol: 'score', type: 'PartialScoreRequest', round: 0, from: 'guest', to: 'host', body: { request: 'r'.repeat(24), model: 'm', purpose: 'pre-loan', ids } });
    const platform = nodes.find((n) => n.role === 'platform')!;
    return platform.app.inject({ method: 'POST', url: PEER_SCORE_PATH, headers: { 'content-type': 'application/msgpack', ...signRequest(identities.get('bank-1')!, 'POST', PEER_SCORE_PATH, bytes) }, payload: Buffer.from(bytes) });
  };

  it('the platform refuses a PartialScoreRequest of 1M ids, or with a 5 MB id, before it audits or echoes any (SRV_LIMIT_EXCEEDED)', async () => {
    const platform = nodes.find((n) => n.role === 'platform')!;
    const before = auditCount(platform);
    const many = Array.from({ length: 1_000_000 }, (_, i) => `91370200MA${String(i).padStart(8, '0')}`);
    const t = performance.now();
    const r = await partialScores(many);
    const ms = Math.round(performance.now() - t);
    const long = await partialScores(['91370200MA', 'X'.repeat(5 * 1024 * 1024)]);
    console.log(`limits: 1M-id PartialScoreRequest ${r.statusCode} ${r.json().code} in ${ms} ms; a 5 MB id ${long.statusCode} ${long.json().code}; audit records added ${auditCount(platform) - before}`);
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ code: 'SRV_LIMIT_EXCEEDED', message: 'field "ids": a request exceeds one of the node\'s configured limits (id length, ids per request): 1000000 ids, at most 10000 in one request' });
    expect(long.json()).toMatchObject({ code: 'SRV_LIMIT_EXCEEDED' });
    expect(long.json().message).toContain('field "ids[1]"');
    expect(long.body.length).toBeLessThan(300);
    expect(auditCount(platform)).toBe(before);
  }, 60_000);

  it('the bank refuses an online scoring id longer than the limit before it is echoed or audited', async () => {
    const bank = nodes.find((n) => n.role === 'bank')!;
    const before = auditCount(bank);
    const id = 'E'.repeat(5 * 1024 * 1024);
    const r = await bank.app.inject({ method: 'POST', url: '/v1/score', headers: { 'x-admin-token': INJECT_TOKEN }, payload: { model: 'm', id } });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ code: 'SRV_LIMIT_EXCEEDED' });
    expect(r.json().message).toContain('field "id"');
    expect(r.body.length).toBeLessThan(300);
    expect(auditCount(bank)).toBe(before);
  });
});

describe('timeouts and Node’s own refusals, on a real socket', () => {
  let close: () => Promise<void>;
  let port: number;
  beforeAll(async () => {
    const made = await injectNodes(undefined, { requestTimeoutMs: 600, idleTimeoutMs: 400 });
    close = made.close;
    const platform = made.nodes.find((n) => n.role === 'platform')!.app;
    await platform.listen({ port: 0, host: '127.0.0.1' });
    port = (platform.server.address() as AddressInfo).port;
  }, 60_000);
  afterAll(async () => close?.());

  /** Write `text` on a fresh connection; the whole answer once the node closes it, and how long that took. */
  const raw = (text: string) =>
    new Promise<{ answer: string; ms: number }>((resolve, reject) => {
      const t0 = performance.now();
      const s = connect(port, '127.0.0.1', () => s.write(text));
      let answer = '';
      s.on('data', (d) => (answer += d.toString('latin1')));
      s.on('close', () => resolve({ answer, ms: Math.round(performance.now() - t0) }));
      s.on('error', reject);
      setTimeout(() => s.destroy(), 10_000);
    });
  const json = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { code: string };

  it('a request whose body never arrives whole is answered 408 SRV_TIMEOUT within the request timeout', async () => {
    const r = await raw(`POST /v1/admin/datasets HTTP/1.1\r\nHost: x\r\nX-Admin-Token: ${INJECT_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":`);
    console.log(`limits: slow body answered in ${r.ms} ms (request timeout 600 ms): ${r.answer.split('\r\n')[0]}`);
    expect(r.answer.startsWith('HTTP/1.1 408')).toBe(true);
    expect(json(r.answer).code).toBe('SRV_TIMEOUT');
    expect(r.ms).toBeLessThan(5000);
  });

  it('headers over Node’s limit: 431 SRV_HEADERS_TOO_LARGE; a path parameter over the router’s: coded', async () => {
    const r = await raw(`GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(r.answer.startsWith('HTTP/1.1 431')).toBe(true);
    expect(json(r.answer).code).toBe('SRV_HEADERS_TOO_LARGE');
    const long = await fetch(`http://127.0.0.1:${port}/v1/admin/jobs/${'j'.repeat(200)}`, { headers: { 'x-admin-token': INJECT_TOKEN } });
    expect(long.status).toBe(400);
    expect(((await long.json()) as { code: string }).code).toBe('SRV_BAD_REQUEST');
  });

  it('a connection idle after its answer is closed after the idle timeout', async () => {
    const r = await raw('GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n');
    const closedAfter = r.ms;
    expect(r.answer.startsWith('HTTP/1.1 200')).toBe(true);
    expect(closedAfter).toBeGreaterThanOrEqual(300);
    console.log(`limits: idle keep-alive connection closed after ${Math.round(closedAfter)} ms (idle timeout 400 ms)`);
    expect(closedAfter).toBeLessThan(5000);
  });
});
