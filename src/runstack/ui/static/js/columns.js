// The run table's columns: the fixed ones and the params, metrics and tags a user picked.
// In the URL a picked column is "m:key", "p:key" or "t:key"; sorting is one order_by term.

import {fmtDuration, fmtNum, fmtTime, runDuration} from './format.js';

const KIND_OF = {m: 'metrics', p: 'params', t: 'tags'};
const LETTER_OF = {metrics: 'm', params: 'p', tags: 't'};

/** `kind.\`key\`` as the search grammar reads it (backticks allow any key). */
export function keyTerm(kind, key) {
  return `${kind}.\`${key}\``;
}

export const FIXED = [
  {id: 'name', label: 'Run name', order: 'attributes.run_name', value: (r) => r.run_name || r.run_id},
  {id: 'status', label: 'Status', order: 'attributes.status', value: (r) => r.status},
  {id: 'start', label: 'Started', order: 'attributes.start_time', value: (r) => fmtTime(r.start_time)},
  {id: 'duration', label: 'Duration', order: 'attributes.duration', value: (r) => fmtDuration(runDuration(r))},
  {id: 'user', label: 'User', order: 'attributes.user_id', value: (r) => r.user_id || ''},
  {id: 'source', label: 'Source', order: keyTerm('tags', 'mlflow.source.name'), value: (r) => r.source || ''},
];

export function parseColumns(values) {
  const out = [];
  for (const value of values) {
    const kind = KIND_OF[value.slice(0, 1)];
    const key = value.slice(2);
    if (!kind || value[1] !== ':' || !key) continue;
    if (!out.some((c) => c.kind === kind && c.key === key)) out.push(picked(kind, key));
  }
  return out;
}

export function picked(kind, key) {
  return {
    id: `${LETTER_OF[kind]}:${key}`,
    kind,
    key,
    label: key,
    order: keyTerm(kind, key),
    value: (r) => {
      const v = r[kind] ? r[kind][key] : undefined;
      return v === undefined ? '' : kind === 'metrics' ? fmtNum(v) : String(v);
    },
  };
}

/** {metrics: [...], params: [...], tags: [...]} for the runs/table request. */
export function requestColumns(columns) {
  const out = {metrics: [], params: [], tags: []};
  for (const c of columns) if (c.kind) out[c.kind].push(c.key);
  return out;
}

/** "expr ASC|DESC" -> {term, desc}; the default order is newest first. */
export function parseOrder(text) {
  const match = /^(.*\S)\s+(ASC|DESC)$/i.exec(text || '');
  if (!match) return {term: 'attributes.start_time', desc: true};
  return {term: match[1], desc: match[2].toUpperCase() === 'DESC'};
}

export function formatOrder(order) {
  return `${order.term} ${order.desc ? 'DESC' : 'ASC'}`;
}
