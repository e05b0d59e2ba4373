/**
 * A light HTTP/1.1 load generator: `connections` keep-alive sockets, each sending its next request
 * as soon as the previous response is complete (closed loop), with responses read by Content-Length.
 * It exists because the client shares this machine's two cores with the services it measures: a
 * general-purpose client (node:http, fetch) costs several times more CPU per request than this.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface LoadResult {
  seconds: number;
  latencies: number[];
  statuses: Map<number, number>;
  failures: string[];
}

/** Send `total` requests (bodies[k % n]) as POST to host:port path, `connections` at a time. */
export function closedLoop(host: string, port: number, path: string, headers: Record<string, string>, bodies: readonly string[], total: number, connections: number): Promise<LoadResult> {
  const head = (body: Buffer) =>
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n${Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}Content-Length: ${body.length}\r\n\r\n`,
    );
  const requests = bodies.map((b) => {
    const body = Buffer.from(b);
    return Buffer.concat([head(body), body]);
  });
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  let issued = 0;
  let done = 0;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const finish = () => {
      if (done === total) resolve({ seconds: (performance.now() - t0) / 1000, latencies, statuses, failures });
    };
    const open = (): void => {
      const sock: Socket = connect(port, host);
      sock.setNoDelay(true);
      let buf: Buffer = Buffer.alloc(0);
      let started = 0;
      const next = () => {
        if (issued >= total) {
          sock.end();
          return;
        }
        const k = issued++;
        started = performance.now();
        sock.write(requests[k % requests.length]!);
      };
      sock.on('connect', next);
      sock.on('data', (chunk: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const headerText = buf.toString('latin1', 0, end);
          const m = /content-length:\s*(\d+)/i.exec(headerText);
          const length = m ? Number(m[1]) : 0;
          if (buf.length < end + 4 + length) return;
          const status = Number(headerText.slice(9, 12));
          latencies.push(performance.now() - started);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status !== 200) failures.push(buf.toString('utf8', end + 4, end + 4 + length));
          buf = buf.subarray(end + 4 + length);
          done++;
          finish();
          next();
        }
      });
      sock.on('error', (e) => {
        failures.push(e.message);
        done++;
        finish();
      });
    };
    for (let c = 0; c < Math.min(connections, total); c++) open();
  });
}
