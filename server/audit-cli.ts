/**
 * `indomain audit verify|anchor …` (server/audit-verify.ts, server/audit-anchor.ts): arguments, the
 * files read, the printed result and the exit code (1 when verification finds anything). A reader
 * that stops early (`indomain audit verify … | head -1`) ends the command quietly.
 */
import { parseArgs } from 'node:util';
import { IndomainError } from '../engine/errors.ts';
import { anchorHeads } from './audit-anchor.ts';
import { readAnchor, readKeys } from './audit-chains.ts';
import { formatVerify, verifyAudit } from './audit-verify.ts';

const USAGE = `usage: indomain audit verify [--keys KEYS.json] [--anchor ANCHOR.json] DIR...
       indomain audit anchor --keys KEYS.json --out ANCHOR.json [--url NODE_URL]... [DIR...]`;

/** A closed pipe on stdout ends the command with the exit code it had, without a stack trace. */
function quietOnClosedPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

export async function audit(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  quietOnClosedPipe();
  if (action === 'verify') {
    const { values, positionals } = parseArgs({ args: rest, options: { keys: { type: 'string' }, anchor: { type: 'string' } }, allowPositionals: true, strict: true });
    if (positionals.length === 0) throw new IndomainError('CLI_BAD_ARGS', `audit verify needs at least one directory\n${USAGE}`);
    const keys = values.keys !== undefined ? readKeys(values.keys) : undefined;
    const anchor = values.anchor !== undefined ? readAnchor(values.anchor) : undefined;
    const r = verifyAudit(positionals, { ...(keys ? { keys } : {}), ...(anchor ? { anchor } : {}) });
    if (!keys) process.stderr.write('warning: unpinned: no --keys; chains checked under keys found beside the records\n');
    if (!anchor) process.stderr.write('warning: unanchored: no --anchor; a cut or rolled-back tail cannot be detected\n');
    process.stdout.write(formatVerify(r) + '\n');
    if (!r.ok) process.exitCode = 1;
    return;
  }
  if (action === 'anchor') {
    const { values, positionals } = parseArgs({ args: rest, options: { keys: { type: 'string' }, out: { type: 'string' }, url: { type: 'string', multiple: true } }, allowPositionals: true, strict: true });
    if (!values.keys || !values.out) throw new IndomainError('CLI_BAD_ARGS', `audit anchor needs --keys and --out\n${USAGE}`);
    const added = await anchorHeads({ keys: readKeys(values.keys), out: values.out, urls: values.url ?? [], dirs: positionals });
    for (const h of added) process.stdout.write(`anchored ${h.node} #${h.seq} (${new Date(h.at).toISOString()}) from ${h.source}\n`);
    return;
  }
  throw new IndomainError('CLI_BAD_ARGS', USAGE);
}
