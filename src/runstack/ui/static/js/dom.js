// Building DOM nodes without markup strings: text is always set as text, never parsed.

/** h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child) -> Element. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (name === 'checked' || name === 'value' || name === 'disabled' || name === 'hidden') {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends strings (as text nodes), nodes and nested arrays; skips null and false. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replaces el's children. */
export function fill(el, ...children) {
  return append(clear(el), children);
}

/** Calls fn after ms without another call (for search boxes). */
export function debounce(fn, ms = 250) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A message box for an error from the server or the network. */
export function errorBox(error) {
  const code = error && error.code ? `${error.code}: ` : '';
  return h('div', {class: 'error', role: 'alert'}, code + (error && error.message ? error.message : String(error)));
}

export function emptyState(...lines) {
  return h('div', {class: 'empty'}, lines.map((line) => h('p', {}, line)));
}
