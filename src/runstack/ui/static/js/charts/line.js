// A line chart on uPlot (canvas): traces of one or many runs, x by step or time, log y,
// EMA smoothing with the raw line faint behind, group bands, a hover readout, and drag to
// zoom (the caller refetches the range at full resolution).

import {h, fill} from '../dom.js';
import {fmtDuration, fmtNum, fmtTime} from '../format.js';
import {faint, theme} from './colors.js';
import {ema} from './smoothing.js';

const X_LABEL = {step: 'step', wall: 'time', rel: 'relative time'};

/** A trace's points sorted by x, one point per x (the last), non-finite y as gaps. */
function clean(trace, logY) {
  const order = trace.xs.map((_, i) => i).sort((a, b) => trace.xs[a] - trace.xs[b]);
  const xs = [];
  const ys = [];
  const pick = (v) => (v === null || !Number.isFinite(v) || (logY && v <= 0) ? null : v);
  for (const i of order) {
    const x = trace.xs[i];
    if (x === null || !Number.isFinite(x)) continue;
    if (xs.length && xs[xs.length - 1] === x) {
      ys[ys.length - 1] = pick(trace.ys[i]);
    } else {
      xs.push(x);
      ys.push(pick(trace.ys[i]));
    }
  }
  return {xs, ys, lo: trace.lo, hi: trace.hi};
}

/** uPlot series and data tables for the traces under the chart options. */
function plan(traces, options) {
  const series = [];
  const tables = [];
  const bands = [];
  for (const trace of traces) {
    const {xs, ys} = clean(trace, options.logY);
    if (trace.lo && trace.hi) {
      const lo = clean({xs: trace.xs, ys: trace.lo}, options.logY).ys;
      const hi = clean({xs: trace.xs, ys: trace.hi}, options.logY).ys;
      const at = series.length + 1;
      series.push({label: `${trace.label} max`, stroke: faint(trace.color, 0.35), width: 1, hidden: true});
      tables.push([xs, hi]);
      series.push({label: `${trace.label} min`, stroke: faint(trace.color, 0.35), width: 1, hidden: true});
      tables.push([xs, lo]);
      bands.push({series: [at, at + 1], fill: faint(trace.color, 0.15)});
    }
    if (options.smooth > 0) {
      series.push({label: `${trace.label} (raw)`, stroke: faint(trace.color, 0.25), width: 1, raw: true, name: trace.label});
      tables.push([xs, ys]);
      series.push({label: trace.label, stroke: trace.color, width: 1.5, name: trace.label});
      tables.push([xs, ema(ys, options.smooth)]);
    } else {
      series.push({label: trace.label, stroke: trace.color, width: 1.5, name: trace.label});
      tables.push([xs, ys]);
    }
  }
  let data;
  if (!tables.length) data = [[]];
  else if (tables.length === 1) data = [tables[0][0], tables[0][1]];
  else data = window.uPlot.join(tables);
  return {series, data, bands};
}

function fmtX(x, mode) {
  if (mode === 'wall') return fmtTime(x * 1000);
  if (mode === 'rel') return fmtDuration(x * 1000);
  return `step ${fmtNum(x)}`;
}

/** The steps covered by an x range, over all traces (for a zoom refetch). */
export function stepRange(traces, min, max) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const trace of traces) {
    trace.xs.forEach((x, i) => {
      if (x >= min && x <= max) {
        lo = Math.min(lo, trace.steps[i]);
        hi = Math.max(hi, trace.steps[i]);
      }
    });
  }
  return lo <= hi ? {minStep: Math.floor(lo), maxStep: Math.ceil(hi)} : null;
}

export function lineChart(container, {height = 220, onZoom = null} = {}) {
  const box = h('div', {class: 'plot'});
  const readout = h('div', {class: 'readout small', 'aria-live': 'off'});
  container.append(box, readout);
  let plot = null;
  let signature = '';
  let mode = 'step';
  let resize = null;

  function readoutFor(u) {
    const idx = u.cursor.idx;
    if (idx === null || idx === undefined) {
      fill(readout, '\u00a0');
      return;
    }
    const yAtCursor = u.posToVal(u.cursor.top, 'y');
    const values = [];
    u.series.forEach((s, i) => {
      if (i === 0 || s.raw || s.hidden) return;
      const v = u.data[i][idx];
      if (v !== null && v !== undefined) values.push({name: s.name || s.label, v, color: s._color});
    });
    values.sort((a, b) => Math.abs(a.v - yAtCursor) - Math.abs(b.v - yAtCursor));
    const shown = values.slice(0, 4).map((p) => h('span', {class: 'pt'}, h('span', {class: 'swatch', dataset: {color: p.color}}), `${p.name}: ${fmtNum(p.v)}`));
    fill(readout, h('span', {class: 'muted'}, fmtX(u.data[0][idx], mode)), ' ', shown,
      values.length > 4 ? h('span', {class: 'muted'}, ` +${values.length - 4} more`) : null);
    for (const swatch of readout.querySelectorAll('.swatch')) swatch.style.background = swatch.dataset.color;
  }

  function build(planned, options) {
    if (plot) plot.destroy();
    const colors = theme();
    const width = Math.max(200, box.clientWidth || container.clientWidth || 400);
    const axis = {stroke: colors.fg, grid: {stroke: colors.grid, width: 1}, ticks: {stroke: colors.grid, width: 1}};
    plot = new window.uPlot({
      width,
      height,
      scales: {x: {time: options.xMode === 'wall'}, y: {distr: options.logY ? 3 : 1}},
      axes: [
        {...axis, size: 36, values: options.xMode === 'rel' ? (u, ticks) => ticks.map((t) => fmtDuration(t * 1000)) : undefined},
        {...axis, size: 64, values: (u, ticks) => ticks.map((t) => fmtNum(t))},
      ],
      series: [
        {label: X_LABEL[options.xMode] || 'x'},
        ...planned.series.map((s) => ({...s, _color: s.stroke, spanGaps: true, show: true})),
      ],
      bands: planned.bands,
      legend: {show: false},
      cursor: {drag: {x: true, y: false, setScale: false}},
      hooks: {
        setCursor: [readoutFor],
        setSelect: [(u) => {
          const {left, width: span} = u.select;
          if (span < 4 || !onZoom) return;
          const min = u.posToVal(left, 'x');
          const max = u.posToVal(left + span, 'x');
          u.setSelect({left: 0, top: 0, width: 0, height: 0}, false);
          onZoom({min, max});
        }],
      },
    }, planned.data, box);
    plot.over.addEventListener('dblclick', () => onZoom && onZoom(null));
    if (!resize) {
      resize = new ResizeObserver(() => {
        const w = Math.max(200, box.clientWidth);
        if (plot && Math.abs(plot.width - w) > 2) plot.setSize({width: w, height});
      });
      resize.observe(box);
    }
  }

  return {
    /** Draws the traces: [{label, color, xs, ys, steps, lo?, hi?}] with {xMode, logY, smooth}. */
    set(traces, options) {
      mode = options.xMode;
      const planned = plan(traces, options);
      const next = JSON.stringify([options, planned.series.map((s) => [s.label, s.stroke]), planned.bands.length]);
      if (plot && next === signature) {
        plot.setData(planned.data);
      } else {
        build(planned, options);
        signature = next;
      }
      fill(readout, '\u00a0');
    },
    width() {
      return box.clientWidth || container.clientWidth;
    },
    canvas() {
      return plot ? plot.ctx.canvas : null;
    },
    destroy() {
      if (resize) resize.disconnect();
      if (plot) plot.destroy();
      plot = null;
    },
  };
}
