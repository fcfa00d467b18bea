// Parallel coordinates on canvas: one vertical axis per param (and the chosen metric last),
// one polyline per run in its colour.

import {theme} from './colors.js';
import {axisScale, hiDpiCanvas} from './scales.js';

const PAD = {left: 40, right: 60, top: 34, bottom: 20};

/** runs: [{label, color, values: {axisName: value}}]; axes: [names]. */
export function drawParallel(container, runs, axes, {width, height = 320}) {
  const colors = theme();
  const {canvas, ctx} = hiDpiCanvas(width, height, `Parallel coordinates of ${axes.join(', ')}`);
  const scales = axes.map((axis) => axisScale(runs.map((r) => r.values[axis])));
  const plotH = height - PAD.top - PAD.bottom;
  const gap = axes.length > 1 ? (width - PAD.left - PAD.right) / (axes.length - 1) : 0;
  const ax = (i) => PAD.left + i * gap;
  const ay = (u) => PAD.top + (1 - u) * plotH;
  ctx.lineWidth = 1.2;
  for (const run of runs) {
    ctx.strokeStyle = run.color;
    ctx.globalAlpha = runs.length > 50 ? 0.5 : 0.85;
    ctx.beginPath();
    let drawing = false;
    axes.forEach((axis, i) => {
      const u = scales[i].toUnit(run.values[axis]);
      if (u === null) {
        drawing = false;
        return;
      }
      if (drawing) ctx.lineTo(ax(i), ay(u));
      else ctx.moveTo(ax(i), ay(u));
      drawing = true;
    });
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
  ctx.font = '11px system-ui, sans-serif';
  axes.forEach((axis, i) => {
    ctx.strokeStyle = colors.fg;
    ctx.beginPath();
    ctx.moveTo(ax(i), PAD.top);
    ctx.lineTo(ax(i), PAD.top + plotH);
    ctx.stroke();
    ctx.fillStyle = colors.fg;
    ctx.textAlign = 'center';
    ctx.fillText(axis.length > 22 ? `${axis.slice(0, 21)}…` : axis, ax(i), 14);
    ctx.textAlign = 'left';
    for (const t of scales[i].ticks) ctx.fillText(t.label, ax(i) + 4, ay(t.at) + 4);
  });
  container.replaceChildren(canvas);
}
