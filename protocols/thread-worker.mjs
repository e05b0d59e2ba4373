// Boots a protocol party in a worker thread (protocols/threads.ts): Node 20 does not pass the
// parent's TypeScript loader to workers, so register tsx here, then load the TypeScript side.
import { register } from 'tsx/esm/api';

register();
await import('./thread-party.ts');
