// The console's one way to the server: the public HTTP API under /v1, with the API key the user signed in with.
// The key lives in sessionStorage only (this tab, until it closes); nothing is written to localStorage or cookies.

const KEY_NAME = 'agentos.apiKey';

export const auth = {
  get key() { return sessionStorage.getItem(KEY_NAME); },
  set(key) { sessionStorage.setItem(KEY_NAME, key); },
  clear() { sessionStorage.removeItem(KEY_NAME); },
  /** The Authorization header for a request, when a key is set. */
  headers() { const key = this.key; return key ? { Authorization: `Bearer ${key}` } : {}; },
};

/** An answer that is not 2xx, with the problem details the API sends (`code` is the AgentOs error code). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code || `Http${status}`;
    this.problem = problem;
  }
}

/** Sent when the server answers 401: the app shows the sign-in form. */
export function onUnauthorized(listener) { window.addEventListener('agentos:unauthorized', listener); }

function unauthorized(error) { window.dispatchEvent(new CustomEvent('agentos:unauthorized', { detail: error })); }

/** Calls the API; returns the parsed JSON (or null for 204). Throws ApiError, or the fetch's own error. */
export async function api(method, path, body, { signal } = {}) {
  const headers = { Accept: 'application/json', ...auth.headers() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: 'no-store' });
  return read(response);
}

export async function read(response) {
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401) unauthorized(error);
    throw error;
  }
  return data;
}

/** The path of a VM: its id with each `/` written %2F, as the API wants it. */
export const vmPath = (vmId) => `/v1/vms/${encodeURIComponent(vmId)}`;

/** The path of a session. */
export const sessionPath = (vmId, sessionId) => `${vmPath(vmId)}/sessions/${encodeURIComponent(sessionId)}`;
