/**
 * Messages of the two-party scorecard stage (protocol `scorecard-2p`), with what each receiver
 * learns. See `protocol.ts` for the flow. The histogram's ciphertexts are under the guest's BFV key
 * of this stage; the Fisher information's under the guest's CKKS key from `vfl-lr-2p` training.
 */
import { declareMessage } from '../message.ts';

export const SC2 = 'scorecard-2p';

export const HistogramBlocks = declareMessage({
  protocol: SC2,
  type: 'HistogramBlocks',
  from: 'guest',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { publicKey: 'bytes', guestRange: 'int', blocks: 'bytes[]' },
  discloses:
    "the guest's BFV public key, the width of its realised points range (highest minus lowest guest partial points of the training rows, plus one) and, under the guest's key (nothing readable), each training row's guest points and label as a monomial (1 + B·y)·X^(g + rL) of its block",
});

export const TrainScoreHistogram = declareMessage({
  protocol: SC2,
  type: 'TrainScoreHistogram',
  from: 'host',
  to: ['guest'],
  privacy: 'aggregate',
  fields: { histogram: 'bytes' },
  discloses:
    'after decryption, for every total score of the training rows the number of rows and of events (the score histogram by label: what the arbiter learned in the three-party mode, unlinked to any row); every other coefficient is one-time padded by the host; re-randomised and noise-flooded',
});

export const HostFisherWindows = declareMessage({
  protocol: SC2,
  type: 'HostFisherWindows',
  from: 'host',
  to: ['guest'],
  privacy: 'aggregate',
  fields: { centres: 'number[]', halfWidths: 'number[]', degrees: 'number[]' },
  discloses:
    "the host's windows for the Fisher weights: at most maxWindows intervals [centre ± halfWidth] of its training partial logits, edges on a 0.5-logit grid, each holding a row, not which (as vfl-lr-2p's HostWindows), and the Chebyshev degree of each",
});

export const GuestFisherInput = declareMessage({
  protocol: SC2,
  type: 'GuestFisherInput',
  from: 'guest',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { coefficients: 'bytes[][]', columns: 'bytes[][]', products: 'bytes[][]' },
  discloses:
    "nothing: under the guest's own CKKS key, the per-row Chebyshev coefficients of σ′(u_G + c + Rτ) in the host's windowed basis, and the guest's columns [1, x_G] and their pairwise products, in diagonal order",
});

export const FisherBlocks = declareMessage({
  protocol: SC2,
  type: 'FisherBlocks',
  from: 'host',
  to: ['guest'],
  privacy: 'aggregate',
  fields: { host: 'bytes', guest: 'bytes', products: 'bytes', cross: 'bytes[]' },
  discloses:
    "after decryption, the Fisher information Xᵀ·diag(σ′(z))·X over [1, X_G, X_H Aᵀ] (sums over all training rows; the host's columns in its secret rotation, so the host block is A·F_HH·Aᵀ), each re-randomised and noise-flooded per copy",
});

export const HostCovariance = declareMessage({
  protocol: SC2,
  type: 'HostCovariance',
  from: 'guest',
  to: ['host'],
  privacy: 'aggregate',
  fields: { covariance: 'f64' },
  discloses: "the host block of the inverse Fisher information in the host's rotated coordinates (the covariance of the host's coefficients, an aggregate over all training rows)",
});

export const HostStandardErrors = declareMessage({
  protocol: SC2,
  type: 'HostStandardErrors',
  from: 'host',
  to: ['guest'],
  privacy: 'model',
  fields: { standardErrors: 'f64' },
  discloses: "under the `full` disclosure policy only (with HostPoints): the standard error of each kept host coefficient",
});
