import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IndomainError } from '../../engine/errors.ts';
import type { Envelope } from '../../protocols/message.ts';
import { parseJobSpec } from '../../server/job.ts';
import { NodeRuntime } from '../../server/runtime.ts';
import { NodeStore } from '../../server/store.ts';
import '../../server/messages.ts';
import '../../protocols/scorecard/messages.ts';
import '../../server/online.ts';
import { tempDir } from '../helpers/tmp.ts';

const spec = parseJobSpec({ id: 'j', pipeline: 'scorecard', coordinator: 'coordinator', guest: { node: 'bank-a', dataset: 'l' }, host: { node: 'platform', dataset: 'p' } });
const row = { id: '91370202MA3C7P2X4Q', si_headcount: 12, tax_paid_12m_10k: 55.2, lawsuits_defendant_2y: 1 };

function platform() {
  const store = new NodeStore(tempDir('egress-'));
  const identity = store.identity('platform');
  const runtime = new NodeRuntime({ name: 'platform', role: 'platform', store, identity, peers: new Map() });
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
    const runtime = new NodeRuntime({ name: 'platform', role: 'platform', store, identity, peers: new Map(), policy: { allowedClasses: ['ciphertext', 'metadata'] } });
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
    // encodeMessage is called in two files only, each time right after the gate passed the same envelope
    // (or, in createJob, for the coordinator's own inbox record, which leaves nothing).
    const encoders = files.filter((f) => /encodeMessage\(/.test(readFileSync(join(dir, f), 'utf8')));
    expect(encoders.sort()).toEqual(['rpc.ts', 'runtime.ts']);
    const runtime = readFileSync(join(dir, 'runtime.ts'), 'utf8');
    const enqueue = runtime.slice(runtime.indexOf('  enqueue('), runtime.indexOf('\n  }\n', runtime.indexOf('  enqueue(')));
    expect(enqueue).toMatch(/toNode: this\.gate\.check\(env\), bytes: encodeMessage\(env\)/);
    expect(runtime.match(/encodeMessage\(/g)).toHaveLength(2);
    expect(runtime).toMatch(/this\.o\.store\.receive\(spec\.id, messageKey\(env\), this\.o\.name, encodeMessage\(env\)/);
    const rpc = readFileSync(join(dir, 'rpc.ts'), 'utf8');
    expect(rpc.match(/encodeMessage\(/g)).toHaveLength(2);
    expect(rpc).toMatch(/runtime\.gate\.check\(reply, sender\);\n  const out = encodeMessage\(reply\);/);
    expect(rpc).toMatch(/runtime\.gate\.check\(env, peer\);\n  const body = encodeMessage\(env\);/);
    // The platform's replies go through answerSigned; the bank's requests through signedRequest.
    for (const f of ['online.ts', 'monitor.ts', 'grants.ts']) {
      const src = readFileSync(join(dir, f), 'utf8');
      const answer = src.slice(src.indexOf('  answer(sender'), src.indexOf('\n  }\n', src.indexOf('  answer(sender')));
      expect(answer).toMatch(/return answerSigned\(/);
      expect(src).toMatch(/signedRequest\(this\.runtime, this\.identity, request, platform\.name, PEER_(SCORE|MONITOR|GRANTS)_PATH\)/);
    }
  });
});
