/** The job factory a node's runtime is given: node-side and coordinator-side jobs on this node's store. */
import { CoordinatorJob } from './coordinator-job.ts';
import { NodeJob, type NodeJobDeps } from './node-job.ts';
import type { JobFactory } from './run.ts';

/** `blinder` is required on party nodes (a coordinator never builds a node job). */
export function jobFactory(deps: Omit<NodeJobDeps, 'blinder'> & { readonly blinder?: NodeJobDeps['blinder'] | undefined }): JobFactory {
  return {
    coordinator: (spec) => new CoordinatorJob(spec, deps.store),
    node: (spec, role) => new NodeJob(spec, role, { ...deps, blinder: deps.blinder! }),
  };
}
