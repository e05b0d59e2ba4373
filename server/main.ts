/**
 * One node process: `--role platform|bank|coordinator --name NAME --port PORT --data DIR
 * --peers PEERS.json`, admin token from INDOMAIN_ADMIN_TOKEN (or --admin-token). Listens on
 * 127.0.0.1 unless --host says otherwise; recovers unfinished jobs from its database on start.
 * TLS: --tls-key KEY.pem --tls-cert CERT.pem serve HTTPS; peers then use https:// URLs (a private
 * CA's certificate goes in NODE_EXTRA_CA_CERTS so that nodes trust each other).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { IndomainError, isIndomainError } from '../engine/errors.ts';
import { isMain } from '../engine/main.ts';
import { BlindingPool } from '../protocols/psi/pool.ts';
import { buildApp } from './app.ts';
import { readPeers } from './peers.ts';
import { NodeRuntime, type NodeRole } from './runtime.ts';
import { NodeStore } from './store.ts';
import { AuthorisationRegistry } from './authz.ts';
import { BankScorer, PlatformScorer } from './online.ts';
import { BankMonitor, PlatformMonitor } from './monitor.ts';

/**
 * V8 flags every node process runs with (the cluster passes them; `indomain node` re-executes
 * itself with them). A larger young generation: fewer scavenges under request load (online
 * scoring's tail latency); a 256 MB initial old generation: without it V8 ran a 5–10 ms
 * mark-compact every ~180 ms of load on a 22 MB live heap (--trace-gc), the spikes in the online
 * p99; no memory reducer: it ran 9–14 ms "reduce" mark-compacts in the idle PSI worker threads
 * under load, taking a core from the busy processes.
 */
export const NODE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=64', '--initial-old-space-size=256', '--no-memory-reducer'];

/** This file, for starting a node process: `node [NODE_V8_FLAGS] --import tsx MAIN_PATH ARGS`. */
export const MAIN_PATH = fileURLToPath(import.meta.url);

export async function startNode(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      role: { type: 'string' },
      name: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      data: { type: 'string' },
      peers: { type: 'string' },
      'admin-token': { type: 'string' },
      'psi-workers': { type: 'string', default: '2' },
      'tls-key': { type: 'string' },
      'auto-approve': { type: 'boolean', default: false },
      'tls-cert': { type: 'string' },
    },
    strict: true,
  });
  const role = values.role as NodeRole;
  if (!['platform', 'bank', 'coordinator'].includes(role ?? '')) throw new IndomainError('CLI_BAD_ARGS', '--role must be platform, bank or coordinator');
  for (const k of ['name', 'port', 'data', 'peers'] as const) if (!values[k]) throw new IndomainError('CLI_BAD_ARGS', `--${k} is required`);
  const token = values['admin-token'] ?? process.env.INDOMAIN_ADMIN_TOKEN;
  if (!token || token.length < 16) throw new IndomainError('CLI_BAD_ARGS', 'an admin token of at least 16 characters is required (INDOMAIN_ADMIN_TOKEN or --admin-token)');
  const store = new NodeStore(values.data!);
  const identity = store.identity(values.name!);
  writeFileSync(join(values.data!, 'identity.json'), JSON.stringify({ name: identity.name, role, publicKey: Buffer.from(identity.publicKey).toString('base64') }, null, 2));
  const peers = readPeers(values.peers!);
  const pool = role === 'coordinator' ? undefined : new BlindingPool(Number(values['psi-workers']));
  const log = (l: string) => process.stderr.write(`[${identity.name}] ${l}\n`);
  const authz = role === 'platform' ? new AuthorisationRegistry(store) : undefined;
  const runtime = new NodeRuntime({
    name: identity.name,
    role,
    store,
    identity,
    peers,
    ...(pool ? { blinder: pool } : {}),
    ...(authz ? { authz } : {}),
    autoApprove: values['auto-approve']!,
    log,
  });
  if (Boolean(values['tls-key']) !== Boolean(values['tls-cert'])) throw new IndomainError('CLI_BAD_ARGS', '--tls-key and --tls-cert go together');
  const https = values['tls-key'] ? { key: readFileSync(values['tls-key']), cert: readFileSync(values['tls-cert']!) } : undefined;
  const platformScorer = authz ? new PlatformScorer(store, authz, runtime) : undefined;
  const bankScorer = role === 'bank' ? new BankScorer(store, identity, peers) : undefined;
  const platformMonitor = authz ? new PlatformMonitor(store, authz, runtime) : undefined;
  const bankMonitor = bankScorer ? new BankMonitor(store, identity, peers, bankScorer) : undefined;
  const app = await buildApp({
    runtime,
    identity,
    role,
    peers,
    adminToken: token,
    ...(https ? { https } : {}),
    ...(authz ? { authz } : {}),
    ...(platformScorer ? { platformScorer } : {}),
    ...(bankScorer ? { bankScorer } : {}),
    ...(platformMonitor ? { platformMonitor } : {}),
    ...(bankMonitor ? { bankMonitor } : {}),
  });
  await app.listen({ port: Number(values.port), host: values.host! });
  log(`listening on ${values.host}:${values.port}`);
  await runtime.recover();
  const stop = async () => {
    runtime.stop();
    await app.close();
    await pool?.close();
    store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

if (isMain(import.meta.url)) {
  startNode(process.argv.slice(2)).catch((e: unknown) => {
    if (isIndomainError(e)) process.stderr.write(`error ${e.code}: ${e.message}\n`);
    else process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
