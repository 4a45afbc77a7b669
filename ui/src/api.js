// Talking to rtml ui's JSON API: every failure becomes an ApiError with a
// message a person can act on.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;  // HTTP status, or 0 when the server could not be reached
  }
}

async function request(url) {
  let res;
  try {
    res = await fetch(url, { headers: { Accept: 'application/json' } });
  } catch (e) {
    throw new ApiError(0, 'cannot reach rtml ui: is it still running? (' + e.message + ')');
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = await res.json();
      if (body && body.error) message = body.error;
    } catch (_) { /* not JSON: keep the status line */ }
    throw new ApiError(res.status, message);
  }
  return res;
}

export async function getJSON(url) {
  const res = await request(url);
  try {
    return await res.json();
  } catch (e) {
    throw new ApiError(res.status, `${url} did not answer JSON: ${e.message}`);
  }
}

export async function getText(url) {
  return (await request(url)).text();
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? '?' + s : '';
}

// Facets change only when runs are added: fetched once per page load.
let facetsPromise = null;
export function facets() {
  if (!facetsPromise) facetsPromise = getJSON('/api/facets').catch((e) => { facetsPromise = null; throw e; });
  return facetsPromise;
}

export const runs = (params) => getJSON('/api/runs' + query(params));
export const run = (id) => getJSON(`/api/runs/${encodeURIComponent(id)}`);
export const compare = (a, b) => getJSON('/api/compare' + query({ a, b }));
export const profileJSON = (id, kind) => getJSON(`/api/runs/${encodeURIComponent(id)}/profiles/${kind}`);
export const profileText = (id, kind) => getText(`/api/runs/${encodeURIComponent(id)}/profiles/${kind}`);
export const profileURL = (id, kind) => `/api/runs/${encodeURIComponent(id)}/profiles/${kind}`;
