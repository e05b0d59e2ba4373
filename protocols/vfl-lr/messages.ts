/**
 * Messages of vertical logistic regression (protocol `vfl-lr`), with what each receiver learns.
 * See `protocol.ts` for the flow.
 */
import { declareMessage } from '../message.ts';

export const VFL = 'vfl-lr';

export const HeSetup = declareMessage({
  protocol: VFL,
  type: 'HeSetup',
  from: 'arbiter',
  to: ['guest', 'host'],
  privacy: 'metadata',
  fields: { params: 'string', publicKey: 'bytes', galoisKeys: 'bytes' },
  discloses: 'the CKKS parameter set, public key and Galois (rotation) keys of the arbiter; no secret key',
});

export const HostSampleColumns = declareMessage({
  protocol: VFL,
  type: 'HostSampleColumns',
  from: 'host',
  to: ['guest'],
  privacy: 'ciphertext',
  fields: { columns: 'bytes[]' },
  discloses: 'nothing: host feature columns of the Hessian sample rows, encrypted under the arbiter key',
});

export const HostInit = declareMessage({
  protocol: VFL,
  type: 'HostInit',
  from: 'host',
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { rows: 'int', sampleRows: 'int', gram: 'f64' },
  discloses: 'row count and the Gram matrix XᵀX of host features over the sample rows (one sum per feature pair)',
});

export const GuestInit = declareMessage({
  protocol: VFL,
  type: 'GuestInit',
  from: 'guest',
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { rows: 'int', sampleRows: 'int', eventRate: 'number', gram: 'f64', cross: 'bytes[]' },
  discloses:
    'row count, training event rate, the Gram matrix of guest features over the sample rows, and (after decryption) the guest×host cross Gram over the same rows',
});

export const RoundStart = declareMessage({
  protocol: VFL,
  type: 'RoundStart',
  from: 'arbiter',
  to: ['host'],
  privacy: 'metadata',
  fields: {},
  discloses: 'that a new round starts',
});

export const HostBasis = declareMessage({
  protocol: VFL,
  type: 'HostBasis',
  from: 'host',
  to: ['guest'],
  privacy: 'ciphertext',
  fields: { centre: 'number', halfWidth: 'number', basis: 'bytes[][]' },
  discloses:
    'the mean and a multiple of the standard deviation of the host partial logits (two aggregates); the per-enterprise Chebyshev basis stays encrypted under the arbiter key',
});

export const Residual = declareMessage({
  protocol: VFL,
  type: 'Residual',
  from: 'guest',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { chunks: 'bytes[]' },
  discloses: 'nothing: per-enterprise residuals σ(z) − y encrypted under the arbiter key',
});

export const GuestGradient = declareMessage({
  protocol: VFL,
  type: 'GuestGradient',
  from: 'guest',
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { gradient: 'bytes' },
  discloses: 'after decryption, the gradient of the objective for the guest weights (one sum over all rows per weight)',
});

export const HostGradient = declareMessage({
  protocol: VFL,
  type: 'HostGradient',
  from: 'host',
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { gradient: 'bytes' },
  discloses: 'after decryption, the gradient of the objective for the host weights (one sum over all rows per weight)',
});

export const Update = declareMessage({
  protocol: VFL,
  type: 'Update',
  from: 'arbiter',
  to: ['guest', 'host'],
  privacy: 'model',
  fields: { step: 'f64' },
  discloses: "the BFGS step for the receiver's own weights only",
});

export const Finished = declareMessage({
  protocol: VFL,
  type: 'Finished',
  from: 'arbiter',
  to: ['guest', 'host'],
  privacy: 'metadata',
  fields: { converged: 'boolean', iterations: 'int', gradientNorm: 'number' },
  discloses: 'whether training converged, the iteration count and the final gradient norm',
});
