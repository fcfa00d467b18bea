// The experiments page: search by name, run counts by status, create / rename / delete / restore.

import {api} from '../api.js';
import {confirmDialog, promptDialog} from '../dialogs.js';
import {debounce, emptyState, errorBox, fill, h} from '../dom.js';
import {fmtAgo, fmtTime} from '../format.js';
import {current, setParams} from '../router.js';

const STATUSES = [
  ['RUNNING', 'running'], ['FINISHED', 'finished'], ['FAILED', 'failed'], ['KILLED', 'killed'],
];

export async function render(ctx, route) {
  const {root, crumbs, config} = ctx;
  fill(crumbs, h('span', {}, 'Experiments'));
  const search = h('input', {type: 'search', placeholder: 'Search experiments by name', 'aria-label': 'Search experiments by name', class: 'grow'});
  const view = h('select', {'aria-label': 'Which experiments'},
    h('option', {value: 'active'}, 'Active'), h('option', {value: 'deleted'}, 'Deleted'), h('option', {value: 'all'}, 'Active and deleted'));
  const create = h('button', {class: 'primary', hidden: config.read_only}, 'New experiment');
  const status = h('div', {class: 'status-line', 'aria-live': 'polite'});
  const list = h('div', {class: 'table-wrap'});
  const more = h('button', {class: 'secondary', hidden: true}, 'Load more');
  fill(root, h('div', {class: 'toolbar'}, search, view, create), status, list, more);

  let generation = 0;
  let rows = [];
  let token = null;

  async function load(state, append = false) {
    const mine = ++generation;
    try {
      const page = await api.experiments({view: state.view, name: state.q, max_results: 100, page_token: append ? token : null});
      if (mine !== generation) return;
      rows = append ? rows.concat(page.experiments) : page.experiments;
      token = page.next_page_token || null;
      more.hidden = !token;
      fill(list, table(rows, config, () => load(state)));
      if (!rows.length) {
        list.append(state.q
          ? emptyState(`No experiment's name contains “${state.q}”.`)
          : emptyState('No experiments yet: create one here, or log a run with runstack.start_run().'));
      }
      fill(status, `${rows.length}${token ? '+' : ''} experiment${rows.length === 1 ? '' : 's'}`);
    } catch (error) {
      if (mine === generation) fill(list, errorBox(error));
    }
  }

  function stateOf(r) {
    return {q: r.params.get('q') || '', view: r.params.get('view') || 'active'};
  }

  function apply(r) {
    const state = stateOf(r);
    if (document.activeElement !== search) search.value = state.q;
    view.value = state.view;
    load(state);
  }

  search.addEventListener('input', debounce(() => setParams({q: search.value}, {replace: true}), 250));
  view.addEventListener('change', () => setParams({view: view.value === 'active' ? null : view.value}));
  more.addEventListener('click', () => load(stateOf(current()), true));
  create.addEventListener('click', async () => {
    const name = await promptDialog('New experiment', 'Name', '', 'Create');
    if (!name) return;
    try {
      await api.change('experiments/create', {name});
      load(stateOf(current()));
    } catch (error) {
      fill(status, errorBox(error));
    }
  });
  apply(route);
  return {update: apply};
}

function counts(runCounts) {
  const parts = STATUSES.filter(([key]) => runCounts && runCounts[key])
    .map(([key, label]) => h('span', {class: `count st-${key.toLowerCase()}`, title: `${runCounts[key]} ${label}`}, `${runCounts[key]} ${label}`));
  return parts.length ? parts : h('span', {class: 'muted'}, 'no runs');
}

function tagChips(tags) {
  return Object.entries(tags || {}).filter(([k]) => !k.startsWith('mlflow.'))
    .map(([k, v]) => h('span', {class: 'chip', title: `${k}=${v}`}, `${k}=${v}`));
}

function table(rows, config, reload) {
  const body = rows.map((exp) => {
    const deleted = exp.lifecycle_stage === 'deleted';
    const actions = config.read_only ? [] : deleted
      ? [h('button', {class: 'link', onclick: () => change('restore', exp, reload)}, 'Restore')]
      : [h('button', {class: 'link', onclick: () => rename(exp, reload)}, 'Rename'),
        h('button', {class: 'link danger', onclick: () => change('delete', exp, reload)}, 'Delete')];
    return h('tr', {class: deleted ? 'deleted' : ''},
      h('td', {}, h('a', {href: `#/experiments/${encodeURIComponent(exp.experiment_id)}`}, exp.name), deleted ? h('span', {class: 'badge'}, 'deleted') : null),
      h('td', {class: 'mono'}, exp.experiment_id),
      h('td', {}, counts(exp.run_counts)),
      h('td', {title: fmtTime(exp.last_activity)}, fmtAgo(exp.last_activity)),
      h('td', {class: 'tags'}, tagChips(exp.tags)),
      h('td', {class: 'actions'}, actions));
  });
  return h('table', {class: 'grid'},
    h('thead', {}, h('tr', {}, ['Name', 'ID', 'Runs', 'Last activity', 'Tags', ''].map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, body));
}

async function rename(exp, reload) {
  const name = await promptDialog(`Rename experiment ${exp.experiment_id}`, 'New name', exp.name, 'Rename');
  if (!name || name === exp.name) return;
  await act(() => api.change('experiments/update', {experiment_id: exp.experiment_id, new_name: name}), reload);
}

async function change(what, exp, reload) {
  const ok = await confirmDialog(
    `${what === 'delete' ? 'Delete' : 'Restore'} experiment “${exp.name}”?`,
    what === 'delete'
      ? 'Its runs are hidden with it; you can restore it later from “Deleted”.'
      : 'It and its runs become active again.',
    what === 'delete' ? 'Delete' : 'Restore', what === 'delete');
  if (!ok) return;
  await act(() => api.change(`experiments/${what}`, {experiment_id: exp.experiment_id}), reload);
}

async function act(call, reload) {
  try {
    await call();
  } catch (error) {
    document.getElementById('app').prepend(errorBox(error));
  }
  reload();
}
