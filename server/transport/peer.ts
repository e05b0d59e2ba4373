/** A node's pinned peers: each node's name, role, URL and Ed25519 public key (the peers file). */
import { readFileSync } from 'node:fs';
import { IndomainError } from '../../engine/errors.ts';

export type NodeRole = 'platform' | 'bank' | 'coordinator';

export interface Peer {
  readonly name: string;
  readonly role: NodeRole;
  readonly url: string;
  readonly publicKey: Uint8Array;
}

export interface PeersFile {
  nodes: { name: string; role: NodeRole; url: string; publicKey: string }[];
}

export function readPeers(path: string): Map<string, Peer> {
  let raw: PeersFile;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as PeersFile;
  } catch (e) {
    throw new IndomainError('SRV_BAD_REQUEST', `cannot read peers file ${path}: ${(e as Error).message}`, { file: path });
  }
  if (!raw || !Array.isArray(raw.nodes)) throw new IndomainError('SRV_BAD_REQUEST', 'peers file needs { nodes: [...] }', { file: path });
  const out = new Map<string, Peer>();
  raw.nodes.forEach((n, i) => {
    const key = typeof n.publicKey === 'string' ? Buffer.from(n.publicKey, 'base64') : undefined;
    if (typeof n.name !== 'string' || typeof n.url !== 'string' || !key || key.length !== 32 || !['platform', 'bank', 'coordinator'].includes(n.role)) {
      throw new IndomainError('SRV_BAD_REQUEST', `node ${i} needs name, role (platform|bank|coordinator), url and a 32-byte base64 publicKey`, { file: path });
    }
    out.set(n.name, { name: n.name, role: n.role, url: n.url.replace(/\/$/, ''), publicKey: new Uint8Array(key) });
  });
  return out;
}
