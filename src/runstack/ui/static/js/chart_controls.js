// Chart options shared by the run and compare pages, kept in the URL:
// x=step|wall|rel, log=1, smooth=0..0.99, keys=<substring of metric keys>.

import {debounce, h} from './dom.js';

export function chartOptions(params) {
  const x = params.get('x');
  const smooth = Number(params.get('smooth'));
  return {
    xMode: x === 'wall' || x === 'rel' ? x : 'step',
    logY: params.get('log') === '1',
    smooth: Number.isFinite(smooth) && smooth > 0 && smooth < 1 ? smooth : 0,
    keys: params.get('keys') || '',
  };
}

export function chartControls(initial, onChange, {xModes = ['step', 'wall', 'rel']} = {}) {
  const labels = {step: 'Step', wall: 'Wall time', rel: 'Relative time'};
  const keys = h('input', {type: 'search', placeholder: 'Filter charts by key', 'aria-label': 'Filter charts by metric key'});
  const x = h('select', {'aria-label': 'X axis'}, xModes.map((m) => h('option', {value: m}, labels[m])));
  const log = h('input', {type: 'checkbox', 'aria-label': 'Log scale y axis'});
  const smoothOn = h('input', {type: 'checkbox', 'aria-label': 'Smoothing'});
  const smooth = h('input', {type: 'range', min: '0', max: '0.99', step: '0.01', 'aria-label': 'Smoothing weight'});
  const smoothValue = h('output', {class: 'mono small'});
  const element = h('div', {class: 'toolbar chart-controls'},
    keys,
    h('label', {class: 'inline'}, 'X axis ', x),
    h('label', {class: 'inline'}, log, ' Log y'),
    h('label', {class: 'inline'}, smoothOn, ' Smoothing'), smooth, smoothValue);

  function set(options) {
    if (document.activeElement !== keys) keys.value = options.keys;
    x.value = options.xMode;
    log.checked = options.logY;
    smoothOn.checked = options.smooth > 0;
    if (options.smooth > 0) smooth.value = String(options.smooth);
    smooth.disabled = !(options.smooth > 0);
    smoothValue.textContent = options.smooth > 0 ? options.smooth.toFixed(2) : 'off';
  }

  keys.addEventListener('input', debounce(() => onChange({keys: keys.value}), 200));
  x.addEventListener('change', () => onChange({x: x.value === 'step' ? null : x.value}));
  log.addEventListener('change', () => onChange({log: log.checked ? '1' : null}));
  smoothOn.addEventListener('change', () => onChange({smooth: smoothOn.checked ? (Number(smooth.value) > 0 ? smooth.value : '0.6') : null}));
  smooth.addEventListener('input', () => {
    smoothValue.textContent = Number(smooth.value).toFixed(2);
  });
  smooth.addEventListener('change', () => onChange({smooth: Number(smooth.value) > 0 ? smooth.value : null}));
  set(initial);
  return {element, set, keys};
}
