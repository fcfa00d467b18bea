// One metric's chart card, shared by the run and compare pages: its caption, the chart, the
// fetch when it scrolls into view, drag-zoom refetching the step range at full resolution,
// pan left / right by half the range, and reset.

import {errorBox, fill, h} from '../dom.js';
import {whenVisible} from './lazy.js';
import {lineChart, stepRange} from './line.js';

/**
 * load(card) resolves the card's data (stored as card.series); traces(card) turns it into
 * chart traces; options() gives the chart options; describe(card) the caption's note.
 */
export function chartCard(key, {load, traces, options, describe}) {
  const note = h('span', {class: 'muted small'});
  const left = h('button', {class: 'link small', 'aria-label': `Pan ${key} left`, title: 'Pan left'}, '◀');
  const right = h('button', {class: 'link small', 'aria-label': `Pan ${key} right`, title: 'Pan right'}, '▶');
  const reset = h('button', {class: 'link small'}, 'Reset zoom');
  const zoomControls = h('span', {class: 'zoom-controls', hidden: true}, left, right, reset);
  const body = h('div', {class: 'chart-body'});
  const element = h('figure', {class: 'chart-card', dataset: {key}},
    h('figcaption', {}, h('span', {class: 'mono'}, key), note, zoomControls), body);
  const card = {key, element, series: null, zoom: null, visible: false};

  async function refresh() {
    try {
      card.series = await load(card);
      draw();
    } catch (error) {
      fill(note, errorBox(error));
    }
  }

  function draw() {
    if (!card.series) return;
    card.chart.set(traces(card), options());
    element.dataset.drawn = String(Number(element.dataset.drawn || 0) + 1);
    zoomControls.hidden = !card.zoom;
    fill(note, describe(card));
  }

  function zoomTo(steps) {
    card.zoom = steps;
    refresh();
  }

  card.chart = lineChart(body, {
    onZoom: (range) => {
      if (!range) {
        if (card.zoom) zoomTo(null);
        return;
      }
      if (!card.series) return;
      const steps = stepRange(traces(card).filter(Boolean), range.min, range.max);
      if (steps) zoomTo(steps);
    },
  });
  reset.addEventListener('click', () => zoomTo(null));
  for (const [button, direction] of [[left, -1], [right, 1]]) {
    button.addEventListener('click', () => {
      if (!card.zoom) return;
      const span = card.zoom.maxStep - card.zoom.minStep;
      const shift = direction * Math.max(1, Math.ceil(span / 2));
      const minStep = Math.max(0, card.zoom.minStep + shift);
      zoomTo({minStep, maxStep: minStep + span});
    });
  }
  const stop = whenVisible(element, () => {
    card.visible = true;
    refresh();
  });
  card.refresh = refresh;
  card.draw = draw;
  card.destroy = () => {
    stop();
    card.chart.destroy();
  };
  return card;
}
