// api.js - the console's one door to the engine's REST API. The session cookie (HttpOnly, set by
// POST /api/session) authenticates every call; the page never holds the token. An administrator's
// chosen tenant travels as X-Tenant-ID. Errors become ApiError with the envelope's readable
// message, never raw JSON.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details ?? null;
  }
}

const state = { tenant: null, onUnauthorized: null };

/** The tenant an administrator acts for (null: the engine's default). */
export function setTenant(t) {
  state.tenant = t || null;
}
export function currentTenant() {
  return state.tenant;
}
/** Called when a request answers 401 (session expired or revoked): the app shows the login. */
export function onUnauthorized(fn) {
  state.onUnauthorized = fn;
}

/**
 * api('GET', '/api/sync/history?limit=20') -> parsed JSON (null for 204).
 * body: an object (sent as JSON) or undefined. opts.tenant: false to send no X-Tenant-ID.
 */
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (state.tenant && opts.tenant !== false) headers['X-Tenant-ID'] = state.tenant;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: opts.signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The engine did not answer. Is tallysync serve running?');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text !== '') {
    try {
      data = JSON.parse(text);
    } catch {
      if (res.ok) return text; // NDJSON and other non-JSON answers
    }
  }
  if (res.ok) return data;
  const env = data && data.error ? data.error : null;
  const err = new ApiError(
    res.status,
    env?.code ?? `http_${res.status}`,
    env?.message ?? `The engine answered ${res.status} ${res.statusText || ''}`.trim(),
    env?.details,
  );
  if (res.status === 401 && state.onUnauthorized && !opts.noRedirect) state.onUnauthorized(err);
  throw err;
}

/** Query string from an object, leaving out empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}
