/**
 * One node process: `--role platform|bank|coordinator --name NAME --port PORT --data DIR
 * --peers PEERS.json [--data-root DIR]`, admin token from INDOMAIN_ADMIN_TOKEN (or --admin-token). Listens on
 * 127.0.0.1 unless --host says otherwise; recovers unfinished jobs from its database on start.
 * Admin requests read data files (datasets, authorisation imports) only under --data-root
 * (default DATA/datasets). --head-interval SECONDS: how often, while its chain grows, the node
 * exchanges audit-chain heads with its peers (default 60; server/audit-heads.ts).
 * TLS: --tls-key KEY.pem --tls-cert CERT.pem serve HTTPS; peers then use https:// URLs (a private
 * CA's certificate goes in NODE_EXTRA_CA_CERTS so that nodes trust each other).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IndomainError, isIndomainError } from '../engine/errors.ts';
import { isMain } from '../engine/main.ts';
import { BlindingPool } from '../protocols/psi/pool.ts';
import { buildApp } from './app.ts';
import { AuthorisationRegistry } from './authz.ts';
import { DataRoot } from './data-root.ts';
import { jobFactory } from './jobs/factory.ts';
import { snapshotEvents } from './monitoring/snapshot.ts';
import type { UnsafeAppOptions } from './plugins/context.ts';
import { NodeRuntime, type RuntimeOptions } from './runtime.ts';
import { NodeStore } from './store/node-store.ts';
import { nodeLimits, type NodeLimits } from './limits.ts';
import { closeInterrupted } from './transport/exchange.ts';
import { HttpClient } from './transport/http-client.ts';
import { readPeers, type NodeRole } from './transport/peer.ts';

/**
 * V8 flags every node process runs with (the cluster passes them; `indomain node` re-executes
 * itself with them). A larger young generation: fewer scavenges under request load (online
 * scoring's tail latency); a 256 MB initial old generation: without it V8 ran a 5–10 ms
 * mark-compact every ~180 ms of load on a 22 MB live heap (--trace-gc), the spikes in the online
 * p99; no memory reducer: it ran 9–14 ms "reduce" mark-compacts in the idle PSI worker threads
 * under load, taking a core from the busy processes.
 */
export const NODE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=64', '--initial-old-space-size=256', '--no-memory-reducer'];

export interface NodeOptions {
  readonly role: NodeRole;
  readonly name: string;
  /** The node's data directory (database, identity, jobs). */
  readonly data: string;
  readonly peers: string;
  readonly adminToken: string;
  /** The directory admin requests may read data files from (default DATA/datasets, created). */
  readonly dataRoot?: string;
  readonly psiWorkers?: number;
  readonly autoApprove?: boolean;
  readonly https?: { key: Buffer; cert: Buffer };
  /** The node's limits (server/limits.ts; the defaults there for what is not given). */
  readonly limits?: Partial<NodeLimits>;
  /** Interval between chain-head exchanges with the peers, ms (default 60 s; server/audit-heads.ts). */
  readonly headIntervalMs?: number;
  /** TEST ONLY switches of {@link buildApp} and {@link NodeRuntime} for tests/attacks (never on the command line). */
  readonly unsafe?: UnsafeAppOptions & NonNullable<RuntimeOptions['unsafe']>;
}

/** A node's parts, built but not listening: `startNode` listens and recovers; tests may listen on port 0. */
export async function createNode(o: NodeOptions): Promise<{ app: FastifyInstance; runtime: NodeRuntime; close: () => Promise<void> }> {
  const role = o.role;
  if (!['platform', 'bank', 'coordinator'].includes(role ?? '')) throw new IndomainError('CLI_BAD_ARGS', '--role must be platform, bank or coordinator');
  if (!o.adminToken || o.adminToken.length < 16) throw new IndomainError('CLI_BAD_ARGS', 'an admin token of at least 16 characters is required (INDOMAIN_ADMIN_TOKEN or --admin-token)');
  const limits = nodeLimits(o.limits);
  const store = new NodeStore(o.data);
  const identity = store.identity(o.name);
  // Exchanges left open by a stop in the middle go on record as failed (server/transport/exchange.ts).
  closeInterrupted(store);
  writeFileSync(join(o.data, 'identity.json'), JSON.stringify({ name: identity.name, role, publicKey: Buffer.from(identity.publicKey).toString('base64') }, null, 2));
  let dataRootDir = o.dataRoot;
  if (dataRootDir === undefined) mkdirSync((dataRootDir = join(o.data, 'datasets')), { recursive: true });
  const dataRoot = new DataRoot(dataRootDir, limits.dataFileBytes);
  const peers = readPeers(o.peers);
  const pool = role === 'coordinator' ? undefined : new BlindingPool(o.psiWorkers ?? 2);
  const log = (l: string) => process.stderr.write(`[${identity.name}] ${l}\n`);
  const authz = role === 'platform' ? new AuthorisationRegistry(store) : undefined;
  const http = new HttpClient();
  const jobs = jobFactory({
    store,
    blinder: pool,
    authz,
    reports: o.unsafe?.reports,
    // The platform snapshots the development sample's public credit records when it deploys a model.
    onDeployed: (spec, ids) => snapshotEvents(store, spec.id, spec, ids),
    // Consortium jobs: the banks' secagg identities are their pinned node keys; this node signs with its own.
    peerKey: (node) => (node === identity.name ? identity.publicKey : peers.get(node)?.publicKey),
    sign: identity.sign,
  });
  const runtime = new NodeRuntime({
    name: identity.name,
    role,
    store,
    identity,
    peers,
    jobs,
    http,
    autoApprove: o.autoApprove ?? false,
    jobTimeoutMs: limits.jobTimeoutMs,
    log,
    ...(o.unsafe?.gate || o.unsafe?.reports ? { unsafe: { ...(o.unsafe.gate ? { gate: o.unsafe.gate } : {}), ...(o.unsafe.reports ? { reports: o.unsafe.reports } : {}) } } : {}),
  });
  const app = await buildApp({
    runtime,
    identity,
    role,
    peers,
    http,
    adminToken: o.adminToken,
    dataRoot,
    limits,
    unsafe: { ...(o.unsafe?.authCheck ? { authCheck: o.unsafe.authCheck } : {}), ...(o.unsafe?.dataPaths ? { dataPaths: o.unsafe.dataPaths } : {}), ...(o.unsafe?.askUnauthorised ? { askUnauthorised: true } : {}), ...(o.unsafe?.scoreForAnyPurpose ? { scoreForAnyPurpose: true } : {}), ...(o.unsafe?.peerBodyFirst ? { peerBodyFirst: true } : {}), ...(o.unsafe?.peerSignatureAfterBody ? { peerSignatureAfterBody: true } : {}), ...(o.unsafe?.acceptUnsignedReplies ? { acceptUnsignedReplies: true } : {}), ...(o.unsafe?.consoleCsrf ? { consoleCsrf: o.unsafe.consoleCsrf } : {}) },
    ...(o.https ? { https: o.https } : {}),
    ...(authz ? { authz } : {}),
    ...(o.headIntervalMs !== undefined ? { headIntervalMs: o.headIntervalMs } : {}),
  });
  const close = async () => {
    runtime.stop();
    await app.close();
    await pool?.close();
    // Exchanges still waiting for a reply end here: on record as failed, like after a crash.
    closeInterrupted(store);
    store.close();
  };
  return { app, runtime, close };
}

export async function startNode(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      role: { type: 'string' },
      name: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      data: { type: 'string' },
      'data-root': { type: 'string' },
      peers: { type: 'string' },
      'admin-token': { type: 'string' },
      'psi-workers': { type: 'string', default: '2' },
      'tls-key': { type: 'string' },
      'auto-approve': { type: 'boolean', default: false },
      'tls-cert': { type: 'string' },
      'job-timeout': { type: 'string' },
      'request-timeout': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'max-data-file-mb': { type: 'string' },
      'max-id-length': { type: 'string' },
      'max-ids': { type: 'string' },
      'head-interval': { type: 'string' },
    },
    strict: true,
  });
  for (const k of ['role', 'name', 'port', 'data', 'peers'] as const) if (!values[k]) throw new IndomainError('CLI_BAD_ARGS', `--${k} is required`);
  if (Boolean(values['tls-key']) !== Boolean(values['tls-cert'])) throw new IndomainError('CLI_BAD_ARGS', '--tls-key and --tls-cert go together');
  // Limits (server/limits.ts): seconds and MiB on the command line.
  const num = (flag: string, scale: number): number | undefined => {
    const v = values[flag as keyof typeof values];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(n > 0) || !Number.isFinite(n)) throw new IndomainError('CLI_BAD_ARGS', `--${flag} must be a positive number`);
    return Math.round(n * scale);
  };
  const limits: Partial<NodeLimits> = Object.fromEntries(
    Object.entries({
      jobTimeoutMs: num('job-timeout', 1000),
      requestTimeoutMs: num('request-timeout', 1000),
      idleTimeoutMs: num('idle-timeout', 1000),
      dataFileBytes: num('max-data-file-mb', 1024 * 1024),
      idLength: num('max-id-length', 1),
      idsPerRequest: num('max-ids', 1),
    }).filter(([, v]) => v !== undefined),
  );
  const headInterval = values['head-interval'] === undefined ? undefined : Number(values['head-interval']);
  if (headInterval !== undefined && !(headInterval >= 1 && headInterval <= 86_400)) throw new IndomainError('CLI_BAD_ARGS', '--head-interval must be a number of seconds in 1..86400');
  const https = values['tls-key'] ? { key: readFileSync(values['tls-key']), cert: readFileSync(values['tls-cert']!) } : undefined;
  const { app, runtime, close } = await createNode({
    role: values.role as NodeRole,
    name: values.name!,
    data: values.data!,
    peers: values.peers!,
    adminToken: values['admin-token'] ?? process.env.INDOMAIN_ADMIN_TOKEN ?? '',
    ...(values['data-root'] !== undefined ? { dataRoot: values['data-root'] } : {}),
    psiWorkers: Number(values['psi-workers']),
    autoApprove: values['auto-approve']!,
    limits,
    ...(https ? { https } : {}),
    ...(headInterval !== undefined ? { headIntervalMs: headInterval * 1000 } : {}),
  });
  await app.listen({ port: Number(values.port), host: values.host! });
  process.stderr.write(`[${values.name}] listening on ${values.host}:${values.port}\n`);
  const t0 = Date.now();
  const recovered = await runtime.recover();
  // What a restart cost: the jobs replayed (terminal ones never are) and the process's CPU so far.
  const cpu = process.cpuUsage();
  process.stderr.write(`[${values.name}] recovered ${recovered} unfinished job(s) in ${Date.now() - t0} ms; process CPU since start ${((cpu.user + cpu.system) / 1e6).toFixed(3)} s\n`);
  const stop = async () => {
    await close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

/** Start a node from the command line: a failure to start is one coded line and exit code 1. */
export function runNode(argv: string[]): void {
  startNode(argv).catch((e: unknown) => {
    if (isIndomainError(e)) process.stderr.write(`error ${e.code}: ${e.message}\n`);
    else process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}

if (isMain(import.meta.url)) runNode(process.argv.slice(2));
