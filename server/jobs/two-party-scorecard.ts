/**
 * The scorecard stage of a two-party job (`"arbiter": "none"`, protocols/scorecard-2p): no arbiter
 * computes the training side of the report or the Fisher information. The bank's stage party
 * decrypts the score histogram (BFV) and the Fisher blocks (CKKS) under its own keys; the
 * platform's computes them with its secret rotation from training, and returns them flooded. Each
 * wraps the node's binned scorecard party, which still receives the platform's `scorecard`
 * messages (stability, points under `full`, test-row partial scores) and makes the deliverables.
 *
 * Restart: the bank's CKKS key is training's (kept in its store); its BFV key is kept in its store
 * too (`keep`), so a replay decrypts the histogram that arrived under the first one; the
 * platform's rotation and the bank's public keys come back with the training replay.
 */
import { IndomainError } from '../../engine/errors.ts';
import type { Rng } from '../../engine/rng.ts';
import { createBfv } from '../../protocols/he/bfv.ts';
import { createCkks } from '../../protocols/he/ckks.ts';
import { TwoPartyScorecardGuest, TwoPartyScorecardHost } from '../../protocols/scorecard-2p/protocol.ts';
import { scorecardConfig, ScorecardGuest, type ScorecardHost } from '../../protocols/scorecard/protocol.ts';
import { vflConfig } from '../../protocols/vfl-lr/protocol.ts';
import { TwoPartyGuest, TwoPartyHost } from '../../protocols/vfl-lr-2p/protocol.ts';
import { stripDeclarations, type JobSpec } from './spec.ts';
import type { TrainingParty } from './training.ts';

export type TwoPartyScorecardStage = TwoPartyScorecardGuest | TwoPartyScorecardHost;

export async function twoPartyScorecardStage(o: {
  readonly spec: JobSpec;
  /** The binned scorecard party of this node (binning done). */
  readonly sc: ScorecardGuest | ScorecardHost;
  /** This node's vfl-lr-2p party, training done. */
  readonly training: TrainingParty | undefined;
  readonly rng: Rng;
  /** The bank's BFV secret key: kept from an earlier run, and where to keep a new one. */
  readonly bfvKey: { stored?: Uint8Array; keep: (b: Uint8Array) => void };
}): Promise<TwoPartyScorecardStage> {
  const lr = vflConfig(o.spec.id, o.spec.training ?? {});
  const config = scorecardConfig(o.spec.id, stripDeclarations(o.spec.scorecard));
  const [ckks, bfv] = await Promise.all([createCkks(lr.params), createBfv()]);
  if (o.sc instanceof ScorecardGuest) {
    const keys = o.training instanceof TwoPartyGuest ? o.training.keyOwner : undefined;
    if (!keys) throw new IndomainError('SRV_JOB_FAILED', 'no two-party training key pair on the bank');
    TwoPartyScorecardGuest.setModel(o.sc, ckks, o.training!.weights, keys);
    return new TwoPartyScorecardGuest(ckks, bfv, o.sc, keys, lr, config, o.rng, o.bfvKey);
  }
  const host = o.training instanceof TwoPartyHost ? o.training : undefined;
  if (!host?.guestKeys) throw new IndomainError('SRV_JOB_FAILED', "no two-party training (the bank's public keys) on the platform");
  TwoPartyScorecardHost.setModel(o.sc, ckks, host.weights, host.guestKeys);
  return new TwoPartyScorecardHost(ckks, bfv, o.sc, { rotation: host.rotation, guestKeys: host.guestKeys }, lr, config, o.rng);
}
