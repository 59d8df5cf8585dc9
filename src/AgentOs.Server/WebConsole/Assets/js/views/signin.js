// Sign-in: the server needs an API key (it listens beyond loopback, or AgentOs:Http:RequireApiKeys is set). The key
// is checked against GET /v1/vms and kept in sessionStorage only: gone when the tab closes.

import { api, auth, ApiError } from '../api.js';
import { h, replaceChildren } from '../dom.js';

export function signInView(view, { reason, onSignedIn }) {
  const key = h('input', { type: 'password', id: 'api-key', name: 'api-key', autocomplete: 'off', spellcheck: false, required: true, placeholder: 'aos_…' });
  const error = h('p', { class: 'error', attrs: { role: 'alert' } });
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Sign in' });
  const form = h('form', { class: 'card signin', attrs: { 'aria-labelledby': 'signin-title' } },
    h('h1', { id: 'signin-title', text: 'Sign in' }),
    h('p', { class: 'muted', text: 'This server needs an API key. Create one on the server with `dotnet run --project src/AgentOs.Server -- keys create --role admin`. The key is kept in this browser tab only.' }),
    reason ? h('p', { class: 'error', text: reason }) : null,
    h('label', { htmlFor: 'api-key', text: 'API key' }),
    key,
    error,
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    auth.set(key.value.trim());
    try {
      await api('GET', '/v1/vms');
      onSignedIn();
    } catch (err) {
      auth.clear();
      error.textContent = err instanceof ApiError && err.status === 401 ? `The server refused this key: ${err.message}` : `Could not sign in: ${err.message}`;
    } finally {
      submit.disabled = false;
    }
  });
  replaceChildren(view, form);
  key.focus();
  return { dispose() {} };
}
