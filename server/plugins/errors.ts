/**
 * How a node answers a failure: always `{ code, message }` with the code's HTTP status (engine/errors.ts),
 * never a stack trace. Schema refusals name the field (`body/name`, `querystring/model`), never
 * the value; framework errors map to the project's codes; anything else is SRV_INTERNAL, logged.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { IndomainError, isIndomainError } from '../../engine/errors.ts';

/** The Fastify option `schemaErrorFormatter`: the first refusal, coded, with its field path. */
export function schemaError(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const e = errors[0];
  const path = e ? `${dataVar}${e.instancePath}` : dataVar;
  const params = (e?.params ?? {}) as { missingProperty?: unknown; additionalProperty?: unknown };
  // The named field: the missing one, the undeclared one (the caller's own key, cut short), or the one refused.
  const named = e?.keyword === 'required' ? params.missingProperty : e?.keyword === 'additionalProperties' ? params.additionalProperty : undefined;
  const field = named === undefined ? path : `${path}/${String(named).slice(0, 64)}`;
  // The schema's words only: ajv's messages quote the schema, never the value.
  const why = e?.keyword === 'required' ? 'is required' : e?.keyword === 'additionalProperties' ? 'is not a declared field' : (e?.message ?? 'is invalid');
  return new IndomainError('SRV_BAD_REQUEST', why, { field });
}

/**
 * The Fastify option `frameworkErrors`: what the router refuses before any route or hook (a path
 * that does not decode, a path parameter over the length limit), coded, without echoing the path.
 */
export function frameworkError(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const e = new IndomainError('SRV_BAD_REQUEST', err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the request path is not valid');
  void reply.status(e.status).send(e.toJSON());
}

/** The error and not-found handlers of the root instance (children inherit them). */
export function codedErrors(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    let e: IndomainError;
    if (isIndomainError(err)) e = err;
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new IndomainError('SRV_BODY_TOO_LARGE', `more than ${bodyLimit} bytes`);
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
      e = new IndomainError('SRV_BAD_REQUEST', err.message);
    else if (err.code === 'FST_ERR_VALIDATION') e = new IndomainError('SRV_BAD_REQUEST', err.message);
    else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) e = new IndomainError('SRV_BAD_REQUEST', err.code ?? 'bad request');
    else e = new IndomainError('SRV_INTERNAL', 'see the node log');
    if (e.code === 'SRV_INTERNAL') app.log.error(err);
    void reply.status(e.status).send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    // The caller's own method and path, without the query, cut short: nothing of the node's.
    const path = req.url.split('?')[0]!.slice(0, 200);
    const e = new IndomainError('SRV_NOT_FOUND', `no route ${req.method} ${path}`);
    void reply.status(e.status).send(e.toJSON());
  });
}

/**
 * The Fastify option `clientErrorHandler`: what Node's HTTP parser refuses before Fastify sees a
 * request (a request not received within the request timeout, a URL and headers over Node's limit,
 * a malformed request line), coded like every other answer, then the connection is closed.
 */
export function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new IndomainError('SRV_TIMEOUT')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new IndomainError('SRV_HEADERS_TOO_LARGE')
        : new IndomainError('SRV_BAD_REQUEST', 'the request is not valid HTTP');
  const body = JSON.stringify(e.toJSON());
  if (socket.writable) socket.write(`HTTP/1.1 ${e.status} ${e.status === 408 ? 'Request Timeout' : e.status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  socket.destroy();
}

/**
 * A request must arrive whole within `ms` of its headers (Node's own `requestTimeout` is not
 * enforced once the request is handed to the application, measured on Node 20): otherwise 408
 * SRV_TIMEOUT and the connection is closed, whatever route it was for. The headers themselves are
 * bounded by the server's `headersTimeout`.
 */
export function requestDeadline(app: FastifyInstance, ms: number): void {
  app.server.headersTimeout = Math.min(app.server.headersTimeout || ms, ms);
  app.addHook('onRequest', async (req, reply) => {
    const raw = req.raw;
    if (raw.complete) return;
    const timer = setTimeout(() => {
      if (raw.complete || reply.raw.headersSent) return;
      const body = JSON.stringify(new IndomainError('SRV_TIMEOUT', `the request was not received whole within ${ms / 1000} s`).toJSON());
      reply.raw.writeHead(408, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
      reply.raw.end(body, () => raw.socket.destroy());
    }, ms);
    timer.unref();
    raw.once('end', () => clearTimeout(timer));
    reply.raw.once('close', () => clearTimeout(timer));
  });
}
