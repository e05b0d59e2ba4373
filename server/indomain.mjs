#!/usr/bin/env node
// The `indomain` package bin: registers tsx's loader, then runs the TypeScript CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
const { reportFailure } = await import('../benchmarks/cli.ts');
main(process.argv.slice(2)).catch((e) => reportFailure(e));
