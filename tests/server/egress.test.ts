import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IndomainError } from '../../engine/errors.ts';
import type { Envelope } from '../../protocols/message.ts';
import { parseJobSpec } from '../../server/jobs/spec.ts';
import { NodeRuntime } from '../../server/runtime.ts';
import { jobFactory } from '../../server/jobs/factory.ts';
import { HttpClient } from '../../server/transport/http-client.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import '../../server/messages.ts';
import '../../protocols/scorecard/messages.ts';
import '../../server/transport/exchange.ts';
import { tempDir } from '../helpers/tmp.ts';

const spec = parseJobSpec({ id: 'j', pipeline: 'scorecard', coordinator: 'coordinator', guest: { node: 'bank-a', dataset: 'l' }, host: { node: 'platform', dataset: 'p' } });
const row = { id: '91370202MA3C7P2X4Q', si_headcount: 12, tax_paid_12m_10k: 55.2, lawsuits_defendant_2y: 1 };

function platform() {
  const store = new NodeStore(tempDir('egress-'));
  const identity = store.identity('platform');
  const runtime = new NodeRuntime({ name: 'platform', role: 'platform', store, identity, jobs: jobFactory({ store }), http: new HttpClient(), peers: new Map() });
  store.putJob(spec.id, JSON.stringify(spec));
  return { store, runtime };
}

function blocked(run: () => void): string {
  try {
    run();
  } catch (e) {
    return e instanceof IndomainError ? e.code : String(e);
  }
  return 'sent';
}

describe('egress guard', () => {
  it('blocks a raw row on every sending path and audits each attempt; nothing is queued', () => {
    const { store, runtime } = platform();
    const attempts: Envelope[] = [
      // An undeclared message type carrying the row.
      { job: 'j', protocol: 'raw', type: 'Row', round: 0, from: 'host', to: 'guest', body: { row } },
      // A declared type with the row smuggled in as an extra field.
      { job: 'j', protocol: 'scorecard', type: 'HostStability', round: 0, from: 'host', to: 'guest', body: { features: ['f'], stability: Float64Array.of(0), csi: Float64Array.of(0), row } },
      // A declared type whose field holds the row instead of its declared kind.
      { job: 'j', protocol: 'scorecard', type: 'HostPoints', round: 0, from: 'host', to: 'guest', body: { table: [row] } },
      // Job control (failure and stage reports) carrying the row.
      { job: 'j', protocol: 'job', type: 'StageDone', round: 0, from: 'host', to: 'coordinator', body: { stage: 'psi', summary: JSON.stringify(row) } },
      // ... or inside a declared record, as an undeclared sub-field or a sub-field of the wrong kind.
      { job: 'j', protocol: 'job', type: 'StageDone', round: 0, from: 'host', to: 'coordinator', body: { stage: 'psi', report: { intersection: 3, row } } },
      { job: 'j', protocol: 'job', type: 'StageDone', round: 0, from: 'host', to: 'coordinator', body: { stage: 'psi', report: { intersection: row.tax_paid_12m_10k } } },
      { job: 'j', protocol: 'job', type: 'JobFailed', round: 0, from: 'host', to: 'coordinator', body: { error: `DATA_NON_NUMERIC: ${row.id}` } },
      { job: 'j', protocol: 'job', type: 'JobFailed', round: 0, from: 'host', to: 'coordinator', body: { code: row.id, stage: 'psi', at: {} } },
    ];
    for (const env of attempts) expect(blocked(() => runtime.enqueue('j', [env]))).toBe('SRV_EGRESS_BLOCKED');
    // The online scoring reply path: the same gate.
    const reply: Envelope = { job: 'j', protocol: 'score', type: 'PartialScores', round: 0, from: 'host', to: 'guest', body: { points: Float64Array.of(3), maxPoints: 9, outcomes: [''], row } };
    expect(blocked(() => runtime.gate.check(reply))).toBe('SRV_EGRESS_BLOCKED');
    expect(blocked(() => runtime.gate.check({ ...reply, type: 'RawFeatures' }))).toBe('SRV_EGRESS_BLOCKED');
    expect(store.undelivered()).toEqual([]);
    const records = store.audit.records('egress-blocked');
    expect(records.map((r) => (JSON.parse(r.body) as { type: string }).type)).toEqual(['Row', 'HostStability', 'HostPoints', 'StageDone', 'StageDone', 'StageDone', 'JobFailed', 'JobFailed', 'PartialScores', 'RawFeatures']);
    store.close();
  });

  it("blocks a declared class the node's policy does not allow", () => {
    const store = new NodeStore(tempDir('egress-'));
    const identity = store.identity('platform');
    const runtime = new NodeRuntime({ name: 'platform', role: 'platform', store, identity, jobs: jobFactory({ store }), http: new HttpClient(), peers: new Map(), policy: { allowedClasses: ['ciphertext', 'metadata'] } });
    store.putJob(spec.id, JSON.stringify(spec));
    const env: Envelope = { job: 'j', protocol: 'scorecard', type: 'HostPartialScores', round: 0, from: 'host', to: 'guest', body: { testLogit: Float64Array.of(1), testPoints: Float64Array.of(1), maxPoints: 1, minPoints: 0 } };
    expect(blocked(() => runtime.enqueue('j', [env]))).toBe('SRV_EGRESS_BLOCKED');
    expect(JSON.parse(store.audit.records('egress-blocked')[0]!.body).reason).toMatch(/privacy class "score"/);
    // The policy in force is itself in the chain.
    expect(JSON.parse(store.audit.records('policy')[0]!.body)).toEqual({ allowedClasses: ['ciphertext', 'metadata'] });
    store.close();
  });

  it('has one gate: every message a node encodes for a peer passes Gate.check first', () => {
    const dir = new URL('../../server/', import.meta.url).pathname;
    const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.ts'));
    const callers = files.filter((f) => /\.commit\(/.test(readFileSync(join(dir, f), 'utf8')));
    expect(callers).toEqual(['runtime.ts']);
    // encodeMessage is called in four files only, each time right after the gate passed the same
    // envelope (or, in createJob and the consortium deadlines, for the coordinator's own inbox
    // records, which leave nothing).
    const encoders = files.filter((f) => /encodeMessage\(/.test(readFileSync(join(dir, f), 'utf8')));
    expect(encoders.sort()).toEqual(['audit-heads.ts', 'runtime.ts', 'transport/answer.ts', 'transport/exchange.ts']);
    // The reply to a chain head (audit-heads.ts); its requests go through SignedClient.
    const heads = readFileSync(join(dir, 'audit-heads.ts'), 'utf8');
    expect(heads.match(/encodeMessage\(/g)).toHaveLength(1);
    expect(heads).toMatch(/gate\.check\(reply, sender\);\n    const out = encodeMessage\(reply\);/);
    const runtime = readFileSync(join(dir, 'runtime.ts'), 'utf8');
    const enqueue = runtime.slice(runtime.indexOf('  enqueue('), runtime.indexOf('\n  }\n', runtime.indexOf('  enqueue(')));
    expect(enqueue).toMatch(/toNode: this\.gate\.check\(env\), bytes: encodeMessage\(env\)/);
    expect(runtime.match(/encodeMessage\(/g)).toHaveLength(3);
    expect(runtime).toMatch(/store\.receive\(spec\.id, messageKey\(env\), name, encodeMessage\(env\)/);
    expect(runtime).toMatch(/type: 'StageDeadline', round, from: 'coordinator', to: 'coordinator', body: \{\} \};\n\s+if \(store\.receive\(job, messageKey\(env\), name, encodeMessage\(env\)/);
    // The platform's replies: answerSigned (transport/answer.ts); the bank's requests: SignedClient (transport/exchange.ts).
    const answer = readFileSync(join(dir, 'transport/answer.ts'), 'utf8');
    expect(answer.match(/encodeMessage\(/g)).toHaveLength(1);
    expect(answer).toMatch(/gate\.check\(reply, sender\);\n  const out = encodeMessage\(reply\);/);
    const client = readFileSync(join(dir, 'transport/exchange.ts'), 'utf8');
    expect(client.match(/encodeMessage\(/g)).toHaveLength(1);
    expect(client).toMatch(/gate\.check\(request, peer\.name\);\n    const body = encodeMessage\(request\);/);
    for (const f of ['scoring/platform-scorer.ts', 'monitoring/platform-monitor.ts', 'grants.ts']) {
      const src = readFileSync(join(dir, f), 'utf8');
      const a = src.slice(src.indexOf('  answer(sender'), src.indexOf('\n  }\n', src.indexOf('  answer(sender')));
      expect(a).toMatch(/return answerSigned\(/);
    }
    for (const f of ['monitoring/bank-monitor.ts', 'grants.ts']) {
      expect(readFileSync(join(dir, f), 'utf8')).toMatch(/this\.client\.exchange\(platform, (MONITOR|GRANTS)_EXCHANGE, request,/);
    }
    // Scoring requests, scorecard and lr: one coalescing sender (scoring/platform-parts.ts) per exchange.
    expect(readFileSync(join(dir, 'scoring/platform-parts.ts'), 'utf8')).toMatch(/this\.client\.exchange\(platform, this\.x, request,/);
    expect(readFileSync(join(dir, 'scoring/bank-scorer.ts'), 'utf8')).toMatch(/new PlatformParts\(SCORE_EXCHANGE, client,/);
    expect(readFileSync(join(dir, 'scoring/bank-lr-scorer.ts'), 'utf8')).toMatch(/new PlatformParts\(LR_SCORE_EXCHANGE, client,/);
  });
});
