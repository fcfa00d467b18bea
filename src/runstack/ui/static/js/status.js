// A run's status as a badge; RUNNING pulses, KILLED says why.

import {h} from './dom.js';

export function statusBadge(status, killedReason) {
  const badge = h('span', {class: `status st-${String(status).toLowerCase()}`, title: killedReason || status}, status);
  if (status === 'KILLED' && killedReason) {
    return h('span', {class: 'status-wrap'}, badge, h('span', {class: 'reason small muted'}, killedReason));
  }
  return badge;
}
