// Modal questions (<dialog>): confirm a change, or ask for a name. Keyboard: Enter, Escape.

import {h} from './dom.js';

function open(content, onSubmit) {
  return new Promise((resolve) => {
    const form = h('form', {method: 'dialog', class: 'dialog-form'}, content.body,
      h('div', {class: 'actions'},
        h('button', {type: 'button', class: 'secondary', value: 'cancel', onclick: () => dialog.close('cancel')}, 'Cancel'),
        h('button', {type: 'submit', class: content.danger ? 'danger' : 'primary', value: 'ok'}, content.ok)));
    const dialog = h('dialog', {'aria-label': content.title}, h('h2', {}, content.title), form);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      dialog.close('ok');
    });
    dialog.addEventListener('close', () => {
      const value = dialog.returnValue === 'ok' ? onSubmit() : null;
      dialog.remove();
      resolve(value);
    });
    document.body.append(dialog);
    dialog.showModal();
    (content.focus || form.querySelector('button[type=submit]')).focus();
  });
}

/** Asks before a change; resolves true when confirmed. */
export async function confirmDialog(title, message, ok = 'OK', danger = true) {
  return (await open({title, ok, danger, body: h('p', {}, message)}, () => true)) === true;
}

/** Asks for a text (a name); resolves it, or null when cancelled. */
export function promptDialog(title, label, initial = '', ok = 'Save') {
  const input = h('input', {type: 'text', value: initial, required: true, 'aria-label': label, size: 40});
  const body = h('label', {class: 'field'}, h('span', {}, label), input);
  return open({title, ok, body, focus: input}, () => input.value.trim() || null);
}
