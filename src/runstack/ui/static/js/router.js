// The view state lives in the URL fragment: #/path?key=value. Back and forward replay it.

export function current() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const at = raw.indexOf('?');
  const path = at < 0 ? raw : raw.slice(0, at);
  const params = new URLSearchParams(at < 0 ? '' : raw.slice(at + 1));
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return {path: path || '/', parts, params};
}

/** '#/path?query' for a path and a params object (arrays repeat the key). */
export function href(path, params = {}) {
  const search = params instanceof URLSearchParams ? params : toSearch(params);
  const text = search.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}

function toSearch(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '' || value === false) continue;
    for (const one of Array.isArray(value) ? value : [value]) search.append(key, String(one));
  }
  return search;
}

let onChange = () => {};

export function listen(handler) {
  onChange = handler;
  window.addEventListener('hashchange', () => onChange(current()));
}

/** Goes to a view: a new history entry, or a replaced one (typing in a search box). */
export function go(path, params = {}, {replace = false} = {}) {
  const target = href(path, params);
  if (target === location.hash) return;
  if (replace) {
    history.replaceState(history.state, '', target);
    onChange(current());
  } else {
    location.hash = target.slice(1);
  }
}

/** Changes some parameters of the current view; null or '' removes one. */
export function setParams(updates, options = {}) {
  const {path, params} = current();
  for (const [key, value] of Object.entries(updates)) {
    params.delete(key);
    if (value === null || value === undefined || value === '' || value === false) continue;
    for (const one of Array.isArray(value) ? value : [value]) params.append(key, String(one));
  }
  go(path, params, options);
}
