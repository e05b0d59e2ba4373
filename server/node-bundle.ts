/**
 * The node program compiled once, for starting node processes without a TypeScript loader.
 *
 * `node --import tsx server/main.ts` spends ~1.5 s of CPU before the node listens, nearly all of
 * it in tsx's module hooks (on Node 20 they run in a separate thread, one round trip per resolve
 * and load of each of the ~120 modules and of every file of fastify), not in the node's own work.
 * A restart of the platform after 20 jobs cost 2.3 s of CPU, 2.0 s of it this start-up.
 * {@link nodeBundle} compiles server/main.ts and what it imports into one ES module (packages stay
 * imports of node_modules) with esbuild; a process started from it (`node BUNDLE ARGS`) loads it
 * with Node's own loader and is the same program: every `import.meta.url` keeps the URL of the
 * source file it is written in, so files found beside the sources (the PSI worker, the console's
 * static files) are found as before.
 *
 * The bundle is built in the process that starts nodes (the cluster, `indomain node`), from the
 * sources as they are now, so an edited source never runs stale; its name is the hash of its
 * content, so concurrent builders (parallel test files) write the same file or different files,
 * never half of one.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Under node_modules: one per install, never committed, removed with the packages. */
const OUT_DIR = join(ROOT, 'node_modules', '.cache', 'indomain');

/** Every `import.meta.url` in a source becomes that source's own file URL, as a string literal. */
const sourceUrls: Plugin = {
  name: 'source-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};

let built: Promise<string> | undefined;

/**
 * The path of the compiled node program (built on the first call of this process). Run it as
 * `node [NODE_V8_FLAGS] PATH ARGS`: the arguments of server/main.ts.
 */
export function nodeBundle(): Promise<string> {
  return (built ??= compile());
}

async function compile(): Promise<string> {
  const entry = `import { runNode } from './server/main.ts';\nrunNode(process.argv.slice(2));\n`;
  const r = await build({
    stdin: { contents: entry, resolveDir: ROOT, sourcefile: 'node-entry.mjs', loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // Names as written: nothing in a node reads a function's or class's name, but an error's may be.
    keepNames: true,
    write: false,
    logLevel: 'silent',
    plugins: [sourceUrls],
  });
  const code = r.outputFiles[0]!.contents;
  const file = join(OUT_DIR, `node-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(OUT_DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, file);
  }
  return file;
}
