// Starts the page: picks the view for the URL and swaps it when the URL changes.

import {clear, errorBox, h} from './dom.js';
import {current, listen} from './router.js';
import * as experiments from './pages/experiments.js';
import * as runs from './pages/runs.js';
import * as run from './pages/run.js';
import * as compare from './pages/compare.js';

const root = document.getElementById('app');
const crumbs = document.getElementById('crumbs');
let active = null; // {page, key, view}
let generation = 0; // a newer navigation wins over a slower older one
// The server writes its settings into the page: no request stands before the first data.
const config = {
  read_only: document.querySelector('meta[name="runstack-read-only"]').content === '1',
};

function pick(route) {
  const [first, id] = route.parts;
  if (!first) return {page: experiments, key: 'experiments'};
  if (first === 'experiments' && id) return {page: runs, key: `experiments/${id}`};
  if (first === 'runs' && id) return {page: run, key: `runs/${id}`};
  // Another set of runs is another page; chart options on the same runs are an update.
  if (first === 'compare') return {page: compare, key: `compare:${route.params.get('runs')}:${route.params.get('exp')}`};
  return null;
}

async function show(route) {
  const chosen = pick(route);
  const mine = ++generation;
  if (active && chosen && active.key === chosen.key && active.view && active.view.update) {
    active.view.update(route);
    return;
  }
  if (active && active.view && active.view.destroy) active.view.destroy();
  active = null;
  clear(root);
  clear(crumbs);
  if (!chosen) {
    root.append(errorBox({message: `No page at ${location.hash}.`}), h('a', {href: '#/'}, 'All experiments'));
    return;
  }
  const ctx = {root, crumbs, config};
  document.title = 'runstack';
  root.focus({preventScroll: true});
  document.getElementById('readonly').hidden = !ctx.config.read_only;
  try {
    const view = await chosen.page.render(ctx, route);
    if (mine !== generation) {
      if (view && view.destroy) view.destroy();
      return;
    }
    active = {...chosen, view};
  } catch (error) {
    if (mine !== generation) return;
    clear(root);
    root.append(errorBox(error));
  }
}

listen(show);
show(current());
