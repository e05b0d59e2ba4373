/**
 * The regulator's console: `indomain console regulator --records DIR [--records DIR…] --keys FILE
 * [--port 7700] [--host 127.0.0.1]`, a process of the regulator's own, on the regulator's machine.
 *
 * A record set is a directory of node records as a regulator receives them (a lab output, a nodes
 * directory, or one node's data directory). The keys file is the regulator's own pinned list of the
 * nodes' Ed25519 public keys (the peers.json format: `{ nodes: [{ name, publicKey }] }`), obtained
 * independently of the records. Verifying a set copies each node's database (a consistent SQLite
 * backup) and identity file into a fresh staging directory and writes the regulator's keys beside
 * them as its only peers.json, then runs server/audit-verify.ts on that copy: a peers.json or key
 * found beside the records is never read, and a node missing from the keys file is a finding.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import Fastify, { type FastifyInstance } from 'fastify';
import { IndomainError } from '../engine/errors.ts';
import { loadChains, verifyAudit, type VerifyResult } from './audit-verify.ts';
import type { AuditRecord } from './audit.ts';
import { ConsoleSessions } from './plugins/console-auth.ts';
import { consolePlugin } from './plugins/console.ts';
import { codedErrors, frameworkError, schemaError } from './plugins/errors.ts';
import { regulatorPlugin } from './plugins/regulator.ts';

export interface RegulatorOptions {
  /** Record sets the regulator was given (directories). */
  readonly records: readonly string[];
  /** The regulator's own pinned keys file. */
  readonly keys: string;
  /** The console's sign-in token (default: a fresh random one, printed at start); at least 16 characters, as a node's admin token. */
  readonly token?: string;
  readonly logger?: boolean;
  /** TEST ONLY (tests/attacks/regulator-token.test.ts; never from the command line): take a token of any length (the old handling). */
  readonly unsafe?: { readonly shortToken?: boolean };
}

/** The regulator's pinned keys: node name → base64 Ed25519 public key. */
export function readKeys(file: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new IndomainError('CLI_BAD_ARGS', 'the keys file is not readable JSON', { file: basename(file) });
  }
  const nodes = (parsed as { nodes?: unknown }).nodes;
  if (!Array.isArray(nodes)) throw new IndomainError('CLI_BAD_ARGS', 'the keys file needs { nodes: [{ name, publicKey }] }', { file: basename(file), field: 'nodes' });
  const out = new Map<string, string>();
  nodes.forEach((n: { name?: unknown; publicKey?: unknown }, i) => {
    if (typeof n.name !== 'string' || typeof n.publicKey !== 'string' || Buffer.from(n.publicKey, 'base64').length !== 32) {
      throw new IndomainError('CLI_BAD_ARGS', `node ${i} needs a name and a 32-byte base64 publicKey`, { file: basename(file), field: 'nodes' });
    }
    out.set(n.name, n.publicKey);
  });
  return out;
}

/** Node data directories (node.db beside identity.json) in a record set: the directory, its children, or those of its nodes/ child. */
export function nodeDirs(set: string): string[] {
  const root = resolve(set);
  const isNode = (d: string) => existsSync(join(d, 'node.db')) && existsSync(join(d, 'identity.json'));
  if (isNode(root)) return [root];
  const out: string[] = [];
  for (const base of [root, join(root, 'nodes')]) {
    if (!existsSync(base)) continue;
    for (const e of readdirSync(base, { withFileTypes: true })) if (e.isDirectory() && isNode(join(base, e.name))) out.push(join(base, e.name));
  }
  return out;
}

export interface StagedSet {
  readonly dir: string;
  /** Nodes found in the records that the keys file does not name. */
  readonly unpinned: string[];
}

/** Copy a record set's databases and identities into a fresh directory, with the regulator's keys as its only peers.json. */
export async function stageRecords(set: string, keys: ReadonlyMap<string, string>, into: string): Promise<StagedSet> {
  const dir = mkdtempSync(join(into, 'set-'));
  const unpinned: string[] = [];
  for (const src of nodeDirs(set)) {
    const identity = JSON.parse(readFileSync(join(src, 'identity.json'), 'utf8')) as { name: string };
    const dest = join(dir, identity.name.replace(/[^A-Za-z0-9._-]/g, '_'));
    mkdirSync(dest);
    // Only the node's name is taken from its identity file: the key written beside the copy is the
    // regulator's (or none that verifies, for a node the keys file does not name).
    writeFileSync(join(dest, 'identity.json'), JSON.stringify({ name: identity.name, publicKey: keys.get(identity.name) ?? Buffer.alloc(32).toString('base64') }));
    const db = new Database(join(src, 'node.db'), { readonly: true, fileMustExist: true });
    try {
      await db.backup(join(dest, 'node.db'));
    } finally {
      db.close();
    }
    if (!keys.has(identity.name)) unpinned.push(identity.name);
  }
  writeFileSync(join(dir, 'peers.json'), JSON.stringify({ nodes: [...keys].map(([name, publicKey]) => ({ name, publicKey })) }));
  return { dir, unpinned };
}

export interface RegulatorReport extends VerifyResult {
  readonly set: string;
  readonly verifiedAt: number;
  /** Each finding's record as it is in the copy verified (body cut at 4 000 characters). */
  readonly records: (AuditRecord | null)[];
  /** Per job: enterprises the platform fed into PSI, and whether every one had a valid authorisation then. */
  readonly coverage: { job: string; bank: string; used: number; excluded: Record<string, number>; allAuthorised: boolean }[];
}

/** Verify one record set under the regulator's keys. */
export async function verifySet(set: string, keysFile: string, work: string): Promise<RegulatorReport> {
  const keys = readKeys(keysFile);
  const staged = await stageRecords(set, keys, work);
  try {
    // The keys file itself as verify's pinned keys too (not only as the staged peers.json).
    const r = verifyAudit([staged.dir], { keys: new Map([...keys].map(([name, key]) => [name, new Uint8Array(Buffer.from(key, 'base64'))])) });
    for (const name of staged.unpinned) r.findings.unshift({ node: name, seq: 0, kind: 'key', problem: "the regulator's keys file does not name this node: its records cannot be checked against a pinned key" });
    const chains = new Map(loadChains([staged.dir]).map((c) => [c.name, c]));
    const records = r.findings.map((f) => {
      const rec = chains.get(f.node)?.records[f.seq - 1];
      return rec ? { ...rec, body: rec.body.length > 4000 ? `${rec.body.slice(0, 4000)}…` : rec.body } : null;
    });
    const coverage = r.psi.map((p) => ({ ...p, allAuthorised: !r.findings.some((f) => f.kind === 'psi-input' && f.problem.includes(`job ${p.job} `)) }));
    return { ...r, ok: r.findings.length === 0, set, verifiedAt: Date.now(), records, coverage };
  } finally {
    rmSync(staged.dir, { recursive: true, force: true });
  }
}

/** The regulator's console app (not started): the console files, sign-in, and the verification routes. */
export async function buildRegulatorApp(o: RegulatorOptions): Promise<{ app: FastifyInstance; token: string }> {
  const token = o.token ?? randomBytes(24).toString('hex');
  // The sign-in route is public and not rate-limited: a short token would be guessed over HTTP.
  if (token.length < 16 && !o.unsafe?.shortToken) throw new IndomainError('CLI_BAD_ARGS', 'the console token needs at least 16 characters (INDOMAIN_CONSOLE_TOKEN)');
  readKeys(o.keys); // refused now, not at the first verification
  const app = Fastify({ logger: o.logger ?? false, schemaErrorFormatter: schemaError, frameworkErrors: frameworkError, ajv: { customOptions: { coerceTypes: false, removeAdditional: false } } } as Record<string, unknown>) as unknown as FastifyInstance;
  codedErrors(app, 1024 * 1024);
  const sessions = new ConsoleSessions('regulator');
  const work = mkdtempSync(join(tmpdir(), 'indomain-regulator-'));
  app.addHook('onClose', async () => rmSync(work, { recursive: true, force: true }));
  await app.register(consolePlugin, { name: 'regulator', role: 'regulator', adminToken: token, sessions });
  await app.register(regulatorPlugin, { records: o.records.map((r) => resolve(r)), keys: resolve(o.keys), token, sessions, verify: (set: string) => verifySet(set, o.keys, work) });
  return { app, token };
}

/** `indomain console regulator --records DIR… --keys FILE [--port 7700] [--host 127.0.0.1]`; the sign-in token from INDOMAIN_CONSOLE_TOKEN or fresh. */
export async function serveRegulator(argv: string[], log: (line: string) => void): Promise<FastifyInstance> {
  const { values } = parseArgs({ args: argv, options: { records: { type: 'string', multiple: true }, keys: { type: 'string' }, port: { type: 'string', default: '7700' }, host: { type: 'string', default: '127.0.0.1' } }, strict: true });
  if (!values.records?.length || !values.keys) throw new IndomainError('CLI_BAD_ARGS', 'usage: indomain console regulator --records DIR [--records DIR…] --keys FILE [--port 7700]');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new IndomainError('CLI_BAD_ARGS', '--port must be a port number');
  const { app, token } = await buildRegulatorApp({ records: values.records, keys: values.keys, ...(process.env.INDOMAIN_CONSOLE_TOKEN ? { token: process.env.INDOMAIN_CONSOLE_TOKEN } : {}) });
  const address = await app.listen({ port, host: values.host! });
  log(`regulator console: ${address}/console/ (sign-in token ${process.env.INDOMAIN_CONSOLE_TOKEN ? 'from INDOMAIN_CONSOLE_TOKEN' : token}); records: ${values.records.join(', ')}; keys: ${values.keys}`);
  return app;
}
