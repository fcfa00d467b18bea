// A scatter of runs on canvas: x is any param or metric, y a metric; hover names the run.

import {fill} from '../dom.js';
import {fmtNum} from '../format.js';
import {theme} from './colors.js';
import {axisScale, hiDpiCanvas} from './scales.js';

const PAD = {left: 70, right: 16, top: 12, bottom: 36};

/** points: [{label, color, x, y}] drawn into container; readout shows the nearest on hover. */
export function drawScatter(container, readout, points, {xLabel, yLabel, width, height = 300}) {
  const colors = theme();
  const {canvas, ctx} = hiDpiCanvas(width, height, `Scatter of ${yLabel} against ${xLabel}`);
  const xs = axisScale(points.map((p) => p.x));
  const ys = axisScale(points.map((p) => p.y));
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const px = (u) => PAD.left + u * plotW;
  const py = (u) => PAD.top + (1 - u) * plotH;
  ctx.font = '11px system-ui, sans-serif';
  ctx.strokeStyle = colors.grid;
  ctx.fillStyle = colors.fg;
  ctx.lineWidth = 1;
  for (const t of xs.ticks) {
    ctx.beginPath();
    ctx.moveTo(px(t.at), PAD.top);
    ctx.lineTo(px(t.at), PAD.top + plotH);
    ctx.stroke();
    ctx.textAlign = 'center';
    ctx.fillText(t.label, px(t.at), height - PAD.bottom + 14);
  }
  for (const t of ys.ticks) {
    ctx.beginPath();
    ctx.moveTo(PAD.left, py(t.at));
    ctx.lineTo(PAD.left + plotW, py(t.at));
    ctx.stroke();
    ctx.textAlign = 'right';
    ctx.fillText(t.label, PAD.left - 6, py(t.at) + 4);
  }
  ctx.textAlign = 'center';
  ctx.fillText(xLabel, PAD.left + plotW / 2, height - 4);
  const placed = [];
  for (const p of points) {
    const ux = xs.toUnit(p.x);
    const uy = ys.toUnit(p.y);
    if (ux === null || uy === null) continue;
    const at = {x: px(ux), y: py(uy), p};
    placed.push(at);
    ctx.beginPath();
    ctx.fillStyle = p.color;
    ctx.arc(at.x, at.y, 4, 0, Math.PI * 2);
    ctx.fill();
  }
  canvas.addEventListener('mousemove', (event) => {
    const box = canvas.getBoundingClientRect();
    const mx = event.clientX - box.left;
    const my = event.clientY - box.top;
    let best = null;
    let bestD = 20 * 20;
    for (const at of placed) {
      const d = (at.x - mx) ** 2 + (at.y - my) ** 2;
      if (d < bestD) {
        best = at;
        bestD = d;
      }
    }
    fill(readout, best ? `${best.p.label}: ${xLabel} = ${fmtNum(best.p.x)}, ${yLabel} = ${fmtNum(best.p.y)}` : '\u00a0');
  });
  fill(container, canvas);
  return placed.length;
}
