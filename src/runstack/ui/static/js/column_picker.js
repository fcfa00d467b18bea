// The column picker: searches an experiment's param, metric and tag keys on the server
// (ui/experiments/keys, at most 100 at a time) instead of loading every key.

import {api} from './api.js';
import {debounce, errorBox, fill, h} from './dom.js';

export function columnPicker(experimentIds, chosen, onToggle) {
  const kind = h('select', {'aria-label': 'Kind of column'},
    h('option', {value: 'metrics'}, 'Metrics'), h('option', {value: 'params'}, 'Params'), h('option', {value: 'tags'}, 'Tags'));
  const search = h('input', {type: 'search', placeholder: 'Search keys', 'aria-label': 'Search keys', class: 'grow'});
  const list = h('div', {class: 'picker-list', role: 'group', 'aria-label': 'Keys'});
  const note = h('div', {class: 'muted small'});
  const panel = h('div', {class: 'picker', role: 'dialog', 'aria-label': 'Choose columns', hidden: true},
    h('div', {class: 'toolbar'}, kind, search), list, note);
  let generation = 0;

  async function load() {
    const mine = ++generation;
    try {
      const result = await api.keys({experiment_id: experimentIds, kind: kind.value, contains: search.value, max_results: 100});
      if (mine !== generation) return;
      const selected = chosen();
      fill(list, result.keys.map((key) => {
        const id = `${kind.value[0]}:${key}`;
        const box = h('input', {type: 'checkbox', checked: selected.has(id)});
        box.addEventListener('change', () => onToggle(kind.value, key, box.checked));
        return h('label', {class: 'picker-item'}, box, h('span', {class: 'mono'}, key));
      }));
      fill(note, result.keys.length === 0
        ? `No ${kind.value} keys${search.value ? ` containing “${search.value}”` : ''}.`
        : result.truncated ? `Showing the first ${result.keys.length}: type to narrow down.` : '');
    } catch (error) {
      if (mine === generation) fill(list, errorBox(error));
    }
  }

  kind.addEventListener('change', load);
  search.addEventListener('input', debounce(load, 200));
  panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') toggle(false);
  });
  const button = h('button', {class: 'secondary', 'aria-expanded': 'false'}, 'Columns…');
  function toggle(show = panel.hidden) {
    panel.hidden = !show;
    button.setAttribute('aria-expanded', String(show));
    if (show) {
      load();
      search.focus();
    } else {
      button.focus();
    }
  }
  button.addEventListener('click', () => toggle());
  return {button, panel};
}
