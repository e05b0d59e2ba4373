/**
 * Messages of the federated scorecard (protocol `scorecard`), with what each receiver learns.
 * See `protocol.ts` for the flow. Ciphertexts of binning are under the guest's own CKKS key; those
 * of the Fisher information under the arbiter's vfl-lr key.
 */
import { declareMessage, oneOf, records } from '../message.ts';

export const SC = 'scorecard';

export const LabelSetup = declareMessage({
  protocol: SC,
  type: 'LabelSetup',
  from: 'guest',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { params: 'string', publicKey: 'bytes', galoisKeys: 'bytes', labels: 'bytes[]' },
  discloses: "the guest's CKKS public and Galois keys, and the training labels encrypted under the guest's key (nothing readable)",
});

export const HostBinCounts = declareMessage({
  protocol: SC,
  type: 'HostBinCounts',
  from: 'host',
  to: ['guest'],
  privacy: 'aggregate',
  fields: { features: 'string[]', kinds: 'string[]', bins: 'number[]', missingOwn: 'number[]', totals: 'f64', events: 'bytes[]' },
  discloses:
    "per host feature, the number of fine bins (each of at least the minimum count), the rows per bin and, after the guest decrypts, the events per bin; no cut point, category or value",
});

export const BinPlan = declareMessage({
  protocol: SC,
  type: 'BinPlan',
  from: 'guest',
  to: ['host'],
  privacy: 'aggregate',
  fields: { mapping: 'number[]', woe: 'f64', iv: 'f64' },
  discloses: 
    "(ε, δ)-differentially private in each training label (labelPrivacy, default ε = 1, δ = 1e-6): how the host's fine bins merge into coarse bins, the WOE of each coarse bin and the IV of each host feature, all computed from the fine-bin event counts of every host feature plus Gaussian noise of L2 sensitivity √(host features), clipped to the bin's rows; what it reveals beyond that is the population event rates of the host's own bins, up to that noise",
});

export const HostSelection = declareMessage({
  protocol: SC,
  type: 'HostSelection',
  from: 'host',
  to: ['guest'],
  privacy: 'metadata',
  fields: { kept: 'string[]', dropped: 'string[]', steps: 'string[]', reasons: 'string[]', vif: 'f64' },
  discloses: 'which host features were kept or dropped and why, and the VIF of each kept host feature among the host features',
});

export const HostPartialScores = declareMessage({
  protocol: SC,
  type: 'HostPartialScores',
  from: 'host',
  to: ['guest'],
  privacy: 'score',
  fields: { testLogit: 'f64', testPoints: 'f64', maxPoints: 'number', minPoints: 'number' },
  discloses:
    "for every test-set (validation) enterprise the host's integer partial points, and under `partial` also its partial logit (the bank holds no host coefficient, WOE table or points table there); under `full`, where the bank holds the host's table, integer points only, which narrow down the enterprise's platform bins as online scoring's do (tests/attacks/decode-platform-bins); the highest and lowest partial points possible; nothing per training enterprise",
});

/**
 * TEST ONLY (the `trainRowsToBank` switch of the in-memory run, which no job spec or request can
 * set): the pre-issue-12 disclosure, so that tests/attacks/train-rows.test.ts can show its attack
 * succeeding without the defence. The server never sends it.
 */
export const HostTrainScores = declareMessage({
  protocol: SC,
  type: 'HostTrainScores',
  from: 'host',
  to: ['guest'],
  privacy: 'score',
  fields: { trainLogit: 'f64', trainPoints: 'f64' },
  discloses: "test-only switch trainRowsToBank: the host's partial logit and points for every training enterprise",
});

export const HostStability = declareMessage({
  protocol: SC,
  type: 'HostStability',
  from: 'host',
  to: ['guest'],
  privacy: 'aggregate',
  fields: { features: 'string[]', stability: 'f64', csi: 'f64' },
  discloses: "per kept host feature, the population stability of its bins between train and test and its characteristic stability in points",
});

export const HostPoints = declareMessage({
  protocol: SC,
  type: 'HostPoints',
  from: 'host',
  to: ['guest'],
  privacy: 'model',
  fields: {
    table: records({
      feature: 'string',
      kind: oneOf(['numeric', 'categorical']),
      cuts: 'number[]',
      categories: 'number[][]',
      bins: 'int',
      missingOwn: 'boolean',
      missingBin: 'int',
      otherBin: 'int',
      woe: 'number[]',
      coefficient: 'number',
      points: 'number[]',
      labels: 'string[]',
    }),
  },
  discloses:
    "under the `full` disclosure policy only: the host's characteristics (bins with cut points or categories, WOE, coefficient, points per bin); with it, every per-enterprise platform sum the bank receives (test-set validation points, online partial points) narrows down the enterprise's platform bins, the more so the fewer the platform characteristics (tests/attacks/decode-platform-bins: 76% of bins against 56% from the bin shares with 6, 58% against 57% with 20)",
});

export const ShareSeed = declareMessage({
  protocol: SC,
  type: 'ShareSeed',
  from: 'guest',
  to: ['host'],
  privacy: 'metadata',
  fields: { seed: 'bytes' },
  discloses: "nothing about any data: 32 random bytes from which guest and host derive the permutation and one-time pads of the training-row shares they send the arbiter (never sent to the arbiter)",
});

export const GuestTrainShares = declareMessage({
  protocol: SC,
  type: 'GuestTrainShares',
  from: 'guest',
  to: ['arbiter'],
  privacy: 'masked',
  fields: { logit: 'f64', points: 'f64', labels: 'bytes' },
  discloses:
    "the training rows in a secret order (the arbiter cannot link a position to a row or an enterprise): each row's label, and its guest partial logit (intercept included) and points (base included) one-time padded mod 2^52; with the host's shares, the multiset of (joint logit, total points, label) of the training rows",
});

export const HostTrainShares = declareMessage({
  protocol: SC,
  type: 'HostTrainShares',
  from: 'host',
  to: ['arbiter'],
  privacy: 'ciphertext',
  fields: { logit: 'f64', points: 'f64' },
  discloses:
    "nothing alone: the host's partial logit and points of each training row, one-time padded mod 2^52 in the guest's secret order; with the guest's shares, the joint logits and total points of the training rows, unlinked to any row or enterprise",
});

export const TrainSummary = declareMessage({
  protocol: SC,
  type: 'TrainSummary',
  from: 'arbiter',
  to: ['guest'],
  privacy: 'aggregate',
  fields: { metrics: 'f64', edges: 'f64', deciles: 'f64', bands: 'f64' },
  discloses:
    'aggregates of the training sample: AUC, KS, Gini, log-loss, rows and events; the score band edges (whole multiples of PDO between its 1st and 99th points percentiles); per probability decile and per score band the rows, events, lowest and highest total points and summed predicted probability',
});

export const FisherWeights = declareMessage({
  protocol: SC,
  type: 'FisherWeights',
  from: 'arbiter',
  to: ['guest', 'host'],
  privacy: 'ciphertext',
  fields: { weights: 'bytes[]' },
  discloses: "nothing: the Fisher weights p(1−p) of the training rows, in the shares' order, encrypted under the arbiter's key",
});

export const HostFisherVectors = declareMessage({
  protocol: SC,
  type: 'HostFisherVectors',
  from: 'host',
  to: ['guest'],
  privacy: 'ciphertext',
  fields: { vectors: 'bytes[][]' },
  discloses: "nothing: [[p(1−p)·x_Hl]] per kept host feature, under the arbiter's key, re-randomised",
});

export const FisherSums = declareMessage({
  protocol: SC,
  type: 'FisherSums',
  from: ['guest', 'host'],
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { columns: 'int', direct: 'bytes', cross: 'bytes[]' },
  discloses:
    "after decryption, the sender's blocks of the Fisher information Xᵀ·diag(p(1−p))·X (sums over all training rows, noise-flooded): the guest's with the intercept and the guest×host block, the host's own",
});

export const FisherMatrix = declareMessage({
  protocol: SC,
  type: 'FisherMatrix',
  from: 'arbiter',
  to: ['guest'],
  privacy: 'aggregate',
  fields: { fisher: 'f64' },
  discloses:
    'the Fisher information Xᵀ·diag(p(1−p))·X over [intercept, guest, host] features (sums over all training rows, noise-flooded), from which the standard errors follow',
});
