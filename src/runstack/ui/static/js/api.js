// The server's JSON API: runstack's UI endpoints and MLflow's REST endpoints.

const UI = '/api/2.0/runstack/ui/';
const MLFLOW = '/api/2.0/mlflow/';

export class ApiError extends Error {
  constructor(message, code, status, position) {
    super(message);
    this.code = code;
    this.status = status;
    this.position = position;
  }
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === '') continue;
    for (const one of Array.isArray(value) ? value : [value]) search.append(key, String(one));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** A request started by prefetch.js for this URL, taken once. */
function prefetched(url) {
  const early = window.runstackPrefetch;
  if (!early || early.url !== url) return null;
  window.runstackPrefetch = null;
  return early.response;
}

async function request(url, options = {}) {
  let response;
  try {
    response = await (prefetched(url) || fetch(url, {credentials: 'same-origin', ...options}));
  } catch (error) {
    throw new ApiError(`The server did not answer (${error.message}).`, 'NETWORK_ERROR', 0);
  }
  let body = null;
  const text = await response.text();
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = body && body.message ? body.message : `${response.status} ${response.statusText}`;
    const code = body && body.error_code ? body.error_code : `HTTP_${response.status}`;
    throw new ApiError(message, code, response.status, body ? body.position : undefined);
  }
  if (body === null) throw new ApiError(`The server sent no JSON for ${url}.`, 'BAD_RESPONSE', response.status);
  return body;
}

function post(url, body) {
  return request(url, {
    method: 'POST',
    // A JSON body: a cross-site form cannot send it without the server's consent (CORS).
    headers: {'Content-Type': 'application/json', 'X-Requested-With': 'runstack-ui'},
    body: JSON.stringify(body),
  });
}

export const api = {
  experiments(params) {
    return request(UI + 'experiments' + query(params));
  },
  keys(params) {
    return request(UI + 'experiments/keys' + query(params));
  },
  runsTable(body) {
    return post(UI + 'runs/table', body);
  },
  runDetail(runId) {
    return request(UI + 'runs/detail' + query({run_id: runId}));
  },
  series(params) {
    return request(UI + 'metrics/series' + query(params));
  },
  experiment(experimentId) {
    return request(MLFLOW + 'experiments/get' + query({experiment_id: experimentId}));
  },
  change(path, body) {
    return post(MLFLOW + path, body);
  },
};

/** A number from the wire, where NaN and infinities come as strings. */
export function num(value) {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  if (value === null || value === undefined) return null;
  const parsed = Number(value);
  return Number.isNaN(parsed) ? null : parsed;
}
