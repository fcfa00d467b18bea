// One run: its facts, description, params, tags, inputs, latest metrics, one chart per
// metric key (drawn when scrolled into view), and its artifacts (artifacts.js). While it is RUNNING the page polls the server.

import {api, num} from '../api.js';
import {artifactsSection} from '../artifacts.js';
import {chartControls, chartOptions} from '../chart_controls.js';
import {colorFor} from '../charts/colors.js';
import {chartCard} from '../charts/card.js';
import {maxPointsFor, startVisibleNow} from '../charts/lazy.js';
import {debounce, emptyState, fill, h} from '../dom.js';
import {fmtDuration, fmtNum, fmtTime, runDuration} from '../format.js';
import {renderMarkdown} from '../markdown.js';
import {setParams} from '../router.js';
import {statusBadge} from '../status.js';

const POLL_MS = 2500;
const METRIC_ROWS = 100;
const NOTE_TAG = 'mlflow.note.content';

function infoOf(detail) {
  const info = detail.run.info;
  const tags = Object.fromEntries((detail.run.data.tags || []).map((t) => [t.key, t.value]));
  return {
    run_id: info.run_id,
    run_name: info.run_name || tags['mlflow.runName'] || info.run_id,
    experiment_id: info.experiment_id,
    status: info.status,
    lifecycle_stage: info.lifecycle_stage,
    start_time: info.start_time ? Number(info.start_time) : null,
    end_time: info.end_time ? Number(info.end_time) : null,
    user_id: info.user_id || tags['mlflow.user'] || '',
    tags,
    params: (detail.run.data.params || []).map((p) => [p.key, p.value]),
  };
}

export async function render(ctx, route) {
  const {root, crumbs} = ctx;
  const runId = route.parts[1];
  let detail = await api.runDetail(runId);
  let info = infoOf(detail);
  let options = chartOptions(route.params);

  const header = h('div', {class: 'run-header'});
  const artifacts = artifactsSection(runId);
  const facts = h('dl', {class: 'facts'});
  const description = h('section', {class: 'description'});
  const metricsTable = h('div', {class: 'table-wrap'});
  const paramSearch = h('input', {type: 'search', placeholder: 'Search params', 'aria-label': 'Search params'});
  const paramsBox = h('div', {class: 'table-wrap'});
  const tagsBox = h('div', {class: 'table-wrap'});
  const inputsBox = h('div', {});
  const chartGrid = h('div', {class: 'chart-grid'});
  const controls = chartControls(options, (changes) => setParams(changes, {replace: true}));

  fill(root, header,
    h('div', {class: 'run-top'}, facts, description),
    h('section', {}, h('h2', {}, 'Charts'), controls.element, chartGrid),
    h('section', {}, h('h2', {}, 'Metrics'), metricsTable),
    h('div', {class: 'two-col'},
      h('section', {}, h('h2', {}, 'Parameters'), paramSearch, paramsBox),
      h('section', {}, h('h2', {}, 'Tags'), tagsBox)),
    h('section', {}, h('h2', {}, 'Dataset inputs'), inputsBox),
    artifacts.element);

  let experimentName = `Experiment ${info.experiment_id}`;
  api.experiment(info.experiment_id).then(({experiment}) => {
    experimentName = experiment.name;
    drawHeader();
  }).catch(() => {});

  function drawHeader() {
    fill(crumbs, h('a', {href: '#/'}, 'Experiments'), ' / ',
      h('a', {href: `#/experiments/${encodeURIComponent(info.experiment_id)}`}, experimentName), ' / ',
      h('span', {}, info.run_name));
    document.title = `${info.run_name} · runstack`;
    fill(header, h('h1', {}, info.run_name), statusBadge(info.status, detail.killed_reason),
      info.lifecycle_stage === 'deleted' ? h('span', {class: 'badge'}, 'deleted') : null);
    const tags = info.tags;
    const row = (label, ...value) => [h('dt', {}, label), h('dd', {}, ...value)];
    fill(facts,
      row('Run ID', h('span', {class: 'mono'}, info.run_id)),
      row('Status', info.status, detail.killed_reason ? h('span', {class: 'muted'}, ` (${detail.killed_reason})`) : null),
      row('Started', fmtTime(info.start_time)),
      row('Ended', info.end_time ? fmtTime(info.end_time) : '—'),
      row('Duration', h('span', {id: 'run-duration'}, fmtDuration(runDuration(info)))),
      row('User', info.user_id || '—'),
      row('Source', tags['mlflow.source.name'] || '—'),
      row('Git commit', tags['mlflow.source.git.commit'] ? h('span', {class: 'mono'}, tags['mlflow.source.git.commit']) : '—'),
      row('Parent', detail.parent
        ? h('a', {href: `#/runs/${encodeURIComponent(detail.parent.run_id)}`}, detail.parent.run_name || detail.parent.run_id)
        : '—'),
      row('Children', detail.children && detail.children.length
        ? h('span', {class: 'children'}, detail.children.map((c) => h('a', {href: `#/runs/${encodeURIComponent(c.run_id)}`, title: c.status}, c.run_name || c.run_id)))
        : '—'));
    const note = tags[NOTE_TAG];
    fill(description, h('h2', {}, 'Description'),
      note ? h('div', {class: 'markdown'}, renderMarkdown(note)) : h('p', {class: 'muted'}, 'No description (set the tag mlflow.note.content).'));
  }

  function drawMetrics() {
    const all = detail.metrics || [];
    if (!all.length) {
      fill(metricsTable, emptyState('No metrics logged yet.'));
      return;
    }
    // The charts' key filter applies here too; a run with thousands of keys shows a page.
    const needle = options.keys.toLowerCase();
    const matching = needle ? all.filter((m) => m.key.toLowerCase().includes(needle)) : all;
    const metrics = matching.slice(0, METRIC_ROWS);
    fill(metricsTable, matching.length > METRIC_ROWS
      ? h('p', {class: 'muted small'}, `The first ${METRIC_ROWS} of ${matching.length} keys; filter by key above to see others.`)
      : null, h('table', {class: 'grid compact'},
      h('thead', {}, h('tr', {}, ['Key', 'Latest', 'Step', 'Min', 'Max', 'Points'].map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', {}, metrics.map((m) => h('tr', {},
        h('td', {class: 'mono'}, m.key), h('td', {class: 'num'}, fmtNum(num(m.latest))), h('td', {class: 'num'}, fmtNum(m.step)),
        h('td', {class: 'num'}, fmtNum(num(m.min))), h('td', {class: 'num'}, fmtNum(num(m.max))), h('td', {class: 'num'}, fmtNum(m.count)))))));
  }

  function drawParams() {
    const needle = paramSearch.value.trim().toLowerCase();
    const shown = info.params.filter(([k, v]) => !needle || k.toLowerCase().includes(needle) || String(v).toLowerCase().includes(needle));
    fill(paramsBox, info.params.length
      ? keyValueTable(shown, needle ? `No parameter matches “${paramSearch.value}”.` : '')
      : emptyState('No parameters logged.'));
  }

  function drawTags() {
    const entries = Object.entries(info.tags).sort(([a], [b]) => a.localeCompare(b));
    fill(tagsBox, entries.length ? keyValueTable(entries, '') : emptyState('No tags.'));
  }

  function drawInputs() {
    const inputs = (detail.run.inputs && detail.run.inputs.dataset_inputs) || [];
    if (!inputs.length) {
      fill(inputsBox, h('p', {class: 'muted'}, 'No dataset inputs logged.'));
      return;
    }
    fill(inputsBox, h('table', {class: 'grid compact'},
      h('thead', {}, h('tr', {}, ['Name', 'Digest', 'Source type', 'Context'].map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', {}, inputs.map((input) => {
        const d = input.dataset || {};
        const context = (input.tags || []).find((t) => t.key === 'mlflow.data.context');
        return h('tr', {}, h('td', {}, d.name || ''), h('td', {class: 'mono'}, d.digest || ''),
          h('td', {}, d.source_type || ''), h('td', {}, context ? context.value : ''));
      }))));
  }

  // Charts: one card per key; data fetched when the card scrolls into view.
  const cards = new Map(); // metric key -> chartCard

  function traceOf(series) {
    const steps = series.steps.map(Number);
    const times = series.timestamps.map(Number);
    const xs = options.xMode === 'step' ? steps
      : options.xMode === 'wall' ? times.map((t) => t / 1000)
        : times.map((t) => (t - (info.start_time || times[0] || 0)) / 1000);
    return {label: info.run_name, color: colorFor(info.run_id), xs, ys: series.values.map(num), steps};
  }

  function describe(card) {
    const series = card.series;
    if (series.reduced) return `${series.values.length} of ${series.total_points} points (extremes kept)`;
    return `${series.total_points} point${series.total_points === 1 ? '' : 's'}`;
  }

  function addCard(key) {
    const card = chartCard(key, {
      load: async (c) => {
        const result = await api.series({
          run_id: runId, key, max_points: maxPointsFor(c.chart.width()),
          min_step: c.zoom ? c.zoom.minStep : null, max_step: c.zoom ? c.zoom.maxStep : null,
        });
        return result.series[0] || {steps: [], timestamps: [], values: [], total_points: 0};
      },
      traces: (c) => [traceOf(c.series)],
      options: () => options,
      describe,
    });
    cards.set(key, card);
    chartGrid.append(card.element);
    return card;
  }

  function syncCards() {
    const keys = (detail.metrics || []).map((m) => m.key);
    if (keys.length) for (const empty of chartGrid.querySelectorAll(':scope > .empty')) empty.remove();
    for (const key of keys) if (!cards.has(key)) addCard(key);
    filterCards();
    if (!keys.length && !chartGrid.firstChild) fill(chartGrid, emptyState('No metrics to chart yet.', 'Log one with runstack.log_metric("loss", 0.5, step=1).'));
  }

  function filterCards() {
    const needle = options.keys.toLowerCase();
    for (const card of cards.values()) card.element.hidden = Boolean(needle) && !card.key.toLowerCase().includes(needle);
  }

  // Every section from the current detail, then the chart cards to match.
  function drawAll() {
    drawHeader();
    drawMetrics();
    drawParams();
    drawTags();
    drawInputs();
    syncCards();
  }

  // Live updates while RUNNING.
  let timer = null;
  let alive = true;
  let counts = new Map((detail.metrics || []).map((m) => [m.key, m.count]));

  async function poll() {
    if (!alive) return;
    try {
      const next = await api.runDetail(runId);
      if (!alive) return;
      detail = next;
      info = infoOf(next);
      drawAll();
      for (const m of detail.metrics || []) {
        const card = cards.get(m.key);
        if (card && card.visible && !card.zoom && counts.get(m.key) !== m.count) {
          card.refresh();
        }
      }
      counts = new Map((detail.metrics || []).map((m) => [m.key, m.count]));
      artifacts.refresh(); // new files appear while the run writes them (and once after it ends)
    } catch {
      // A missed poll is retried at the next tick.
    }
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    if (alive && info.status === 'RUNNING') timer = setTimeout(poll, POLL_MS);
  }

  const ticker = setInterval(() => {
    const el = document.getElementById('run-duration');
    if (el && info.status === 'RUNNING') el.textContent = fmtDuration(runDuration(info));
  }, 1000);

  paramSearch.addEventListener('input', debounce(drawParams, 150));
  drawAll();
  startVisibleNow();
  schedule();

  return {
    update(next) {
      if (next.parts[1] !== runId) return;
      options = chartOptions(next.params);
      controls.set(options);
      filterCards();
      drawMetrics();
      for (const card of cards.values()) card.draw();
    },
    destroy() {
      alive = false;
      clearTimeout(timer);
      clearInterval(ticker);
      for (const card of cards.values()) card.destroy();
    },
  };
}

function keyValueTable(entries, emptyMessage) {
  if (!entries.length) return h('p', {class: 'muted'}, emptyMessage);
  return h('table', {class: 'grid compact kv'},
    h('tbody', {}, entries.map(([k, v]) => h('tr', {}, h('th', {scope: 'row', class: 'mono'}, k), h('td', {class: 'value'}, String(v))))));
}
