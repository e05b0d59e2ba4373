/**
 * Attack: a pinned bank squats a job id and injects messages into the job (issue 15, items 1-2).
 *
 * bank-2 sends the platform a signed JobStart for "loan-model" naming itself coordinator and guest.
 * Later the real coordinator starts "loan-model" with bank-1 as guest. If the refused JobStart had
 * left a job row (INSERT OR IGNORE keeps the first spec), an approval and a job-approved record,
 * bank-2's PsiRequest for that id would be taken as the guest's and bank-1's refused.
 *
 * Defence: every node checks a JobStart's roles against the pinned peers and that its signer is the
 * coordinator the spec names before anything is stored; a refused message is audited
 * (`ingress-refused`) and stores nothing; a message from a node that is not that role in that job
 * is refused. Off: the test-only legacy gate (no JobStart role check). Each node is built by
 * createNode with delivery stopped; `runtime.accept(sender, bytes)` is what `/v1/messages` does
 * after the signature check.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeMessage } from '../../protocols/codec.ts';
import type { Envelope } from '../../protocols/message.ts';
import { parseJobSpec, type JobSpec } from '../../server/jobs/spec.ts';
import { createNode } from '../../server/main.ts';
import type { NodeRuntime } from '../../server/runtime.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import type { NodeRole, PeersFile } from '../../server/transport/peer.ts';
import { tempDir } from '../helpers/tmp.ts';

const NODES: { name: string; role: NodeRole }[] = [
  { name: 'coordinator', role: 'coordinator' },
  { name: 'platform', role: 'platform' },
  { name: 'bank-1', role: 'bank' },
  { name: 'bank-2', role: 'bank' },
];
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

async function platformNode(legacy: boolean): Promise<NodeRuntime> {
  const dir = tempDir(`indomain-squat-${legacy ? 'off' : 'on'}-`);
  const peers: PeersFile = { nodes: [] };
  for (const n of NODES) {
    const s = new NodeStore(join(dir, n.name));
    peers.nodes.push({ name: n.name, role: n.role, url: 'http://127.0.0.1:9', publicKey: Buffer.from(s.identity(n.name).publicKey).toString('base64') });
    s.close();
  }
  writeFileSync(join(dir, 'peers.json'), JSON.stringify(peers));
  const made = await createNode({ role: 'platform', name: 'platform', data: join(dir, 'platform'), peers: join(dir, 'peers.json'), adminToken: 'a'.repeat(32), psiWorkers: 1, autoApprove: true, ...(legacy ? { unsafe: { gate: 'legacy' as const } } : {}) });
  made.runtime.stop();
  closers.push(made.close);
  return made.runtime;
}

const msg = (job: string, type: string, protocol: string, from: string, to: string, body: Record<string, unknown>): Uint8Array => encodeMessage({ job, protocol, type, round: 0, from, to, body } satisfies Envelope);
const jobStart = (spec: JobSpec) => msg(spec.id, 'JobStart', 'job', 'coordinator', 'host', { spec: JSON.stringify(spec) });
const psiRequest = (job: string) => msg(job, 'PsiRequest', 'psi', 'guest', 'host', { blinded: new Uint8Array(64) });

function tryAccept(rt: NodeRuntime, sender: string, bytes: Uint8Array): string {
  try {
    rt.accept(sender, bytes);
    return 'accepted';
  } catch (e) {
    return (e as { code?: string }).code ?? 'error';
  }
}

async function attack(legacy: boolean) {
  const platform = await platformNode(legacy);
  const store = platform.store;
  const id = 'loan-model';
  // 1. bank-2 squats the id: coordinator and guest itself.
  const squat = parseJobSpec({ id, pipeline: 'scorecard', coordinator: 'bank-2', guest: { node: 'bank-2', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' } });
  const squatAnswer = tryAccept(platform, 'bank-2', jobStart(squat));
  const afterSquat = {
    row: store.job(id) !== undefined,
    approval: store.decision(id) !== undefined,
    approvedRecords: store.audit.records('admin').filter((r) => r.job === id && r.body.includes('job-approved')).length,
  };
  // 2. The real coordinator starts the same id for bank-1.
  const legit = parseJobSpec({ id, pipeline: 'scorecard', coordinator: 'coordinator', guest: { node: 'bank-1', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' } });
  const legitAnswer = tryAccept(platform, 'coordinator', jobStart(legit));
  const storedGuest = (JSON.parse(store.job(id)?.spec ?? '{}') as { guest?: { node: string } }).guest?.node;
  // 3. bank-2 injects the guest's PsiRequest; 4. bank-1 sends its own.
  const injected = tryAccept(platform, 'bank-2', psiRequest(id));
  const honest = tryAccept(platform, 'bank-1', psiRequest(id));
  const inboxFrom = (node: string) => store.inbox(id).filter((r) => r.sender === node && r.key.includes('|psi|')).length;
  const refusals = store.audit.records('ingress-refused' as never).map((r) => JSON.parse(r.body) as { peer: string; type: string; code: string });
  return { squatAnswer, afterSquat, legitAnswer, storedGuest, injected, honest, bank2Psi: inboxFrom('bank-2'), bank1Psi: inboxFrom('bank-1'), refusals };
}

describe('attack: a pinned bank squats a job id and injects messages', () => {
  it('a refused JobStart stores nothing, the real job runs for bank-1, bank-2 is refused and audited; with the legacy gate bank-2 takes the job', async () => {
    const on = await attack(false);
    const off = await attack(true);
    console.log(
      `job squatting: defence on: squat ${on.squatAnswer}, stored after it ${JSON.stringify(on.afterSquat)}, real JobStart ${on.legitAnswer} (guest ${on.storedGuest}), bank-2's PsiRequest ${on.injected}, bank-1's ${on.honest}, refusals audited ${on.refusals.length}; ` +
        `off: squat ${off.squatAnswer}, stored ${JSON.stringify(off.afterSquat)}, guest ${off.storedGuest}, bank-2's PsiRequest ${off.injected} (${off.bank2Psi} in the inbox), bank-1's ${off.honest}`,
    );
    expect(on.squatAnswer).toBe('SRV_UNKNOWN_PARTY');
    expect(on.afterSquat).toEqual({ row: false, approval: false, approvedRecords: 0 });
    expect(on.legitAnswer).toBe('accepted');
    expect(on.storedGuest).toBe('bank-1');
    expect(on.injected).toBe('SRV_UNKNOWN_PARTY');
    expect(on.honest).toBe('accepted');
    expect([on.bank2Psi, on.bank1Psi]).toEqual([0, 1]);
    expect(on.refusals.map((r) => [r.peer, r.type, r.code])).toEqual([
      ['bank-2', 'JobStart', 'SRV_UNKNOWN_PARTY'],
      ['bank-2', 'PsiRequest', 'SRV_UNKNOWN_PARTY'],
    ]);
    // Without the defence the squat holds: bank-2's spec, approved, and its messages taken as the guest's.
    expect(off.squatAnswer).toBe('accepted');
    expect(off.afterSquat).toEqual({ row: true, approval: true, approvedRecords: 1 });
    expect(off.storedGuest).toBe('bank-2');
    expect(off.injected).toBe('accepted');
    expect(off.bank2Psi).toBe(1);
    expect(off.honest).not.toBe('accepted');
  });

  it('a JobStart signed by a pinned bank in the coordinator role name is refused and leaves nothing', async () => {
    const platform = await platformNode(false);
    const spec = parseJobSpec({ id: 'forged-from', pipeline: 'lr', coordinator: 'coordinator', guest: { node: 'bank-2', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' } });
    expect(tryAccept(platform, 'bank-2', jobStart(spec))).toBe('SRV_UNKNOWN_PARTY');
    expect(platform.store.job('forged-from')).toBeUndefined();
    expect(platform.store.decision('forged-from')).toBeUndefined();
    expect(platform.store.inbox('forged-from')).toEqual([]);
  });
});
