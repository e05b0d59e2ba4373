/**
 * A coordinator, a platform and a bank built in this process by `createNode` and never listening:
 * routes are tested with `app.inject()` (no socket, no port). Their identities are pinned in one
 * peers file, so a test can sign requests as any of them; peers' URLs point at a closed port.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createNode, type NodeOptions } from '../../server/main.ts';
import type { Identity } from '../../server/signing.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import type { NodeRole, PeersFile } from '../../server/transport/peer.ts';
import { tempDir } from './tmp.ts';

export const INJECT_TOKEN = 'inject-admin-token-'.padEnd(40, '0');

export interface InjectNode {
  readonly name: string;
  readonly role: NodeRole;
  readonly app: FastifyInstance;
  close: () => Promise<void>;
}

export const NODES: readonly { name: string; role: NodeRole }[] = [
  { name: 'coordinator', role: 'coordinator' },
  { name: 'platform', role: 'platform' },
  { name: 'bank-1', role: 'bank' },
];

/** `unsafe`: TEST ONLY switches passed to every node (tests/attacks); `limits`: every node's limits. */
export async function injectNodes(unsafe?: NodeOptions['unsafe'], limits?: NodeOptions['limits']): Promise<{ nodes: InjectNode[]; identities: Map<string, Identity>; close: () => Promise<void> }> {
  const dir = tempDir('indomain-inject-');
  const peers: PeersFile = { nodes: [] };
  const identities = new Map<string, Identity>();
  for (const n of NODES) {
    const s = new NodeStore(join(dir, n.name));
    const id = s.identity(n.name);
    identities.set(n.name, id);
    // Port 9 (discard): nothing listens there, so nothing a test triggers reaches another node.
    peers.nodes.push({ name: n.name, role: n.role, url: 'http://127.0.0.1:9', publicKey: Buffer.from(id.publicKey).toString('base64') });
    s.close();
  }
  writeFileSync(join(dir, 'peers.json'), JSON.stringify(peers));
  const nodes: InjectNode[] = [];
  for (const n of NODES) {
    const made = await createNode({ role: n.role, name: n.name, data: join(dir, n.name), peers: join(dir, 'peers.json'), adminToken: INJECT_TOKEN, dataRoot: tempDir('indomain-inject-root-'), psiWorkers: 1, ...(unsafe ? { unsafe } : {}), ...(limits ? { limits } : {}) });
    await made.app.ready();
    nodes.push({ name: n.name, role: n.role, app: made.app, close: made.close });
  }
  return { nodes, identities, close: async () => void (await Promise.all(nodes.map((n) => n.close()))) };
}
