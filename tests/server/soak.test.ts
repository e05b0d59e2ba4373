/**
 * Soak and fault test (issue 15), loopback only: 10,000 online scoring requests to the bank node
 * (`POST /v1/score`), with the platform SIGKILLed and restarted after 3,000 answers and the bank
 * after 6,500. Afterwards the regulator anchors the heads and `verify --keys --anchor` finds
 * nothing unexplained, and every request is accounted for: answered 200, or refused with a code
 * that the bank recorded (a `delivery-failed` record of the exchange that named the enterprise).
 * A request whose connection the bank's death cut is sent again once the bank is back (a client's
 * retry: scoring changes nothing); a client refused with SRV_PEER_UNREACHABLE backs off (50 ms,
 * doubling to 1 s while refusals go on), as a front end would.
 */
import { Agent, request } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { onlineLab } from '../../benchmarks/online.ts';
import { anchorHeads } from '../../server/audit-anchor.ts';
import { readAnchor, readKeys } from '../../server/audit-chains.ts';
import { formatVerify, verifyAudit } from '../../server/audit-verify.ts';
import type { Cluster } from '../../server/cluster.ts';
import { tempDir } from '../helpers/tmp.ts';

const REQUESTS = 10_000;
const CONCURRENCY = 16;

interface Outcome {
  id: string;
  status: number;
  code: string;
}

/** One POST on a keep-alive agent: the status and the code of a refusal; a cut connection throws. */
function post(agent: Agent, url: URL, token: string, body: string): Promise<{ status: number; code: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: '/v1/score', method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-admin-token': token, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let code = '';
        if (res.statusCode !== 200) {
          try {
            code = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: unknown }).code ?? '');
          } catch {
            code = '(not JSON)';
          }
        }
        resolve({ status: res.statusCode ?? 0, code });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('soak: 10,000 online requests with a platform kill and a bank kill', () => {
  let c: Cluster | undefined;
  afterAll(async () => {
    await c?.stop();
  });

  it('every request answered or refused with a recorded code; anchored verify finds nothing unexplained', async () => {
    const dir = tempDir('indomain-soak-');
    const t0 = Date.now();
    const lab = await onlineLab(dir, 0, () => {});
    c = lab.cluster;
    const cluster = c;
    // The regulator's keys, as it recorded them when the nodes were admitted.
    const regulator = tempDir('indomain-soak-regulator-');
    writeFileSync(join(regulator, 'keys.json'), readFileSync(cluster.peersFile));
    const setup = (Date.now() - t0) / 1000;

    const url = new URL(cluster.url('bank-1'));
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const bodies = lab.requests.map((r) => JSON.stringify(r));
    const outcomes: Outcome[] = [];
    let next = 0;
    let retried = 0;
    const kills: Promise<void>[] = [];
    const killed = { platform: false, bank: false };
    const t1 = Date.now();
    const worker = async () => {
      let backoff = 50;
      for (;;) {
        const i = next++;
        if (i >= REQUESTS) return;
        const k = i % bodies.length;
        for (;;) {
          try {
            const r = await post(agent, url, cluster.token, bodies[k]!);
            outcomes.push({ id: lab.requests[k]!.id, ...r });
            if (r.code === 'SRV_PEER_UNREACHABLE') {
              await new Promise((res) => setTimeout(res, backoff));
              backoff = Math.min(1000, backoff * 2);
            } else backoff = 50;
            break;
          } catch {
            // The bank's process is gone (killed, not yet back): send the same request again.
            retried++;
            await new Promise((res) => setTimeout(res, 100));
          }
        }
        if (!killed.platform && outcomes.length >= 3000) {
          killed.platform = true;
          kills.push(cluster.kill('platform', 'SIGKILL').then(() => cluster.start('platform')));
        }
        if (!killed.bank && outcomes.length >= 6500) {
          killed.bank = true;
          kills.push(cluster.kill('bank-1', 'SIGKILL').then(() => cluster.start('bank-1')));
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await Promise.all(kills);
    agent.destroy();
    const soak = (Date.now() - t1) / 1000;

    // The regulator pulls the heads from the running nodes, then they stop.
    await anchorHeads({ keys: readKeys(join(regulator, 'keys.json')), out: join(regulator, 'anchor.json'), urls: cluster.nodes.map((n) => cluster.url(n.name)) });
    await cluster.stop();
    const t2 = Date.now();
    const v = verifyAudit([cluster.dir], { keys: readKeys(join(regulator, 'keys.json')), anchor: readAnchor(join(regulator, 'anchor.json')) });
    const verifySeconds = (Date.now() - t2) / 1000;

    // Every request accounted for.
    const answered = outcomes.filter((o) => o.status === 200).length;
    const refused = outcomes.filter((o) => o.status !== 200);
    const codes: Record<string, number> = {};
    for (const o of refused) codes[o.code] = (codes[o.code] ?? 0) + 1;
    // Each refusal is on the bank's record: a failed exchange that named that enterprise.
    const db = new Database(join(cluster.dataDir('bank-1'), 'node.db'), { readonly: true });
    const failedKeys = new Map<string, string>();
    let interrupted = 0;
    for (const r of db.prepare("SELECT body FROM audit WHERE kind = 'delivery-failed'").all() as { body: string }[]) {
      const b = JSON.parse(r.body) as { key: string; code: string; reason: string };
      failedKeys.set(b.key, b.code);
      if (/this node stopped/.test(b.reason)) interrupted++;
    }
    const failedIds = new Map<string, Set<string>>();
    for (const r of db.prepare("SELECT body FROM audit WHERE kind = 'message-sent' AND body LIKE '%\"type\":\"PartialScoreRequest\"%'").all() as { body: string }[]) {
      const b = JSON.parse(r.body) as { key: string; enterprises: string[] };
      const code = failedKeys.get(b.key);
      if (code) for (const id of b.enterprises) (failedIds.get(code) ?? failedIds.set(code, new Set()).get(code)!).add(id);
    }
    db.close();
    const unrecorded = refused.filter((o) => !failedIds.get(o.code)?.has(o.id));
    console.log(
      [
        '',
        `soak: ${REQUESTS} requests at concurrency ${CONCURRENCY} in ${soak.toFixed(1)} s (set-up ${setup.toFixed(1)} s; platform SIGKILLed after 3000 answers, bank-1 after 6500, each restarted)`,
        `  answered 200: ${answered}; refused: ${refused.length} ${JSON.stringify(codes)}; attempts that found the bank dead, sent again: ${retried}`,
        `  bank-1 recorded ${failedKeys.size} failed exchanges (${interrupted} closed when it restarted); verify --keys --anchor in ${verifySeconds.toFixed(1)} s: ${v.findings.length} findings, ${v.explained.failedDeliveries} failed deliveries explained, ${v.messages} messages matched, ${v.heads} heads checked`,
      ].join('\n'),
    );
    expect(outcomes.length).toBe(REQUESTS);
    expect(answered + refused.length).toBe(REQUESTS);
    expect(answered).toBeGreaterThan(REQUESTS / 2);
    for (const o of refused) expect(o.code).toMatch(/^[A-Z]+_[A-Z_]+$/);
    expect(unrecorded).toEqual([]);
    expect(v.findings).toEqual([]);
    expect(v.ok).toBe(true);
    expect(formatVerify(v)).toMatch(/^keys: the regulator's keys file/);
  }, 600_000);
});
