/**
 * A light HTTP/1.1 load generator: keep-alive sockets, each sending its next request as soon as
 * the previous response is complete (closed loop), with responses read by Content-Length.
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

/**
 * `connections` keep-alive sockets to host:port, opened once and reused by every {@link LoadClient.run}
 * (as a front end keeps its connections: the measured run does not pay for 64 handshakes at once).
 */
export async function openLoad(host: string, port: number, path: string, headers: Record<string, string>, bodies: readonly string[], connections: number): Promise<LoadClient> {
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
  const sockets = await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const sock = connect(port, host, () => resolve(sock));
          sock.setNoDelay(true);
          sock.once('error', reject);
        }),
    ),
  );
  return {
    run: (total) => closedLoop(sockets, requests, total),
    close: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

export interface LoadClient {
  /** Send `total` requests (bodies in turn), each socket its next as soon as its last is answered. */
  run(total: number): Promise<LoadResult>;
  close(): void;
}

function closedLoop(sockets: readonly Socket[], requests: readonly Buffer[], total: number): Promise<LoadResult> {
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
    for (const sock of sockets) {
      sock.removeAllListeners('data');
      sock.removeAllListeners('error');
      let buf: Buffer = Buffer.alloc(0);
      let started = 0;
      const next = () => {
        if (issued >= total) return;
        const k = issued++;
        started = performance.now();
        sock.write(requests[k % requests.length]!);
      };
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
      next();
    }
  });
}
