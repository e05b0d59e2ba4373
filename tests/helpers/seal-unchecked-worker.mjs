// Runs tests/helpers/seal-unchecked.ts in a worker thread: its own node-seal instance, so the
// SEAL it kills is not the test's. Node 20 does not pass the parent's TypeScript loader to
// workers, so register tsx here (as protocols/thread-worker.mjs does).
import { register } from 'tsx/esm/api';

register();
await import('./seal-unchecked.ts');
