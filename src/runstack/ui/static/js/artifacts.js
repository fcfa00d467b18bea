// The run page's artifacts: a tree of the run's files (folders listed when first opened), a
// download link per file, and a preview of the chosen one. Previews never interpret markup:
// text is set as text, JSON is re-indented text, CSV becomes table cells, Markdown goes
// through markdown.js (no raw HTML), images are <img> elements; HTML and SVG are not shown.

import {api, artifactUrl} from './api.js';
import {errorBox, fill, h} from './dom.js';
import {renderMarkdown} from './markdown.js';

const TEXT_BYTES = 100 * 1024;
const WHOLE_BYTES = 1024 * 1024; // JSON and Markdown are read whole up to this size
const CSV_BYTES = 512 * 1024;
const CSV_ROWS = 200;
const IMAGE_BYTES = 20 * 1024 * 1024;

const IMAGES = new Set(['png', 'jpg', 'jpeg', 'gif', 'webp', 'bmp']);
const TEXTS = new Set(['txt', 'log', 'py', 'yaml', 'yml', 'toml', 'ini', 'cfg', 'conf', 'sh',
  'out', 'err', 'rst', 'r', 'sql', 'js', 'ts', 'java', 'c', 'h', 'cpp', 'go', 'rs', 'ipynb',
  'jsonl', 'ndjson', 'xml', 'mlmodel', 'env', 'requirements', 'lock', 'diff', 'patch']);
const ACTIVE = new Set(['html', 'htm', 'xhtml', 'svg', 'svgz', 'xht', 'mht', 'mhtml', 'pdf']);
const PLAIN_NAMES = new Set(['MLmodel', 'Dockerfile', 'Makefile', 'LICENSE', 'README']);

/** What kind of preview a file name gets. */
export function previewKind(name) {
  const base = name.split('/').pop();
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
  if (ACTIVE.has(ext)) return 'none';
  if (IMAGES.has(ext)) return 'image';
  if (ext === 'json') return 'json';
  if (ext === 'csv' || ext === 'tsv') return 'csv';
  if (ext === 'md' || ext === 'markdown') return 'markdown';
  if (TEXTS.has(ext) || PLAIN_NAMES.has(base)) return 'text';
  return 'none';
}

export function fmtSize(bytes) {
  if (bytes === null || bytes === undefined) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit ? `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}` : `${value} B`;
}

/** Rows of a CSV (or TSV) text: quoted fields, doubled quotes and newlines in quotes. */
export function parseCsv(text, delimiter = ',', maxRows = CSV_ROWS) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
    } else if (c === delimiter) {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += c;
    }
  }
  if ((field || row.length) && rows.length < maxRows) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

async function fetchStart(runId, path, maxBytes) {
  const response = await fetch(artifactUrl(runId, path, maxBytes), {credentials: 'same-origin'});
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && body.message) message = body.message;
    } catch {
      // not JSON: keep the status line
    }
    throw new Error(message);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  const total = Number(response.headers.get('X-Artifact-Size') || bytes.length);
  return {text: new TextDecoder('utf-8').decode(bytes), truncated: total > bytes.length, total};
}

function cutNote(file, shown) {
  return h('p', {class: 'muted small'}, `Showing the first ${fmtSize(shown)} of ${fmtSize(file.file_size)}; download the file for the rest.`);
}

async function previewBody(runId, file) {
  const kind = previewKind(file.path);
  const size = file.file_size || 0;
  if (kind === 'none') {
    return h('p', {class: 'muted'}, 'No preview for this kind of file; download it to open it.');
  }
  if (kind === 'image') {
    if (size > IMAGE_BYTES) return h('p', {class: 'muted'}, `Too large to preview (${fmtSize(size)}).`);
    return h('img', {class: 'artifact-image', src: artifactUrl(runId, file.path), alt: file.path});
  }
  if (kind === 'csv') {
    const {text, truncated} = await fetchStart(runId, file.path, CSV_BYTES);
    let body = text;
    if (truncated) body = body.slice(0, body.lastIndexOf('\n') + 1); // no half row
    const rows = parseCsv(body, /\.tsv$/i.test(file.path) ? '\t' : ',');
    if (!rows.length) return h('p', {class: 'muted'}, 'An empty table.');
    const [header, ...rest] = rows;
    return [
      h('div', {class: 'table-wrap artifact-table'}, h('table', {class: 'grid compact'},
        h('thead', {}, h('tr', {}, header.map((cell) => h('th', {scope: 'col'}, cell)))),
        h('tbody', {}, rest.map((cells) => h('tr', {}, cells.map((cell) => h('td', {}, cell))))))),
      rows.length >= CSV_ROWS || truncated ? h('p', {class: 'muted small'}, `The first ${rest.length} rows.`) : null,
    ];
  }
  if (kind === 'json' || kind === 'markdown') {
    const limit = size > WHOLE_BYTES ? TEXT_BYTES : WHOLE_BYTES;
    const {text, truncated} = await fetchStart(runId, file.path, limit);
    if (!truncated && kind === 'markdown') return h('div', {class: 'markdown'}, renderMarkdown(text));
    if (!truncated) {
      try {
        return h('pre', {class: 'artifact-text'}, JSON.stringify(JSON.parse(text), null, 2));
      } catch {
        // not valid JSON: shown as it is
      }
    }
    return [truncated ? cutNote(file, limit) : null, h('pre', {class: 'artifact-text'}, text)];
  }
  const {text, truncated} = await fetchStart(runId, file.path, TEXT_BYTES);
  return [truncated ? cutNote(file, TEXT_BYTES) : null, h('pre', {class: 'artifact-text'}, text)];
}

/** The Artifacts section of run ``runId``: {element, refresh}. ``refresh()`` reloads the
 * listing quietly (the page calls it while the run is RUNNING): open folders stay open, the
 * chosen file stays chosen, and a folder whose listing did not change is not redrawn. */
export function artifactsSection(runId) {
  const tree = h('div', {class: 'artifact-tree', role: 'tree', 'aria-label': 'Artifacts'});
  const preview = h('div', {class: 'artifact-preview', 'aria-live': 'polite'},
    h('p', {class: 'muted'}, 'Choose a file to preview it.'));
  const expanded = new Set(); // paths of the open folders
  const shown = new Map(); // folder path ('' = root) -> the <ul> its listing is drawn in
  let selectedPath = null;
  let generation = 0;

  async function show(file, button) {
    for (const old of tree.querySelectorAll('.artifact-file.selected')) old.classList.remove('selected');
    selectedPath = file.path;
    button.classList.add('selected');
    const mine = ++generation;
    fill(preview, h('p', {class: 'muted'}, 'Loading…'));
    let body;
    try {
      body = await previewBody(runId, file);
    } catch (error) {
      body = errorBox(error);
    }
    if (mine !== generation) return; // another file was chosen meanwhile
    fill(preview, h('div', {class: 'artifact-preview-head'},
      h('span', {class: 'mono'}, file.path), ' ',
      h('span', {class: 'muted small'}, fmtSize(file.file_size)), ' ',
      downloadLink(file)), body);
  }

  function downloadLink(file) {
    const name = file.path.split('/').pop();
    return h('a', {href: artifactUrl(runId, file.path), download: name, class: 'small',
      'aria-label': `Download ${file.path}`}, 'Download');
  }

  function item(file) {
    const name = file.path.split('/').pop();
    const li = h('li', {role: 'treeitem'});
    if (file.is_dir) {
      const children = h('ul', {role: 'group', hidden: true});
      const toggle = h('button', {class: 'link artifact-folder', 'aria-expanded': 'false',
        'aria-label': `Folder ${file.path}`}, `▸ ${name}/`);
      const setOpen = (open, quiet) => {
        toggle.setAttribute('aria-expanded', String(open));
        toggle.textContent = `${open ? '▾' : '▸'} ${name}/`;
        children.hidden = !open;
        if (open) {
          expanded.add(file.path);
          if (shown.get(file.path) !== children) load(file.path, children, quiet);
        } else {
          expanded.delete(file.path);
        }
      };
      toggle.addEventListener('click', () => setOpen(toggle.getAttribute('aria-expanded') !== 'true', false));
      li.append(toggle, children);
      if (expanded.has(file.path)) setOpen(true, true); // redrawn by a refresh: keep it open
    } else {
      const button = h('button', {class: 'link artifact-file', 'aria-label': `Preview ${file.path}`}, name);
      if (file.path === selectedPath) button.classList.add('selected');
      button.addEventListener('click', () => show(file, button));
      li.append(button, ' ', h('span', {class: 'muted small'}, fmtSize(file.file_size)), ' ', downloadLink(file));
    }
    return li;
  }

  // Draw ``path``'s listing into ``into``. Quiet: keep what is shown until the answer comes,
  // and leave it alone when the listing is the same as last time.
  async function load(path, into, quiet = false) {
    shown.set(path, into);
    if (!quiet) fill(into, h('li', {class: 'muted'}, 'Loading…'));
    let listing;
    try {
      listing = await api.artifacts(runId, path);
    } catch (error) {
      if (!quiet) fill(into, h('li', {}, errorBox(error)));
      return;
    }
    const {files = [], truncated} = listing;
    const signature = JSON.stringify([files, Boolean(truncated)]);
    if (quiet && into.dataset.signature === signature) return;
    into.dataset.signature = signature;
    if (!files.length && !path) {
      fill(into, h('li', {class: 'muted'}, 'No artifacts logged (log one with runstack.log_artifact("file.txt")).'));
      return;
    }
    fill(into, files.map(item), truncated ? h('li', {class: 'muted small'}, 'Only the first files of this folder are listed.') : null);
  }

  async function refresh() {
    for (const [path, into] of [...shown]) {
      if (shown.get(path) !== into) continue; // redrawn meanwhile, with its own listing
      if (path && (!expanded.has(path) || !into.isConnected)) {
        shown.delete(path);
        continue;
      }
      await load(path, into, true);
    }
  }

  const root = h('ul', {class: 'artifact-root'});
  const reload = h('button', {class: 'link small', 'aria-label': 'Reload artifacts'}, 'Reload');
  reload.addEventListener('click', () => refresh());
  tree.append(root);
  load('', root);
  const element = h('section', {class: 'artifacts'},
    h('h2', {}, 'Artifacts ', reload),
    h('div', {class: 'artifact-panes'}, tree, preview));
  return {element, refresh};
}
