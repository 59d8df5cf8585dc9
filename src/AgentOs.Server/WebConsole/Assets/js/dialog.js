// A confirmation asked in the page (a modal <dialog>), for what cannot be undone or stops agents.

import { h } from './dom.js';

/** Resolves true when the user confirms. */
export function confirmAction({ title, message, confirm = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: danger ? 'danger' : 'primary', text: confirm, dataset: { action: 'confirm' } });
    const cancel = h('button', { type: 'button', text: 'Cancel', dataset: { action: 'cancel' } });
    const dialog = h('dialog', { class: 'confirm' },
      h('h2', { text: title }),
      h('p', { text: message }),
      h('div', { class: 'actions' }, cancel, ok));
    const done = (value) => { dialog.close(); dialog.remove(); resolve(value); };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    document.body.appendChild(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
