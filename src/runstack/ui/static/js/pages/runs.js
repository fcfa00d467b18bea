// An experiment's runs: a table paged from the server, filter, sort, picked columns, nested
// runs as a tree, selection for compare / delete / restore, CSV export, live status.

import {api} from '../api.js';
import {columnPicker} from '../column_picker.js';
import {FIXED, formatOrder, parseColumns, parseOrder, picked, requestColumns} from '../columns.js';
import {download, toCsv} from '../csv.js';
import {confirmDialog} from '../dialogs.js';
import {emptyState, errorBox, fill, h} from '../dom.js';
import {filterBox} from '../filter_box.js';
import {fmtDuration, runDuration} from '../format.js';
import {href, setParams} from '../router.js';
import {statusBadge} from '../status.js';

const PAGE = 100;
const LIVE_MS = 3000;

function stateOf(route) {
  return {
    experimentId: route.parts[1],
    filter: route.params.get('filter') || '',
    order: parseOrder(route.params.get('order')),
    columns: parseColumns(route.params.getAll('col')),
    view: route.params.get('view') || 'active',
    selected: new Set((route.params.get('sel') || '').split(',').filter(Boolean)),
    open: (route.params.get('open') || '').split(',').filter(Boolean), // expanded runs
  };
}

export async function render(ctx, route) {
  const {root, crumbs, config} = ctx;
  let state = stateOf(route);
  const experimentId = state.experimentId;
  const title = h('h1', {}, `Experiment ${experimentId}`);
  fill(crumbs, h('a', {href: '#/'}, 'Experiments'), ' / ', h('span', {}, `Experiment ${experimentId}`));
  api.experiment(experimentId).then(({experiment}) => {
    fill(title, experiment.name, h('span', {class: 'muted id'}, ` #${experiment.experiment_id}`));
    fill(crumbs, h('a', {href: '#/'}, 'Experiments'), ' / ', h('span', {}, experiment.name));
    document.title = `${experiment.name} · runstack`;
  }).catch(() => {});

  const filter = filterBox((text) => setParams({filter: text}));
  const view = h('select', {'aria-label': 'Which runs'},
    h('option', {value: 'active'}, 'Active runs'), h('option', {value: 'deleted'}, 'Deleted runs'), h('option', {value: 'all'}, 'All runs'));
  view.addEventListener('change', () => setParams({view: view.value === 'active' ? null : view.value, sel: null}));
  const picker = columnPicker([experimentId], () => new Set(state.columns.map((c) => c.id)), (kind, key, on) => {
    const ids = state.columns.map((c) => c.id).filter((id) => id !== picked(kind, key).id);
    if (on) ids.push(picked(kind, key).id);
    setParams({col: ids}, {replace: true});
  });
  const exportButton = h('button', {class: 'secondary'}, 'Export CSV');
  const selection = h('div', {class: 'selection', 'aria-live': 'polite'});
  const status = h('div', {class: 'status-line', 'aria-live': 'polite'});
  const tableWrap = h('div', {class: 'table-wrap runs'});
  const more = h('button', {class: 'secondary', hidden: true}, 'Load more runs');
  fill(root, title, filter.element,
    h('div', {class: 'toolbar'}, view, picker.button, exportButton, selection), picker.panel,
    status, tableWrap, more);

  let rows = []; // [{run, depth}] in display order
  let token = null;
  let generation = 0;
  const expanded = new Map(); // run_id -> child rows loaded
  let liveTimer = null;

  const treeMode = () => !state.filter;

  function request(extra) {
    return {
      experiment_ids: [experimentId],
      filter: state.filter,
      order_by: [formatOrder(state.order)],
      max_results: PAGE,
      view: state.view,
      columns: requestColumns(state.columns),
      ...extra,
    };
  }

  async function load(append = false) {
    const mine = ++generation;
    filter.clearError();
    // The table's state, for tests and benchmarks: loading, ready or error.
    tableWrap.dataset.state = 'loading';
    if (!append) fill(status, 'Loading runs…');
    try {
      const page = await api.runsTable(request({
        page_token: append ? token : null,
        ...(treeMode() ? {parent_run_id: ''} : {}),
      }));
      if (mine !== generation) return;
      const fresh = page.runs.map((run) => ({run, depth: 0}));
      rows = append ? rows.concat(fresh) : fresh;
      if (!append) expanded.clear();
      token = page.next_page_token || null;
      draw();
      if (treeMode()) await reopen(mine);
      if (mine !== generation) return;
      tableWrap.dataset.state = 'ready';
      tableWrap.dataset.loads = String(Number(tableWrap.dataset.loads || 0) + 1);
    } catch (error) {
      if (mine !== generation) return;
      tableWrap.dataset.state = 'error';
      fill(status, '');
      if (state.filter && error.code === 'INVALID_PARAMETER_VALUE') {
        filter.showError(error, state.filter);
        fill(tableWrap, emptyState('Fix the filter above to see runs (or clear it).'));
      } else {
        fill(tableWrap, errorBox(error));
      }
      more.hidden = true;
    }
  }

  function draw() {
    more.hidden = !token;
    const columns = [...FIXED, ...state.columns];
    const topLevel = rows.filter((r) => r.depth === 0).length;
    fill(status, `${topLevel}${token ? '+' : ''} run${topLevel === 1 ? '' : 's'}` +
      (treeMode() ? ' (top level; expand a run to see its children)' : ' matching the filter'));
    if (!rows.length) {
      fill(tableWrap, state.filter
        ? emptyState('No run matches this filter.', 'Try a wider one, or clear the box.')
        : state.view === 'deleted'
          ? emptyState('No deleted runs in this experiment.')
          : emptyState('No runs yet: log one with', `runstack.set_experiment(experiment_id="${experimentId}") and runstack.start_run().`));
      drawSelection();
      return;
    }
    const head = h('tr', {},
      h('th', {scope: 'col', class: 'check'}, h('input', {
        type: 'checkbox', 'aria-label': 'Select all shown runs',
        checked: rows.length > 0 && rows.every((r) => state.selected.has(r.run.run_id)),
        onchange: (event) => select(rows.map((r) => r.run.run_id), event.target.checked),
      })),
      columns.map((c) => header(c)));
    fill(tableWrap, h('table', {class: 'grid runs-table'}, h('thead', {}, head),
      h('tbody', {}, rows.map((r) => rowElement(r, columns)))));
    drawSelection();
    scheduleLive();
  }

  function header(column) {
    const sorted = column.order && state.order.term === column.order;
    const label = [column.kind ? h('span', {class: `kind kind-${column.kind}`}, column.kind[0]) : null, column.label];
    if (!column.order) return h('th', {scope: 'col'}, label);
    const arrow = sorted ? (state.order.desc ? ' ▼' : ' ▲') : '';
    return h('th', {scope: 'col', 'aria-sort': sorted ? (state.order.desc ? 'descending' : 'ascending') : 'none'},
      h('button', {
        class: 'sort', title: `Sort by ${column.label}`, 'aria-label': `Sort by ${column.label}`,
        onclick: () => setParams({order: formatOrder({term: column.order, desc: sorted ? !state.order.desc : column.id === 'start'})}),
      }, label, arrow));
  }

  function rowElement({run, depth}, columns) {
    const cells = columns.map((c) => {
      if (c.id === 'name') {
        const toggle = run.child_count > 0 && treeMode()
          ? h('button', {
            class: 'tree', 'aria-expanded': String(expanded.has(run.run_id)),
            'aria-label': `${expanded.has(run.run_id) ? 'Collapse' : 'Expand'} ${run.child_count} child runs`,
            onclick: () => toggleChildren(run),
          }, expanded.has(run.run_id) ? '▾' : '▸')
          : h('span', {class: 'tree-space'});
        return h('td', {class: `name depth-${Math.min(depth, 6)}`}, toggle,
          h('a', {href: `#/runs/${encodeURIComponent(run.run_id)}`}, run.run_name || run.run_id),
          run.child_count > 0 ? h('span', {class: 'muted small'}, ` (${run.child_count})`) : null);
      }
      if (c.id === 'status') return h('td', {}, statusBadge(run.status, run.killed_reason));
      if (c.id === 'duration') return h('td', {class: 'num', dataset: {duration: run.run_id}}, c.value(run));
      return h('td', {class: c.kind === 'metrics' ? 'num' : '', title: c.kind ? c.value(run) : null}, c.value(run));
    });
    return h('tr', {class: run.lifecycle_stage === 'deleted' ? 'deleted' : '', dataset: {runId: run.run_id}},
      h('td', {class: 'check'}, h('input', {
        type: 'checkbox', 'aria-label': `Select run ${run.run_name || run.run_id}`,
        checked: state.selected.has(run.run_id),
        onchange: (event) => select([run.run_id], event.target.checked),
      })), cells);
  }

  // The expanded runs are in the URL (open=<id>,<id>), so a link or a reload shows the same
  // tree. ``remember`` is false while the tree is being reopened from the URL.
  async function toggleChildren(run, remember = true) {
    const at = rows.findIndex((r) => r.run.run_id === run.run_id);
    if (at < 0) return;
    const depth = rows[at].depth;
    if (expanded.has(run.run_id)) {
      expanded.delete(run.run_id);
      let end = at + 1;
      while (end < rows.length && rows[end].depth > depth) expanded.delete(rows[end++].run.run_id);
      rows.splice(at + 1, end - at - 1);
      draw();
      if (remember) rememberOpen();
      return;
    }
    try {
      const page = await api.runsTable(request({parent_run_id: run.run_id, max_results: 1000}));
      expanded.set(run.run_id, true);
      rows.splice(at + 1, 0, ...page.runs.map((child) => ({run: child, depth: depth + 1})));
      draw();
      if (remember) rememberOpen();
    } catch (error) {
      fill(status, errorBox(error));
    }
  }

  function rememberOpen() {
    state.open = [...expanded.keys()];
    setParams({open: state.open.join(',') || null}, {replace: true});
  }

  // Expand the runs the URL names, parents before their children (rows grow as we go).
  async function reopen(mine) {
    const wanted = new Set(state.open);
    for (let i = 0; i < rows.length && wanted.size; i++) {
      const {run} = rows[i];
      if (!wanted.has(run.run_id) || expanded.has(run.run_id) || !(run.child_count > 0)) continue;
      wanted.delete(run.run_id);
      await toggleChildren(run, false);
      if (mine !== generation) return;
    }
  }

  function select(ids, on) {
    const next = new Set(state.selected);
    for (const id of ids) on ? next.add(id) : next.delete(id);
    setParams({sel: [...next].join(',')}, {replace: true});
  }

  function drawSelection() {
    const ids = [...state.selected];
    if (!ids.length) {
      fill(selection, h('span', {class: 'muted'}, 'Select runs to compare, delete or restore.'));
      return;
    }
    const actions = [
      h('a', {class: 'button primary', href: href('/compare', {exp: experimentId, runs: ids.join(',')})}, `Compare ${ids.length}`),
    ];
    if (!config.read_only) {
      actions.push(h('button', {class: 'danger', onclick: () => changeRuns('delete', ids)}, 'Delete'));
      actions.push(h('button', {class: 'secondary', onclick: () => changeRuns('restore', ids)}, 'Restore'));
    }
    actions.push(h('button', {class: 'link', onclick: () => setParams({sel: null}, {replace: true})}, 'Clear'));
    fill(selection, h('span', {}, `${ids.length} selected`), actions);
  }

  async function changeRuns(what, ids) {
    const ok = await confirmDialog(`${what === 'delete' ? 'Delete' : 'Restore'} ${ids.length} run${ids.length === 1 ? '' : 's'}?`,
      what === 'delete' ? 'Deleted runs can be restored from “Deleted runs”.' : 'They become active again.',
      what === 'delete' ? 'Delete' : 'Restore', what === 'delete');
    if (!ok) return;
    const failed = [];
    for (const id of ids) {
      try {
        await api.change(`runs/${what}`, {run_id: id});
      } catch (error) {
        failed.push(error);
      }
    }
    setParams({sel: null}, {replace: true});
    load();
    if (failed.length) root.prepend(errorBox(failed[0]));
  }

  exportButton.addEventListener('click', () => {
    const columns = [...FIXED, ...state.columns];
    const header = ['run_id', 'parent_run_id', ...columns.map((c) => (c.kind ? `${c.kind}.${c.key}` : c.label))];
    const body = rows.map(({run}) => [run.run_id, run.parent_run_id || '', ...columns.map((c) => c.value(run))]);
    download(`experiment-${experimentId}-runs.csv`, toCsv(header, body));
  });
  more.addEventListener('click', () => load(true));

  // Live: while shown runs are RUNNING, reread just those runs and redraw their rows.
  function scheduleLive() {
    clearTimeout(liveTimer);
    const running = rows.filter((r) => r.run.status === 'RUNNING').map((r) => r.run.run_id);
    if (!running.length) return;
    liveTimer = setTimeout(async () => {
      const mine = generation;
      try {
        const quoted = running.slice(0, 200).map((id) => `'${id}'`).join(', ');
        const page = await api.runsTable(request({filter: `attributes.run_id IN (${quoted})`, view: 'all', max_results: 200}));
        if (mine !== generation) return;
        const fresh = new Map(page.runs.map((run) => [run.run_id, run]));
        rows = rows.map((r) => (fresh.has(r.run.run_id) ? {...r, run: {...fresh.get(r.run.run_id), child_count: fresh.get(r.run.run_id).child_count}} : r));
        draw();
      } catch {
        scheduleLive();
      }
    }, LIVE_MS);
  }
  const ticker = setInterval(() => {
    for (const cell of tableWrap.querySelectorAll('td[data-duration]')) {
      const row = rows.find((r) => r.run.run_id === cell.dataset.duration);
      if (row && row.run.status === 'RUNNING') cell.textContent = fmtDuration(runDuration(row.run));
    }
  }, 1000);

  function apply(r) {
    const before = state;
    state = stateOf(r);
    filter.set(state.filter);
    view.value = state.view;
    const sameQuery = before !== null && before.filter === state.filter && before.view === state.view &&
      formatOrder(before.order) === formatOrder(state.order) &&
      before.columns.map((c) => c.id).join('\n') === state.columns.map((c) => c.id).join('\n');
    const sameOpen = state.open.join(',') === [...expanded.keys()].join(',');
    if (sameQuery && sameOpen && rows.length) draw(); else load();
  }

  state = stateOf(route);
  filter.set(state.filter);
  view.value = state.view;
  load();
  return {
    update: apply,
    destroy() {
      clearTimeout(liveTimer);
      clearInterval(ticker);
      generation++;
    },
  };
}
