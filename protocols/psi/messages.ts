/** Messages of ECDH private set intersection (protocol `psi`). See `protocol.ts` for the flow. */
import { declareMessage } from '../message.ts';

export const PSI = 'psi';

export const PsiRequest = declareMessage({
  protocol: PSI,
  type: 'PsiRequest',
  from: 'guest',
  to: ['host'],
  privacy: 'blinded-ids',
  fields: { blinded: 'bytes' },
  discloses: "the size of the guest's set; its ids blinded by the guest's secret scalar, in random order",
});

export const PsiResponse = declareMessage({
  protocol: PSI,
  type: 'PsiResponse',
  from: 'host',
  to: ['guest'],
  privacy: 'blinded-ids',
  fields: { doubleBlinded: 'bytes', blinded: 'bytes' },
  discloses: "the size of the host's set; the guest's blinded ids re-blinded by the host (request order) and the host's ids blinded by the host's scalar (random order)",
});

export const PsiFinish = declareMessage({
  protocol: PSI,
  type: 'PsiFinish',
  from: 'guest',
  to: ['host'],
  privacy: 'blinded-ids',
  fields: { doubleBlinded: 'bytes' },
  discloses: "the host's blinded ids re-blinded by the guest (response order): the host learns which of its ids are in the intersection",
});
