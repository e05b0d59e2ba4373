/**
 * The three nodes of a job (coordinator, platform, bank) in this test process, built by
 * `createNode` and listening on 127.0.0.1 at ports the operating system has free: the same node
 * code as a process, with the test-only `unsafe` switches a process cannot be given.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNode, type NodeOptions } from '../../server/main.ts';
import type { JobView } from '../../server/cluster.ts';
import { usccFromNumber } from '../../server/lab/generate.ts';
import type { NodeRole, PeersFile } from '../../server/transport/peer.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import { tempDir } from './tmp.ts';
import { freePorts } from './ports.ts';

export const TOKEN = 'test-admin-token-'.padEnd(40, '0');

export interface TestNode {
  readonly name: string;
  readonly role: NodeRole;
  readonly url: string;
  readonly dir: string;
  close: () => Promise<void>;
}

export class TestNodes {
  readonly nodes: TestNode[] = [];
  readonly dataRoot = tempDir('indomain-nodes-root-');

  private constructor(readonly dir: string) {}

  /** coordinator, platform (auto-approving) and bank-a, each on a port the operating system has free. */
  static async start(unsafe?: NodeOptions['unsafe']): Promise<TestNodes> {
    const t = new TestNodes(tempDir('indomain-nodes-'));
    const ports = await freePorts(3);
    const names: { name: string; role: NodeRole }[] = [
      { name: 'coordinator', role: 'coordinator' },
      { name: 'platform', role: 'platform' },
      { name: 'bank-a', role: 'bank' },
    ];
    const peers: PeersFile = { nodes: [] };
    names.forEach((n, i) => {
      const s = new NodeStore(join(t.dir, n.name));
      peers.nodes.push({ name: n.name, role: n.role, url: `http://127.0.0.1:${ports[i]}`, publicKey: Buffer.from(s.identity(n.name).publicKey).toString('base64') });
      s.close();
    });
    writeFileSync(join(t.dir, 'peers.json'), JSON.stringify(peers));
    for (const [i, n] of names.entries()) {
      const made = await createNode({
        role: n.role,
        name: n.name,
        data: join(t.dir, n.name),
        peers: join(t.dir, 'peers.json'),
        adminToken: TOKEN,
        dataRoot: t.dataRoot,
        psiWorkers: 1,
        autoApprove: n.role === 'platform',
        ...(unsafe ? { unsafe } : {}),
      });
      await made.app.listen({ port: ports[i]!, host: '127.0.0.1' });
      t.nodes.push({ name: n.name, role: n.role, url: `http://127.0.0.1:${ports[i]}`, dir: join(t.dir, n.name), close: made.close });
    }
    return t;
  }

  node(name: string): TestNode {
    return this.nodes.find((n) => n.name === name)!;
  }

  async admin<T = Record<string, unknown>>(name: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const r = await fetch(this.node(name).url + path, {
      method,
      headers: { 'x-admin-token': TOKEN, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const j = (await r.json()) as T;
    if (!r.ok) throw Object.assign(new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`), { body: j });
    return j;
  }

  /** Poll the coordinator until the job ends (completed, failed or cancelled). */
  async settle(id: string, timeoutMs = 240_000): Promise<JobView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const j = await this.admin<JobView>('coordinator', 'GET', `/v1/admin/jobs/${id}`);
      if (['completed', 'failed', 'cancelled'].includes(j.status)) return j;
      if (Date.now() > deadline) throw new Error(`${id} did not finish (stage ${j.stage})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async close(): Promise<void> {
    for (const n of this.nodes) await n.close();
  }

  /**
   * The FATE breast data under the data root with USCC ids, registered on the bank (labels) and
   * the platform, and every platform enterprise authorised for bank-a's modelling.
   */
  async breast(bankFile = 'breast-guest.csv', hostFile = 'breast-host.csv'): Promise<{ guest: string; host: string }> {
    const fate = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
    const map = (src: string, dest: string) => {
      const [head, ...lines] = readFileSync(fate(src), 'utf8').trimEnd().split('\n');
      writeFileSync(join(this.dataRoot, dest), [head, ...lines.map((l) => usccFromNumber(Number(l.slice(0, l.indexOf(',')))) + l.slice(l.indexOf(',')))].join('\n') + '\n');
      return lines.map((l) => usccFromNumber(Number(l.slice(0, l.indexOf(',')))));
    };
    map('breast_hetero_guest.csv', bankFile);
    const ids = map('breast_hetero_host.csv', hostFile);
    writeFileSync(join(this.dataRoot, 'auth.csv'), ['uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref', ...ids.map((id, i) => `${id},bank-a,modelling,2024-01-01,2030-12-31,,T-${i}`)].join('\n') + '\n');
    await this.admin('bank-a', 'POST', '/v1/admin/datasets', { name: 'loans', path: bankFile, idColumn: 'id', labelColumn: 'y', uscc: true });
    await this.admin('platform', 'POST', '/v1/admin/datasets', { name: 'credit', path: hostFile, idColumn: 'id', uscc: true });
    await this.admin('platform', 'POST', '/v1/admin/authorisations/import', { path: 'auth.csv' });
    return { guest: join(this.dataRoot, bankFile), host: join(this.dataRoot, hostFile) };
  }
}


