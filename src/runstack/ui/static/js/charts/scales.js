// Axes for the hand-drawn canvas charts: numbers get a linear scale, anything else is a
// category placed evenly (sorted), so a param like optimizer=adam can be an axis too.

import {fmtNum} from '../format.js';

export function axisScale(values) {
  const present = values.filter((v) => v !== null && v !== undefined && v !== '');
  const numbers = present.map(Number);
  const numeric = present.length > 0 && numbers.every((n) => Number.isFinite(n));
  if (numeric) {
    let lo = Math.min(...numbers);
    let hi = Math.max(...numbers);
    if (lo === hi) {
      lo -= 0.5;
      hi += 0.5;
    }
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => ({at: t, label: fmtNum(lo + t * (hi - lo))}));
    return {numeric, toUnit: (v) => (v === null || v === undefined || v === '' || !Number.isFinite(Number(v)) ? null : (Number(v) - lo) / (hi - lo)), ticks};
  }
  const categories = [...new Set(present.map(String))].sort();
  const step = categories.length > 1 ? 1 / (categories.length - 1) : 0;
  const at = new Map(categories.map((c, i) => [c, categories.length > 1 ? i * step : 0.5]));
  const every = Math.max(1, Math.ceil(categories.length / 8));
  return {
    numeric,
    toUnit: (v) => (v === null || v === undefined || !at.has(String(v)) ? null : at.get(String(v))),
    ticks: categories.filter((_, i) => i % every === 0).map((c) => ({at: at.get(c), label: c.length > 14 ? `${c.slice(0, 13)}…` : c})),
  };
}

/** A canvas sized for the screen's pixel ratio, with its 2D context scaled to CSS pixels. */
export function hiDpiCanvas(width, height, label) {
  const canvas = document.createElement('canvas');
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', label);
  const ctx = canvas.getContext('2d');
  ctx.scale(ratio, ratio);
  return {canvas, ctx};
}
