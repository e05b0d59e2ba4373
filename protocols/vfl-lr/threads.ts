/**
 * `vfl-lr` with each role in its own worker thread (protocols/threads.ts): the guest's and the
 * host's encrypted gradient products run at the same time, and each party precomputes in its
 * idle time (the host its encryptions of zero, both their plaintext diagonals).
 */
import { secretRng } from '../../engine/rng.ts';
import { createCkks } from '../he/ckks.ts';
import { runInThreads } from '../threads.ts';
import { VflArbiter } from './arbiter.ts';
import { vflConfig, type VflConfig } from './config.ts';
import { VflGuest } from './guest.ts';
import { VflHost } from './host.ts';
import { sampled, threadMB } from '../thread-memory.ts';

type RoleArgs =
  | { role: 'arbiter'; config: VflConfig; secret: Uint8Array }
  | { role: 'guest'; config: VflConfig; columns: Float64Array[]; labels: Uint8Array; secret: Uint8Array }
  | { role: 'host'; config: VflConfig; columns: Float64Array[] };

/** Build one role in this thread (the CKKS context too, as a node process does once). */
export async function createParty(a: RoleArgs) {
  const ckks = await createCkks(a.config.params);
  const peak = { mb: threadMB() };
  switch (a.role) {
    case 'arbiter': {
      // Training alone (the lr benchmarks): no CKKS key pair, which only a scorecard stage uses.
      const party = sampled(new VflArbiter(ckks, a.config, secretRng(a.secret, 'vfl-lr-arbiter'), undefined, { keys: false }), peak);
      return { party, result: () => ({ iterations: party.iterations, converged: party.converged, gradientNorms: party.gradientNorms, profile: party.profile, peakMB: peak.mb }) };
    }
    case 'guest': {
      const party = sampled(new VflGuest(ckks, a.columns, a.labels, a.config, secretRng(a.secret, 'vfl-mask')), peak);
      return { party, result: () => ({ weights: party.weights, profile: party.profile, peakMB: peak.mb }) };
    }
    case 'host': {
      const party = sampled(new VflHost(ckks, a.columns, a.config), peak);
      return { party, result: () => ({ weights: party.weights, profile: party.profile, peakMB: peak.mb }) };
    }
  }
}

export interface VflThreadsInput {
  guest: readonly Float64Array[];
  labels: Uint8Array;
  host: readonly Float64Array[];
  config: VflConfig;
  /** Secrets of the arbiter's and the guest's generators (from a cryptographic generator). */
  arbiterSecret: Uint8Array;
  guestSecret: Uint8Array;
  /** Runs before the timed one on the same threads (see runInThreads). */
  warmups?: number;
}

export interface VflThreadsResult {
  guestWeights: Float64Array;
  hostWeights: Float64Array;
  iterations: number;
  converged: boolean;
  gradientNorms: number[];
  /** From the start signal (keys not yet made) until every role is done. */
  seconds: number;
  /** Building the roles in their threads (with no warm-up, also loading SEAL and its context). */
  setupSeconds: number;
  bytesByPair: Record<string, number>;
  totalBytes: number;
  /** Seconds per kind of work, per role (the rest of `seconds` is waiting and messaging). */
  profile: Record<string, Record<string, number>>;
  /** Peak memory per role's thread (V8 heap and external memory), MB. */
  peakMB: Record<string, number>;
  /** Peak resident set of the whole process (the three threads together), MB. */
  processPeakRssMB: number;
  /** `seconds` of the warm-up runs (the first on cold threads). */
  warmupSeconds: readonly number[];
}

export async function trainInThreads(input: VflThreadsInput): Promise<VflThreadsResult> {
  const config = vflConfig(input.config.job, input.config);
  const module = new URL('./threads.ts', import.meta.url).href;
  const run = await runInThreads({
    arbiter: { module, args: { role: 'arbiter', config, secret: input.arbiterSecret } },
    guest: { module, args: { role: 'guest', config, columns: [...input.guest], labels: input.labels, secret: input.guestSecret } },
    host: { module, args: { role: 'host', config, columns: [...input.host] } },
  }, { warmups: input.warmups ?? 0 });
  const a = run.results.arbiter as { iterations: number; converged: boolean; gradientNorms: number[] };
  const r = run.results as Record<string, { profile: Record<string, number>; peakMB: number }>;
  return {
    guestWeights: (run.results.guest as { weights: Float64Array }).weights,
    hostWeights: (run.results.host as { weights: Float64Array }).weights,
    iterations: a.iterations,
    converged: a.converged,
    gradientNorms: a.gradientNorms,
    seconds: run.seconds,
    setupSeconds: run.setupSeconds,
    bytesByPair: run.bytesByPair,
    totalBytes: Object.values(run.bytesByPair).reduce((s, b) => s + b, 0),
    profile: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.profile])),
    peakMB: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.peakMB])),
    processPeakRssMB: process.resourceUsage().maxRSS / 1024,
    warmupSeconds: run.warmupSeconds,
  };
}

