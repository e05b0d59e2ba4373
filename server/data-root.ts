/**
 * A node's data root: the one directory its admin API may read data files from (dataset
 * registration, the authorisation import). A requested path is resolved against the root; anything
 * that is not a regular file whose real path lies under the root's real path is refused with ONE
 * answer, DATA_PATH_REFUSED, before the file is opened, whatever the reason (missing, a directory,
 * outside the root, a symlink leading out of it, /proc, a device, a FIFO, a socket, unreadable), so
 * the answer is no oracle for what exists on the node. The file is then opened without following a
 * symlink and without blocking, and must be the same inode that was checked (a file swapped in
 * between check and open is refused too), and no larger than the node's limit (DATA_FILE_TOO_LARGE,
 * checked before reading). Its bytes are hashed as they are read (SHA-256: the dataset's
 * fingerprint). Errors afterwards name the file relative to the root.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, realpathSync, statSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { MAX_DATA_FILE_BYTES, readOpenFile, type FileContent } from '../engine/csv.ts';
import { IndomainError } from '../engine/errors.ts';

/** A file read under a data root: its real path, its name relative to the root, and its text. */
export interface DataFile {
  readonly path: string;
  readonly name: string;
  readonly text: string;
  /** SHA-256 (hex) of the bytes read: the dataset's fingerprint. */
  readonly sha256: string;
}

const refused = () => new IndomainError('DATA_PATH_REFUSED', undefined, { field: 'path' });

export class DataRoot {
  /** The root's real path. */
  readonly dir: string;

  /** `dir` must be an existing directory (the caller creates a default one); files over `maxBytes` are DATA_FILE_TOO_LARGE. */
  constructor(
    dir: string,
    readonly maxBytes = MAX_DATA_FILE_BYTES,
  ) {
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      throw new IndomainError('CLI_BAD_ARGS', `the data root ${dir} does not exist`);
    }
    if (!statSync(real).isDirectory()) throw new IndomainError('CLI_BAD_ARGS', `the data root ${dir} is not a directory`);
    this.dir = real;
  }

  /** The real path and root-relative name of a requested file, or DATA_PATH_REFUSED. Opens nothing. */
  resolve(requested: string): { path: string; name: string; ino: number; dev: number } {
    if (typeof requested !== 'string' || requested === '' || requested.includes('\0')) throw refused();
    let real: string;
    try {
      real = realpathSync(resolve(this.dir, requested));
    } catch {
      throw refused();
    }
    if (!real.startsWith(this.dir + sep)) throw refused();
    let st;
    try {
      st = lstatSync(real);
    } catch {
      throw refused();
    }
    if (!st.isFile()) throw refused();
    return { path: real, name: relative(this.dir, real), ino: st.ino, dev: st.dev };
  }

  /** Read a requested file under the root (see the module header), or DATA_PATH_REFUSED. */
  read(requested: string): DataFile {
    const f = this.resolve(requested);
    let fd: number;
    try {
      fd = openSync(f.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      throw refused();
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.ino !== f.ino || st.dev !== f.dev) throw refused();
      let content: FileContent;
      try {
        content = readOpenFile(fd, f.name, this.maxBytes);
      } catch (e) {
        if (e instanceof IndomainError && e.code === 'DATA_FILE_TOO_LARGE') throw e;
        throw refused();
      }
      return { path: f.path, name: f.name, ...content };
    } finally {
      closeSync(fd);
    }
  }
}
