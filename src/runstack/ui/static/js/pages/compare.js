// Compare runs: metric charts overlaid (or grouped by a param: mean and min-max band), a
// params table with differences marked, a scatter, and parallel coordinates.

import {api, num} from '../api.js';
import {chartControls, chartOptions} from '../chart_controls.js';
import {colorFor} from '../charts/colors.js';
import {chartCard} from '../charts/card.js';
import {maxPointsFor, startVisibleNow} from '../charts/lazy.js';
import {drawParallel} from '../charts/parallel.js';
import {drawScatter} from '../charts/scatter.js';
import {emptyState, errorBox, fill, h} from '../dom.js';
import {fmtNum} from '../format.js';
import {setParams} from '../router.js';
import {statusBadge} from '../status.js';

const MAX_RUNS = 200;

const TABLE_KEYS = 200; // the most keys of one kind runs/table returns as columns

// The runs with their own params and latest metrics. When the experiments have at most 200
// param and metric keys, one runs/table request per 100 runs holds them all; otherwise each
// run's detail is read (six at a time, as a browser would), so the keys compared are the
// runs' own, whatever else their experiments hold.
async function loadRuns(experimentIds, runIds) {
  if (experimentIds.length) {
    const [params, metrics] = await Promise.all(['params', 'metrics'].map((kind) =>
      api.keys({experiment_id: experimentIds, kind, max_results: TABLE_KEYS})));
    if (!params.truncated && !metrics.truncated) return loadTable(experimentIds, runIds, params.keys, metrics.keys);
  }
  return loadDetails(runIds);
}

async function loadTable(experimentIds, runIds, params, metrics) {
  const pages = [];
  for (let i = 0; i < runIds.length; i += 100) {
    const ids = runIds.slice(i, i + 100);
    pages.push(api.runsTable({
      experiment_ids: experimentIds, view: 'all', max_results: ids.length,
      filter: `attributes.run_id IN (${ids.map((id) => `'${id}'`).join(', ')})`,
      columns: {params, metrics, tags: []},
    }));
  }
  const byId = new Map();
  for (const page of await Promise.all(pages)) for (const run of page.runs) byId.set(run.run_id, run);
  return runIds.filter((id) => byId.has(id)).map((id) => {
    const run = byId.get(id);
    return {...run, run_name: run.run_name || run.run_id, params: run.params || {}, metrics: run.metrics || {}};
  });
}

async function loadDetails(runIds) {
  const out = new Array(runIds.length).fill(null);
  let next = 0;
  async function worker() {
    while (next < runIds.length) {
      const i = next++;
      try {
        const detail = await api.runDetail(runIds[i]);
        const info = detail.run.info;
        const tags = Object.fromEntries((detail.run.data.tags || []).map((t) => [t.key, t.value]));
        out[i] = {
          run_id: info.run_id,
          run_name: info.run_name || tags['mlflow.runName'] || info.run_id,
          experiment_id: info.experiment_id,
          status: info.status,
          start_time: info.start_time ? Number(info.start_time) : null,
          params: Object.fromEntries((detail.run.data.params || []).map((p) => [p.key, p.value])),
          metrics: Object.fromEntries((detail.metrics || []).map((m) => [m.key, m.latest])),
        };
      } catch (error) {
        if (error.status !== 404) throw error;
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(6, runIds.length)}, worker));
  return out.filter(Boolean);
}

function unionKeys(runs, field) {
  const keys = new Set();
  for (const run of runs) for (const key of Object.keys(run[field])) keys.add(key);
  return [...keys].sort();
}

function groupTraces(traces, runs, groupKey) {
  const groups = new Map();
  runs.forEach((run, i) => {
    const value = run.params[groupKey] ?? '(not set)';
    if (!groups.has(value)) groups.set(value, []);
    if (traces[i]) groups.get(value).push(traces[i]);
  });
  return [...groups.entries()].filter(([, members]) => members.length).map(([value, members]) => {
    const byX = new Map();
    const stepOf = new Map();
    for (const t of members) {
      t.xs.forEach((x, j) => {
        const y = t.ys[j];
        if (y === null || !Number.isFinite(y)) return;
        if (!byX.has(x)) byX.set(x, []);
        byX.get(x).push(y);
        stepOf.set(x, t.steps[j]);
      });
    }
    const xs = [...byX.keys()].sort((a, b) => a - b);
    const stats = xs.map((x) => byX.get(x));
    return {
      label: `${groupKey}=${value} (${members.length})`,
      color: colorFor(`group:${groupKey}=${value}`),
      xs,
      steps: xs.map((x) => stepOf.get(x)),
      ys: stats.map((v) => v.reduce((a, b) => a + b, 0) / v.length),
      lo: stats.map((v) => Math.min(...v)),
      hi: stats.map((v) => Math.max(...v)),
    };
  });
}

export async function render(ctx, route) {
  const {root, crumbs} = ctx;
  const runIds = (route.params.get('runs') || '').split(',').filter(Boolean).slice(0, MAX_RUNS);
  const experimentIds = (route.params.get('exp') || '').split(',').filter(Boolean);
  fill(crumbs, h('a', {href: '#/'}, 'Experiments'), ' / ',
    experimentIds.length === 1 ? [h('a', {href: `#/experiments/${encodeURIComponent(experimentIds[0])}`}, `Experiment ${experimentIds[0]}`), ' / '] : null,
    h('span', {}, 'Compare'));
  if (experimentIds.length === 1) {
    api.experiment(experimentIds[0]).then(({experiment}) => fill(crumbs, h('a', {href: '#/'}, 'Experiments'), ' / ',
      h('a', {href: `#/experiments/${encodeURIComponent(experiment.experiment_id)}`}, experiment.name), ' / ',
      h('span', {}, 'Compare'))).catch(() => {});
  }
  if (!runIds.length) {
    fill(root, emptyState('No runs to compare: select runs on an experiment’s page, then press Compare.'));
    return {};
  }
  const runs = await loadRuns(experimentIds, runIds);
  const usedParams = unionKeys(runs, 'params');
  const usedMetrics = unionKeys(runs, 'metrics');
  let state = stateOf(route);

  const legend = h('div', {class: 'legend'}, runs.map((run) => h('a', {class: 'legend-item', href: `#/runs/${encodeURIComponent(run.run_id)}`},
    h('span', {class: 'swatch', dataset: {color: colorFor(run.run_id)}}), run.run_name || run.run_id)));
  const controls = chartControls(state.options, (changes) => setParams(changes, {replace: true}), {xModes: ['step', 'wall', 'rel']});
  const group = h('select', {'aria-label': 'Group runs by param'}, h('option', {value: ''}, 'No grouping'),
    usedParams.map((k) => h('option', {value: k}, `Group by ${k}`)));
  group.addEventListener('change', () => setParams({group: group.value || null}, {replace: true}));
  controls.element.append(group);
  const groupLegend = h('div', {class: 'group-legend', 'aria-label': 'Groups'});
  const grid = h('div', {class: 'chart-grid'});
  const onlyDiff = h('input', {type: 'checkbox', 'aria-label': 'Only params that differ'});
  const paramsBox = h('div', {class: 'table-wrap params-compare'});
  const options = [...usedParams.map((k) => h('option', {value: `p:${k}`}, `param ${k}`)), ...usedMetrics.map((k) => h('option', {value: `m:${k}`}, `metric ${k}`))];
  const sx = h('select', {'aria-label': 'Scatter x axis'}, options.map((o) => o.cloneNode(true)));
  const sy = h('select', {'aria-label': 'Scatter y axis'}, usedMetrics.map((k) => h('option', {value: `m:${k}`}, `metric ${k}`)));
  const scatterBox = h('div', {class: 'canvas-box'});
  const scatterReadout = h('div', {class: 'readout small'}, '\u00a0');
  const pc = h('select', {'aria-label': 'Parallel coordinates metric'}, usedMetrics.map((k) => h('option', {value: k}, `metric ${k}`)));
  const parallelBox = h('div', {class: 'canvas-box'});
  for (const select of [sx, sy]) select.addEventListener('change', () => setParams({sx: sx.value, sy: sy.value}, {replace: true}));
  pc.addEventListener('change', () => setParams({pc: pc.value}, {replace: true}));
  onlyDiff.addEventListener('change', () => setParams({diff: onlyDiff.checked ? '1' : null}, {replace: true}));

  fill(root, h('h1', {}, `Comparing ${runs.length} run${runs.length === 1 ? '' : 's'}`),
    runs.length < runIds.length ? errorBox({message: `${runIds.length - runs.length} of the runs in the link were not found.`}) : null,
    legend,
    h('section', {}, h('h2', {}, 'Metrics'), controls.element, groupLegend, usedMetrics.length ? grid : emptyState('These runs have no metrics.')),
    h('section', {}, h('h2', {}, 'Parameters'), h('label', {class: 'inline'}, onlyDiff, ' Only params that differ'), paramsBox),
    h('div', {class: 'two-col'},
      h('section', {}, h('h2', {}, 'Scatter'), h('div', {class: 'toolbar'}, sx, h('span', {}, 'against'), sy), scatterBox, scatterReadout),
      h('section', {}, h('h2', {}, 'Parallel coordinates'), h('div', {class: 'toolbar'}, h('span', {}, 'Params and'), pc), parallelBox)));
  for (const swatch of legend.querySelectorAll('.swatch')) swatch.style.background = swatch.dataset.color;

  // One chart per metric key, overlaid runs; fetched when scrolled into view.
  const cards = usedMetrics.map((key) => chartCard(key, {
    load: async (card) => (await api.series({
      // Many overlaid runs: one point per pixel each is plenty (and half the data).
      run_id: runs.map((r) => r.run_id), key,
      max_points: Math.ceil(maxPointsFor(card.chart.width()) / (runs.length > 20 ? 2 : 1)),
      min_step: card.zoom ? card.zoom.minStep : null, max_step: card.zoom ? card.zoom.maxStep : null,
    })).series,
    traces: (card) => {
      const traces = rawTraces(card);
      return state.group ? groupTraces(traces, runs, state.group) : traces.filter(Boolean);
    },
    options: () => state.options,
    describe: (card) => {
      const reduced = card.series.filter((s) => s.reduced).length;
      return `${card.series.length} runs${reduced ? `, ${reduced} reduced (extremes kept)` : ''}`;
    },
  }));
  for (const card of cards) grid.append(card.element);

  function rawTraces(card) {
    const byRun = new Map(card.series.map((s) => [s.run_id, s]));
    return runs.map((run) => {
      const s = byRun.get(run.run_id);
      if (!s) return null;
      const steps = s.steps.map(Number);
      const times = s.timestamps.map(Number);
      const mode = state.options.xMode;
      const xs = mode === 'rel' ? times.map((t) => (t - (run.start_time || times[0] || 0)) / 1000)
        : mode === 'wall' ? times.map((t) => t / 1000) : steps;
      return {label: run.run_name || run.run_id, color: colorFor(run.run_id), xs, ys: s.values.map(num), steps};
    });
  }

  function drawParams() {
    const differs = (k) => new Set(runs.map((r) => r.params[k] ?? '\u0000')).size > 1;
    const keys = state.diff ? usedParams.filter(differs) : usedParams;
    if (!keys.length) {
      fill(paramsBox, emptyState(usedParams.length ? 'All params are the same in these runs.' : 'These runs have no params.'));
      return;
    }
    fill(paramsBox, h('table', {class: 'grid compact'},
      h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Param'), runs.map((r) => h('th', {scope: 'col', title: r.run_id},
        h('a', {href: `#/runs/${encodeURIComponent(r.run_id)}`}, r.run_name || r.run_id), ' ', statusBadge(r.status))))),
      h('tbody', {}, keys.map((k) => h('tr', {class: differs(k) ? 'differs' : ''},
        h('th', {scope: 'row', class: 'mono'}, k), runs.map((r) => h('td', {}, r.params[k] ?? '')))))));
  }

  function valueOf(run, spec) {
    const kind = spec.slice(0, 1);
    const key = spec.slice(2);
    return kind === 'p' ? run.params[key] : num(run.metrics[key]);
  }

  function drawScatterChart() {
    if (!sx.value || !sy.value) {
      fill(scatterBox, emptyState('Log params or metrics to see a scatter.'));
      return;
    }
    const width = Math.max(300, scatterBox.clientWidth || 560);
    drawScatter(scatterBox, scatterReadout, runs.map((run) => ({
      label: run.run_name || run.run_id, color: colorFor(run.run_id), x: valueOf(run, sx.value), y: valueOf(run, sy.value),
    })), {xLabel: sx.value.slice(2), yLabel: sy.value.slice(2), width});
  }

  function drawParallelChart() {
    if (!pc.value) {
      fill(parallelBox, emptyState('Log a metric to see parallel coordinates.'));
      return;
    }
    const differing = usedParams.filter((k) => new Set(runs.map((r) => r.params[k])).size > 1).slice(0, 10);
    const axes = [...differing, pc.value];
    const width = Math.max(300, parallelBox.clientWidth || 560);
    drawParallel(parallelBox, runs.map((run) => ({
      label: run.run_name, color: colorFor(run.run_id),
      values: {...Object.fromEntries(differing.map((k) => [k, run.params[k]])), [pc.value]: num(run.metrics[pc.value])},
    })), axes, {width});
  }

  function drawGroupLegend() {
    if (!state.group) {
      fill(groupLegend);
      return;
    }
    const counts = new Map();
    for (const run of runs) {
      const value = run.params[state.group] ?? '(not set)';
      counts.set(value, (counts.get(value) || 0) + 1);
    }
    fill(groupLegend, [...counts.entries()].map(([value, n]) => h('span', {},
      h('span', {class: 'swatch', dataset: {color: colorFor(`group:${state.group}=${value}`)}}),
      `${state.group}=${value} (${n} run${n === 1 ? '' : 's'}): mean, band from min to max`)));
    for (const swatch of groupLegend.querySelectorAll('.swatch')) swatch.style.background = swatch.dataset.color;
  }

  function apply() {
    controls.set(state.options);
    drawGroupLegend();
    group.value = state.group;
    onlyDiff.checked = state.diff;
    if (state.sx && [...sx.options].some((o) => o.value === state.sx)) sx.value = state.sx;
    else if (usedMetrics.length) {
      const differing = usedParams.find((k) => new Set(runs.map((r) => r.params[k])).size > 1);
      sx.value = differing || usedParams.length ? `p:${differing || usedParams[0]}` : `m:${usedMetrics[0]}`;
    }
    if (state.sy && [...sy.options].some((o) => o.value === state.sy)) sy.value = state.sy;
    if (state.pc && [...pc.options].some((o) => o.value === state.pc)) pc.value = state.pc;
    for (const card of cards) {
      card.element.hidden = Boolean(state.options.keys) && !card.key.toLowerCase().includes(state.options.keys.toLowerCase());
      card.draw();
    }
    drawParams();
    drawScatterChart();
    drawParallelChart();
  }

  apply();
  startVisibleNow();
  return {
    update(next) {
      state = stateOf(next);
      apply();
    },
    destroy() {
      for (const card of cards) card.destroy();
    },
  };
}

function stateOf(route) {
  return {
    options: chartOptions(route.params),
    group: route.params.get('group') || '',
    diff: route.params.get('diff') === '1',
    sx: route.params.get('sx') || '',
    sy: route.params.get('sy') || '',
    pc: route.params.get('pc') || '',
  };
}
