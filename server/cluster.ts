/**
 * Start, talk to and stop a set of node processes on this machine (the lab and the tests): each
 * node's identity is created in its own data directory first, the pinned-peers file written, then
 * every node started as its own process (`node BUNDLE …`, the node program compiled once by
 * server/node-bundle.ts; `program: 'tsx'` runs `node --import tsx server/main.ts …` instead),
 * logging to `DATA/node.log`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IndomainError } from '../engine/errors.ts';
import { NODE_V8_FLAGS } from './main.ts';
import { nodeBundle } from './node-bundle.ts';
import type { NodeRole, PeersFile } from './transport/peer.ts';
import { NodeStore } from './store/node-store.ts';

export interface NodeConfig {
  readonly name: string;
  readonly role: NodeRole;
  /** 0: a free port chosen by the operating system when the cluster starts (tests). */
  readonly port: number;
  /** Extra command-line flags (e.g. `--auto-approve` for the platform). */
  readonly args?: readonly string[];
}

export interface ClusterOptions {
  /** Every node's --data-root: the directory its admin API reads CSVs from (default: each node's DATA/datasets). */
  readonly dataRoot?: string;
  /** How long a node may take to answer after it is started (default 120 s: at load 28 on 2 cores loading the TypeScript modules alone took over 30 s, measured). */
  readonly startTimeoutMs?: number;
  /**
   * How node processes run the node program: `compiled` (default) from the bundle of
   * server/node-bundle.ts, `tsx` from the TypeScript sources through tsx's loader (the same
   * program; ~1.5 s more CPU per start, for comparing the two in benchmarks/restart.ts).
   */
  readonly program?: 'compiled' | 'tsx';
}

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export class Cluster {
  readonly token = randomBytes(24).toString('hex');
  private readonly procs = new Map<string, ChildProcess>();
  private readonly ports = new Map<string, number>();
  private readonly publicKeys = new Map<string, string>();
  readonly peersFile: string;

  constructor(
    readonly dir: string,
    readonly nodes: readonly NodeConfig[],
    readonly options: ClusterOptions = {},
  ) {
    mkdirSync(dir, { recursive: true });
    this.peersFile = join(dir, 'peers.json');
    for (const n of nodes) {
      const store = new NodeStore(this.dataDir(n.name));
      this.publicKeys.set(n.name, Buffer.from(store.identity(n.name).publicKey).toString('base64'));
      store.close();
      this.ports.set(n.name, n.port);
    }
    this.writePeers();
  }

  private writePeers(): void {
    const peers: PeersFile = { nodes: this.nodes.map((n) => ({ name: n.name, role: n.role, url: this.url(n.name), publicKey: this.publicKeys.get(n.name)! })) };
    writeFileSync(this.peersFile, JSON.stringify(peers, null, 2));
  }

  private portsChosen: Promise<void> | undefined;

  /** Give every node configured with port 0 a port the operating system has free, once. */
  private choosePorts(): Promise<void> {
    return (this.portsChosen ??= this.pickFreePorts());
  }

  private async pickFreePorts(): Promise<void> {
    const unset = this.nodes.filter((n) => this.ports.get(n.name) === 0);
    if (unset.length === 0) return;
    const servers = await Promise.all(
      unset.map(
        () =>
          new Promise<Server>((ok, fail) => {
            const s = createServer();
            s.once('error', fail);
            s.listen(0, '127.0.0.1', () => ok(s));
          }),
      ),
    );
    unset.forEach((n, i) => this.ports.set(n.name, (servers[i]!.address() as AddressInfo).port));
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    this.writePeers();
  }

  dataDir(name: string): string {
    return resolve(this.dir, name);
  }

  url(name: string): string {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new IndomainError('SRV_NOT_FOUND', `node "${name}"`);
    return `http://127.0.0.1:${this.ports.get(name)}`;
  }

  /** Start one node process and wait until it answers. */
  async start(name: string): Promise<void> {
    await this.choosePorts();
    const n = this.nodes.find((x) => x.name === name)!;
    const log = openSync(join(this.dataDir(name), 'node.log'), 'a');
    // INDOMAIN_NODE_FLAGS: extra Node flags for the node processes (e.g. --cpu-prof), for diagnosis.
    const flags = [...NODE_V8_FLAGS, ...(process.env.INDOMAIN_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
    const program = this.options.program === 'tsx' ? ['--import', 'tsx', MAIN] : [await nodeBundle()];
    const p = spawn(process.execPath, [...flags, ...program, '--role', n.role, '--name', n.name, '--port', String(this.ports.get(name)), '--data', this.dataDir(name), '--peers', this.peersFile, ...(this.options.dataRoot !== undefined ? ['--data-root', resolve(this.options.dataRoot)] : []), ...(n.args ?? [])], {
      env: { ...process.env, INDOMAIN_ADMIN_TOKEN: this.token },
      stdio: ['ignore', log, log],
    });
    this.procs.set(name, p);
    // Node processes never outlive the process that started them (a test runner tearing down a
    // timed-out worker, a crashed lab): on exit, whatever is still running is killed.
    if (!this.exitHook) process.once('exit', (this.exitHook = () => this.killAll()));
    const limit = this.options.startTimeoutMs ?? 120_000;
    const deadline = Date.now() + limit;
    for (;;) {
      if (p.exitCode !== null) throw new IndomainError('SRV_PEER_UNREACHABLE', `node ${name} exited with ${p.exitCode}; see ${join(this.dataDir(name), 'node.log')}`);
      try {
        const r = await fetch(`${this.url(name)}/v1/health`);
        if (r.ok) return;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) throw new IndomainError('SRV_PEER_UNREACHABLE', `node ${name} did not start in ${limit / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.start(n.name)));
  }

  pid(name: string): number | undefined {
    return this.procs.get(name)?.pid;
  }

  /** Kill a node (SIGKILL by default) and wait for the process to end. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(name);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const ended = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await ended;
  }

  private exitHook: (() => void) | undefined;

  private killAll(): void {
    for (const p of this.procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }

  /** Stop every node (SIGTERM, then SIGKILL after 5 s). */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.procs.keys()].map(async (name) => {
        const p = this.procs.get(name)!;
        if (p.exitCode !== null || p.signalCode !== null) return;
        const ended = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        const t = setTimeout(() => p.kill('SIGKILL'), 5000);
        await ended;
        clearTimeout(t);
      }),
    );
    if (this.exitHook) process.removeListener('exit', this.exitHook);
    this.exitHook = undefined;
  }

  /**
   * An administrative call with this cluster's admin token; throws the node's coded error. One
   * connection per call (no keep-alive reuse): under a load of 20 on 2 cores a call on a socket
   * kept from an earlier call was answered and closed under it ("other side closed") twice in
   * the suite; a fresh connection has no such race.
   */
  async admin<T = unknown>(name: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const payload = body !== undefined ? JSON.stringify(body) : undefined;
    const { status, text } = await new Promise<{ status: number; text: string }>((done, fail) => {
      const req = httpRequest(
        `${this.url(name)}${path}`,
        {
          method,
          agent: false,
          headers: { 'x-admin-token': this.token, ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', fail);
        },
      );
      req.on('error', fail);
      req.end(payload);
    });
    const j = JSON.parse(text) as T & { code?: string; message?: string };
    if (!(status >= 200 && status < 300)) throw new IndomainError((j.code as never) ?? 'SRV_INTERNAL', j.message ?? `HTTP ${status}`);
    return j;
  }

  /** Poll a job on the coordinator until it completes or fails. */
  async waitForJob(coordinator: string, id: string, timeoutMs = 300_000, onProgress?: (job: JobView) => void): Promise<JobView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const j = await this.admin<JobView>(coordinator, 'GET', `/v1/admin/jobs/${id}`);
      onProgress?.(j);
      if (j.status === 'completed') return j;
      if (j.status === 'failed' || j.status === 'cancelled') throw new IndomainError('SRV_JOB_FAILED', `${id}: ${JSON.stringify(j.error)}`);
      if (Date.now() > deadline) throw new IndomainError('SRV_JOB_FAILED', `${id} did not finish in ${timeoutMs / 1000} s (stage ${j.stage})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export interface JobView {
  id: string;
  status: string;
  stage: string;
  progress: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: unknown;
  traffic?: { sent: Record<string, number>; received: Record<string, number> };
}
