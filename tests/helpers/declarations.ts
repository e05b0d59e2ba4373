/**
 * Every message declaration of the code base: `server/messages.ts` and each
 * `protocols/<name>/messages.ts` found on disk are loaded here, so a test that enumerates the
 * declarations (tests/attacks/role-spoofing.test.ts, tests/server/fuzz.test.ts) covers a new
 * protocol without a hand-kept import list, and does not depend on which modules its other
 * imports happen to pull in.
 */
import { existsSync, readdirSync } from 'node:fs';
import { declaredMessages, type MessageSpec } from '../../protocols/message.ts';

const root = new URL('../../', import.meta.url);

/** The modules that declare messages, relative to the repository root. */
export const DECLARATION_MODULES: readonly string[] = [
  'server/messages.ts',
  ...readdirSync(new URL('protocols/', root), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(new URL(`protocols/${d.name}/messages.ts`, root)))
    .map((d) => `protocols/${d.name}/messages.ts`)
    .sort(),
];

for (const m of DECLARATION_MODULES) await import(`../../${m}`);

/** Every declared message, every declaration module loaded. */
export function allDeclarations(): MessageSpec[] {
  return declaredMessages();
}

/** The protocols of every declaration module (each module's `protocol` names). */
export function declaredProtocols(): Set<string> {
  return new Set(allDeclarations().map((m) => m.protocol));
}
