/**
 * Messages of the federated scorecard (protocol `scorecard`), with what each receiver learns.
 * See `protocol.ts` for the flow. All ciphertexts here are under the guest's own CKKS key.
 */
import { declareMessage } from '../message.ts';

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
  discloses: "how the host's fine bins merge into coarse bins, and the WOE of each coarse bin and the IV of each host feature (label aggregates over the host's own bins)",
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
  fields: { trainLogit: 'f64', trainPoints: 'f64', testLogit: 'f64', testPoints: 'f64', maxPoints: 'number', minPoints: 'number' },
  discloses:
    "the host's partial logit and integer partial points for every enterprise of the development sample (train and test), and the highest and lowest partial points possible; under `full`, where the bank holds the host's coefficients and WOE, a float partial logit gives away every platform bin of the enterprise (tests/attacks/decode-platform-bins)",
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
  fields: { table: 'string' },
  discloses:
    "under the `full` disclosure policy only: the host's characteristics (bins with cut points or categories, WOE, coefficient, points per bin); with it, every per-enterprise platform sum the bank receives (test-set validation points, online partial points) narrows down the enterprise's platform bins, the more so the fewer the platform characteristics (tests/attacks/decode-platform-bins: 76% of bins against 56% from the bin shares with 6, 58% against 57% with 20)",
});

export const FisherRequest = declareMessage({
  protocol: SC,
  type: 'FisherRequest',
  from: 'guest',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { vectors: 'bytes[][]' },
  discloses: "nothing: the model's per-enterprise weights p(1−p), alone and times each guest feature, encrypted under the guest's key",
});

export const FisherBlocks = declareMessage({
  protocol: SC,
  type: 'FisherBlocks',
  from: 'host',
  to: ['guest'],
  privacy: 'aggregate',
  fields: { host: 'bytes', cross: 'bytes[]' },
  discloses:
    'after decryption, the host and guest×host blocks of the Fisher information Xᵀ·diag(p(1−p))·X (sums over all training rows), noise-flooded',
});
