// The filter box: runstack's whole search grammar; a malformed filter shows the server's
// message with a caret under the character it points at.

import {clear, fill, h} from './dom.js';

export function filterBox(onApply) {
  const input = h('input', {
    type: 'text', class: 'filter mono grow', spellcheck: 'false', autocomplete: 'off',
    placeholder: "Filter: metrics.loss < 0.5 AND (params.lr IN ('0.1', '0.01') OR NOT tags.team = 'x')",
    'aria-label': 'Filter runs (search grammar)', 'aria-describedby': 'filter-error',
  });
  const caret = h('pre', {class: 'caret mono', 'aria-hidden': 'true', hidden: true});
  const message = h('div', {class: 'error', id: 'filter-error', role: 'alert', hidden: true});
  const apply = h('button', {class: 'primary'}, 'Apply');
  const form = h('form', {class: 'filter-form', role: 'search'},
    h('div', {class: 'filter-row'}, input, apply), caret, message);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    onApply(input.value.trim());
  });
  return {
    element: form,
    input,
    set(text) {
      if (document.activeElement !== input) input.value = text;
    },
    showError(error, text) {
      // The server's message may draw its own caret on further lines: ours is under the box.
      fill(message, String(error.message).split('\n')[0]);
      message.hidden = false;
      const position = Number.isInteger(error.position) ? error.position : null;
      if (position !== null && position >= 0 && position <= text.length) {
        // Same monospace font and padding as the box: the caret sits under the character.
        fill(caret, ' '.repeat(position) + '^');
        caret.hidden = false;
        input.setAttribute('aria-invalid', 'true');
      } else {
        caret.hidden = true;
      }
    },
    clearError() {
      clear(message);
      message.hidden = true;
      caret.hidden = true;
      input.removeAttribute('aria-invalid');
    },
  };
}
