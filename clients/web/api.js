// The page's REST calls (net/http_api.py): JSON in and out, a timeout, and two hooks the page
// sets: `connected(ok, why)` after every answer (or none), `signedOut(why)` on a 401.

const REQUEST_TIMEOUT_MS = 4000;

/** A failed call: `status` is the HTTP status, 0 when the server did not answer at all. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const hooks = { connected: () => {}, signedOut: () => {} };

/** `fetch(path, init)` as JSON; resolves to the body, throws ApiError for anything but 2xx. */
export async function api(path, init = {}) {
  let res;
  try {
    res = await fetch(path, {
      ...init,
      headers: { "content-type": "application/json", ...(init.headers || {}) },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    hooks.connected(false, "server unreachable");
    throw new ApiError(0, String(err));
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  const detail = body && typeof body.detail === "string" ? body.detail : res.statusText;
  if (res.status === 401) {
    hooks.connected(true);
    hooks.signedOut(detail);
    throw new ApiError(401, detail);
  }
  if (res.status >= 500) {
    hooks.connected(false, detail || `HTTP ${res.status}`);
    throw new ApiError(res.status, detail);
  }
  hooks.connected(true);
  if (!res.ok) throw new ApiError(res.status, detail || `HTTP ${res.status}`);
  if (body === null) throw new ApiError(0, "the answer could not be read (cut off?)");
  return body;
}

/** A query string of the defined values of `params`. */
export function query(params) {
  const defined = Object.entries(params).filter(([, v]) => v !== undefined && v !== null);
  return new URLSearchParams(defined).toString();
}
