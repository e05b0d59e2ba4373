// The node's API from the console: same origin, the session cookie (HttpOnly, set by the node) and
// the CSRF token (kept in memory only) on every request that changes state.
let csrf = null;

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  let r;
  try {
    r = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (e) {
    throw new ApiError('NETWORK', e instanceof Error ? e.message : String(e), 0);
  }
  const type = r.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await r.json() : await r.text();
  if (!r.ok) throw new ApiError(data?.code ?? `HTTP_${r.status}`, data?.message ?? r.statusText, r.status);
  return data;
}

/** This browser's session: { signedIn, node, role } (the CSRF token kept here when signed in). */
export async function currentSession() {
  const s = await api('GET', '/v1/console/session');
  csrf = s.signedIn ? s.csrf : null;
  return s;
}

export async function signIn(token) {
  const s = await api('POST', '/v1/console/session', { token });
  csrf = s.csrf;
  return s;
}

export async function signOut() {
  try {
    await api('DELETE', '/v1/console/session');
  } finally {
    csrf = null;
  }
}
