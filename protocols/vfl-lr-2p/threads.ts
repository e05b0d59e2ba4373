/**
 * `vfl-lr-2p` with each role in its own worker thread (protocols/threads.ts), as the benchmark
 * times `vfl-lr`: the guest and the host compute at the same time where the flow lets them.
 */
import { secretRng } from '../../engine/rng.ts';
import { createCkks } from '../he/ckks.ts';
import { runInThreads } from '../threads.ts';
import { vflConfig, type VflConfig } from '../vfl-lr/config.ts';
import { TwoPartyGuest } from './guest.ts';
import { TwoPartyHost } from './host.ts';
import { sampled, threadMB } from '../thread-memory.ts';

type RoleArgs =
  | { role: 'guest'; config: VflConfig; columns: Float64Array[]; labels: Uint8Array; secret: Uint8Array }
  | { role: 'host'; config: VflConfig; columns: Float64Array[]; secret: Uint8Array };

/** Build one role in this thread (the CKKS context too, as a node process does once). */
export async function createParty(a: RoleArgs) {
  const ckks = await createCkks(a.config.params);
  const peak = { mb: threadMB() };
  if (a.role === 'guest') {
    const party = sampled(new TwoPartyGuest(ckks, a.columns, a.labels, a.config, secretRng(a.secret, 'vfl-lr-2p-guest')), peak);
    return {
      party,
      result: () => ({ weights: party.weights, iterations: party.iterations, converged: party.converged, gradientNorms: party.gradientNorms, profile: party.profile, peakMB: peak.mb }),
    };
  }
  const party = sampled(new TwoPartyHost(ckks, a.columns, a.config, secretRng(a.secret, 'vfl-lr-2p-host')), peak);
  return { party, result: () => ({ weights: party.weights, profile: party.profile, peakMB: peak.mb }) };
}

export interface TwoPartyThreadsInput {
  guest: readonly Float64Array[];
  labels: Uint8Array;
  host: readonly Float64Array[];
  config: VflConfig;
  /** Secrets of each party's generator (from a cryptographic generator). */
  guestSecret: Uint8Array;
  hostSecret: Uint8Array;
  warmups?: number;
}

export interface TwoPartyThreadsResult {
  guestWeights: Float64Array;
  /** The platform's weights of its own columns (rotated back by the host). */
  hostWeights: Float64Array;
  iterations: number;
  converged: boolean;
  gradientNorms: number[];
  seconds: number;
  setupSeconds: number;
  bytesByPair: Record<string, number>;
  totalBytes: number;
  profile: Record<string, Record<string, number>>;
  peakMB: Record<string, number>;
  processPeakRssMB: number;
  warmupSeconds: readonly number[];
}

export async function trainTwoPartyInThreads(input: TwoPartyThreadsInput): Promise<TwoPartyThreadsResult> {
  const config = vflConfig(input.config.job, input.config);
  const module = new URL('./threads.ts', import.meta.url).href;
  const run = await runInThreads(
    {
      guest: { module, args: { role: 'guest', config, columns: [...input.guest], labels: input.labels, secret: input.guestSecret } },
      host: { module, args: { role: 'host', config, columns: [...input.host], secret: input.hostSecret } },
    },
    { warmups: input.warmups ?? 0 },
  );
  const g = run.results.guest as { weights: Float64Array; iterations: number; converged: boolean; gradientNorms: number[] };
  const r = run.results as Record<string, { profile: Record<string, number>; peakMB: number }>;
  return {
    guestWeights: g.weights,
    hostWeights: (run.results.host as { weights: Float64Array }).weights,
    iterations: g.iterations,
    converged: g.converged,
    gradientNorms: g.gradientNorms,
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
