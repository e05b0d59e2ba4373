/**
 * Attack: a pinned peer takes over a job (found by the access-control review).
 *
 * 1. A bank names itself coordinator of a job on the platform (or on another bank) and starts it:
 *    it would then receive the stage reports, play the arbiter and steer the job.
 * 2. The coordinator (or whoever started the job) sends a second JobStart for the same id with
 *    another spec (round 1, so it is not a duplicate): the node stored and the analyst approved the
 *    first spec, but the job ran the second, e.g. with another bank as guest, so the platform fed
 *    that bank's authorised enterprises into a PSI answered to the attacker.
 * Defence: a JobStart is round 0; every node of its spec plays its role in the pinned peers
 * (coordinator, bank, platform); a job's spec is fixed by its first JobStart; the job runs the
 * stored spec. Off: the test-only legacy gate. Each node is built by createNode with delivery
 * stopped, and `runtime.accept(sender, bytes)` is what `/v1/messages` does after the signature check.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeMessage } from '../../protocols/codec.ts';
import type { Envelope } from '../../protocols/message.ts';
import { parseJobSpec } from '../../server/jobs/spec.ts';
import { createNode } from '../../server/main.ts';
import type { NodeRole, PeersFile } from '../../server/transport/peer.ts';
import type { NodeRuntime } from '../../server/runtime.ts';
import { NodeStore } from '../../server/store/node-store.ts';
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

async function nodes(legacy: boolean): Promise<Map<string, NodeRuntime>> {
  const dir = tempDir(`indomain-hijack-${legacy ? 'off' : 'on'}-`);
  const peers: PeersFile = { nodes: [] };
  for (const n of NODES) {
    const s = new NodeStore(join(dir, n.name));
    peers.nodes.push({ name: n.name, role: n.role, url: 'http://127.0.0.1:7799', publicKey: Buffer.from(s.identity(n.name).publicKey).toString('base64') });
    s.close();
  }
  writeFileSync(join(dir, 'peers.json'), JSON.stringify(peers));
  const out = new Map<string, NodeRuntime>();
  for (const n of NODES) {
    const made = await createNode({ role: n.role, name: n.name, data: join(dir, n.name), peers: join(dir, 'peers.json'), adminToken: 'a'.repeat(32), psiWorkers: 1, autoApprove: true, ...(legacy ? { unsafe: { gate: 'legacy' as const } } : {}) });
    made.runtime.stop();
    out.set(n.name, made.runtime);
    closers.push(made.close);
  }
  return out;
}

const start = (spec: ReturnType<typeof parseJobSpec>, to: 'guest' | 'host', round = 0): Uint8Array =>
  encodeMessage({ job: spec.id, protocol: 'job', type: 'JobStart', round, from: 'coordinator', to, body: { spec: JSON.stringify(spec) } } satisfies Envelope);

function tryAccept(rt: NodeRuntime, sender: string, bytes: Uint8Array): boolean {
  try {
    rt.accept(sender, bytes);
    return true;
  } catch {
    return false;
  }
}

async function attack(legacy: boolean) {
  const n = await nodes(legacy);
  // 1. bank-2 as coordinator of its own job, on the platform and on bank-1.
  const self = parseJobSpec({ id: 'hijack-1', pipeline: 'scorecard', coordinator: 'bank-2', guest: { node: 'bank-2', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' } });
  const onBank1 = parseJobSpec({ id: 'hijack-2', pipeline: 'scorecard', coordinator: 'bank-2', guest: { node: 'bank-1', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' } });
  const selfCoordinated = [tryAccept(n.get('platform')!, 'bank-2', start(self, 'host')), tryAccept(n.get('bank-1')!, 'bank-2', start(onBank1, 'guest'))].filter(Boolean).length;
  // 2. The coordinator's job for bank-2, then the same id with bank-1 as guest (round 1).
  const first = parseJobSpec({ id: 'swap', pipeline: 'scorecard', coordinator: 'coordinator', guest: { node: 'bank-2', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' } });
  const second = parseJobSpec({ ...first, guest: { node: 'bank-1', dataset: 'loans' } });
  const platform = n.get('platform')!;
  const firstOk = tryAccept(platform, 'coordinator', start(first, 'host'));
  const swapOk = tryAccept(platform, 'coordinator', start(second, 'host', 1));
  const stored = JSON.parse(platform.store.job('swap')!.spec) as { guest: { node: string } };
  return { selfCoordinated, firstOk, swapOk, storedGuest: stored.guest.node };
}

describe('attack: a pinned peer takes over a job', () => {
  it('a bank cannot coordinate a job, and a job’s spec cannot be swapped; with the legacy gate, both go through', async () => {
    const on = await attack(false);
    const off = await attack(true);
    console.log(`job hijack: self-coordinated JobStarts accepted on ${on.selfCoordinated} of 2, off ${off.selfCoordinated} of 2; spec swap accepted on ${on.swapOk}, off ${off.swapOk}`);
    expect(on.selfCoordinated).toBe(0);
    expect(on.firstOk).toBe(true);
    expect(on.swapOk).toBe(false);
    expect(on.storedGuest).toBe('bank-2');
    expect(off.selfCoordinated).toBe(2);
    expect(off.swapOk).toBe(true);
  });
});
