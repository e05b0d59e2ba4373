/**
 * CSV loading into a {@link PartyTable}, refusing bad input with coded errors that name the file,
 * line, column and field, and never a value from the file: no line, header, id, label or feature
 * value appears in a message (errors reach remote callers of a node's admin API).
 *
 * Accepted: comma-separated, a header row, optional double quotes around a field ("" inside a quoted
 * field is a quote), LF or CRLF line endings, a UTF-8 byte-order mark. Missing feature values are
 * the empty string, NA, N/A, NaN, null (any case); they load as NaN. Fields may not span lines.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { IndomainError } from './errors.ts';
import type { PartyTable } from './table.ts';
import { usccProblem } from './uscc.ts';

export interface LoadOptions {
  /** Name of the id column (required). */
  idColumn: string;
  /** Name of the 0/1 label column; only the label holder has one. */
  labelColumn?: string;
  /** Ids are Unified Social Credit Codes: validate the GB 32100-2015 check character. */
  idFormat?: 'string' | 'uscc';
  /** Columns to ignore entirely. */
  exclude?: readonly string[];
}

const MISSING = new Set(['', 'na', 'n/a', 'nan', 'null']);

/** Load a CSV file (a regular file; `name` names it in errors). */
export function loadCsv(path: string, options: LoadOptions, name = path): PartyTable {
  return parseCsv(readRegularFile(path, name), options, name);
}

/** Default largest data file read (512 MiB): server nodes pass their configured limit. */
export const MAX_DATA_FILE_BYTES = 512 * 1024 * 1024;

/** A data file's text and its fingerprint: the SHA-256 (hex) of exactly the bytes parsed. */
export interface FileContent {
  readonly text: string;
  readonly sha256: string;
}

/**
 * The text of a regular file. Opened without blocking (a FIFO does not hang the caller) and
 * checked on the open descriptor: a directory, device, FIFO or socket is refused. Errors name the
 * file as `name` and give the system's error code only.
 */
export function readRegularFile(path: string, name = path): string {
  return readFingerprinted(path, name).text;
}

/** {@link readRegularFile} with the SHA-256 of the bytes read, hashed as they are read; at most `maxBytes`. */
export function readFingerprinted(path: string, name = path, maxBytes = MAX_DATA_FILE_BYTES): FileContent {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new IndomainError('DATA_FILE_UNREADABLE', (e as NodeJS.ErrnoException).code, { file: name });
  }
  try {
    if (!fstatSync(fd).isFile()) throw new IndomainError('DATA_FILE_UNREADABLE', 'not a regular file', { file: name });
    return readOpenFile(fd, name, maxBytes);
  } catch (e) {
    if (e instanceof IndomainError) throw e;
    throw new IndomainError('DATA_FILE_UNREADABLE', (e as NodeJS.ErrnoException).code, { file: name });
  } finally {
    closeSync(fd);
  }
}

/**
 * Read an open regular file in 1 MiB chunks, hashing each: refused (DATA_FILE_TOO_LARGE) before
 * reading if its size is over `maxBytes`, and as soon as it grows past it while being read.
 */
export function readOpenFile(fd: number, name: string, maxBytes: number): FileContent {
  const size = fstatSync(fd).size;
  const tooLarge = () => new IndomainError('DATA_FILE_TOO_LARGE', `more than ${maxBytes} bytes`, { file: name });
  if (size > maxBytes) throw tooLarge();
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(1024 * 1024);
    const n = readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) break;
    total += n;
    if (total > maxBytes) throw tooLarge();
    hash.update(chunk.subarray(0, n));
    chunks.push(chunk.subarray(0, n));
  }
  return { text: Buffer.concat(chunks, total).toString('utf8'), sha256: hash.digest('hex') };
}

/** Parse CSV text; `source` names it in errors. */
export function parseCsv(text: string, options: LoadOptions, source = '<input>'): PartyTable {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n');
  // Drop one trailing empty line (file ends with a newline).
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0 || lines[0]!.replace(/\r$/, '').trim() === '') {
    throw new IndomainError('DATA_EMPTY_FILE', undefined, { file: source, line: 1 });
  }
  const header = splitLine(lines[0]!, source, 1).map((h) => h.trim());
  const seen = new Map<string, number>();
  header.forEach((h, j) => {
    if (seen.has(h)) {
      throw new IndomainError('DATA_DUPLICATE_COLUMN', `also column ${seen.get(h)! + 1}`, {
        file: source,
        line: 1,
        column: j + 1,
        field: h,
      });
    }
    seen.set(h, j);
  });
  const idIdx = header.indexOf(options.idColumn);
  if (idIdx < 0) {
    throw new IndomainError('DATA_MISSING_ID_COLUMN', `none of the ${header.length} columns is named as the id column`, {
      file: source,
      line: 1,
      field: options.idColumn,
    });
  }
  let labelIdx = -1;
  if (options.labelColumn !== undefined) {
    labelIdx = header.indexOf(options.labelColumn);
    if (labelIdx < 0) {
      throw new IndomainError(
        'DATA_MISSING_LABEL_COLUMN',
        `none of the ${header.length} columns is named as the label column`,
        { file: source, line: 1, field: options.labelColumn },
      );
    }
  }
  const excluded = new Set(options.exclude ?? []);
  const featureIdx: number[] = [];
  header.forEach((h, j) => {
    if (j !== idIdx && j !== labelIdx && !excluded.has(h)) featureIdx.push(j);
  });
  if (featureIdx.length === 0) {
    throw new IndomainError('DATA_NO_FEATURES', `all ${header.length} columns are the id, the label or excluded`, {
      file: source,
      line: 1,
    });
  }
  // Count data lines (blank lines are not allowed inside the data: they are ragged rows).
  const n = lines.length - 1;
  if (n === 0) throw new IndomainError('DATA_NO_ROWS', undefined, { file: source, line: 2 });

  const ids = new Array<string>(n);
  const label = labelIdx >= 0 ? new Uint8Array(n) : undefined;
  const features = featureIdx.map(() => new Float64Array(n));
  const idRow = new Map<string, number>();
  const uscc = options.idFormat === 'uscc';
  const width = header.length;

  for (let i = 0; i < n; i++) {
    const lineNo = i + 2;
    const fields = splitLine(lines[i + 1]!, source, lineNo);
    if (fields.length !== width) {
      throw new IndomainError('DATA_RAGGED_ROW', `${fields.length} fields, header has ${width}`, {
        file: source,
        line: lineNo,
      });
    }
    const id = fields[idIdx]!.trim();
    const idAt = { file: source, line: lineNo, column: idIdx + 1, field: options.idColumn };
    if (id === '') throw new IndomainError('DATA_EMPTY_ID', undefined, idAt);
    const first = idRow.get(id);
    if (first !== undefined) {
      throw new IndomainError('DATA_DUPLICATE_ID', `first on line ${first + 2}`, idAt);
    }
    if (uscc) {
      const problem = usccProblem(id);
      if (problem) throw new IndomainError('DATA_BAD_USCC', problem, idAt);
    }
    idRow.set(id, i);
    ids[i] = id;
    if (label) {
      const raw = fields[labelIdx]!.trim();
      const v = raw === '1' || raw === '1.0' ? 1 : raw === '0' || raw === '0.0' ? 0 : -1;
      if (v < 0) {
        throw new IndomainError('DATA_BAD_LABEL', raw === '' ? 'empty' : undefined, {
          file: source,
          line: lineNo,
          column: labelIdx + 1,
          field: options.labelColumn!,
        });
      }
      label[i] = v;
    }
    for (let j = 0; j < featureIdx.length; j++) {
      const col = featureIdx[j]!;
      const raw = fields[col]!.trim();
      let v: number;
      if (MISSING.has(raw.toLowerCase())) v = Number.NaN;
      else {
        v = Number(raw);
        if (!Number.isFinite(v)) {
          throw new IndomainError('DATA_NON_NUMERIC', undefined, {
            file: source,
            line: lineNo,
            column: col + 1,
            field: header[col]!,
          });
        }
      }
      features[j]![i] = v;
    }
  }
  return {
    source,
    idColumn: options.idColumn,
    ids,
    ...(label ? { label, labelColumn: options.labelColumn! } : {}),
    featureNames: featureIdx.map((j) => header[j]!),
    features,
  };
}

/** Split CSV text into rows of string fields (quotes handled; a trailing newline dropped). */
export function csvRows(text: string, source = '<input>'): string[][] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l, i) => splitLine(l, source, i + 1));
}

/** Split one CSV line into fields, honouring double quotes. */
function splitLine(line: string, source: string, lineNo: number): string[] {
  if (line.endsWith('\r')) line = line.slice(0, -1);
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= line.length) {
          throw new IndomainError('DATA_UNTERMINATED_QUOTE', undefined, {
            file: source,
            line: lineNo,
            column: out.length + 1,
          });
        }
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += line[i];
        i++;
      }
      out.push(value);
      // Skip to the next separator (anything between the closing quote and the comma is kept out).
      const next = line.indexOf(',', i);
      if (next < 0) break;
      i = next + 1;
      if (i === line.length) out.push('');
    } else {
      const next = line.indexOf(',', i);
      if (next < 0) {
        out.push(line.slice(i));
        break;
      }
      out.push(line.slice(i, next));
      i = next + 1;
      if (i === line.length) out.push('');
    }
  }
  return out;
}
