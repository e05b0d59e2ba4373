/** True when the module at `url` is the process's entry point (run directly, not imported). */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export function isMain(url: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && pathToFileURL(resolve(entry)).href === url;
}
