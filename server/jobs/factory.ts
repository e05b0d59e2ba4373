/** The job factory a node's runtime is given: node-side and coordinator-side jobs on this node's store. */
import { CoordinatorJob } from './coordinator-job.ts';
import { ConsortiumBankJob } from './consortium-bank-job.ts';
import { bankIdentities, ConsortiumCoordinatorJob } from './consortium-job.ts';
import { NodeJob, type NodeJobDeps } from './node-job.ts';
import type { JobFactory } from './run.ts';
import { IndomainError } from '../../engine/errors.ts';

/**
 * `blinder` is required on party nodes (a coordinator never builds a node job). Consortium jobs
 * take each bank's identity key from the pinned peers (`peerKey`) and sign with this node's (`sign`).
 */
export function jobFactory(
  deps: Omit<NodeJobDeps, 'blinder'> & {
    readonly blinder?: NodeJobDeps['blinder'] | undefined;
    readonly peerKey?: (node: string) => Uint8Array | undefined;
    readonly sign?: (data: Uint8Array) => Uint8Array;
  },
): JobFactory {
  const noKeys = () => {
    throw new IndomainError('SRV_INTERNAL', 'consortium jobs need the pinned peers and this node\'s identity');
  };
  return {
    coordinator: (spec) => new CoordinatorJob(spec, deps.store),
    node: (spec, role) => new NodeJob(spec, role, { ...deps, blinder: deps.blinder! }),
    consortiumCoordinator: (spec) => new ConsortiumCoordinatorJob(spec, bankIdentities(spec, deps.peerKey ?? noKeys)),
    consortiumBank: (spec, role) => new ConsortiumBankJob(spec, role, { store: deps.store, sign: deps.sign ?? noKeys, identities: bankIdentities(spec, deps.peerKey ?? noKeys) }),
  };
}
