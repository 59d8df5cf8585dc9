// Creating a session: the VM (new or existing), the agent type from the server's list, the agent's environment as
// key/value pairs whose values are masked, the working directory and the permission policy.

import { api, vmPath } from '../api.js';
import { h, replaceChildren } from '../dom.js';

export function newSessionView(view, { vm: presetVm, navigate }) {
  const vm = h('input', { id: 'vm', name: 'vm', required: true, value: presetVm ?? '', placeholder: 'my-project', autocomplete: 'off', spellcheck: false });
  const vmList = h('datalist', { id: 'vm-list' });
  vm.setAttribute('list', 'vm-list');
  const agentType = h('select', { id: 'agent-type', name: 'agentType', required: true });
  const cwd = h('input', { id: 'cwd', name: 'cwd', placeholder: '/home/agentos', autocomplete: 'off', spellcheck: false });
  const policy = h('select', { id: 'permission-policy', name: 'permissionPolicy' },
    h('option', { value: 'allowAll', text: 'Allow all (the agent works unattended)' }),
    h('option', { value: 'ask', text: 'Ask (you answer each request here)' }),
    h('option', { value: 'rejectAll', text: 'Reject all' }));
  const envRows = h('div', { class: 'env-rows' });
  const addEnv = h('button', { type: 'button', text: 'Add variable', dataset: { action: 'add-env' } });
  const error = h('p', { class: 'error', attrs: { role: 'alert' } });
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Create session' });

  function envRow() {
    const key = h('input', { class: 'env-key', placeholder: 'NAME', autocomplete: 'off', spellcheck: false, attrs: { 'aria-label': 'Variable name' } });
    const value = h('input', { class: 'env-value', type: 'password', placeholder: 'value', autocomplete: 'off', spellcheck: false, attrs: { 'aria-label': 'Variable value' } });
    const show = h('button', { type: 'button', class: 'link', text: 'Show', attrs: { 'aria-label': 'Show the value' } });
    show.addEventListener('click', () => {
      value.type = value.type === 'password' ? 'text' : 'password';
      show.textContent = value.type === 'password' ? 'Show' : 'Hide';
    });
    const remove = h('button', { type: 'button', class: 'link', text: 'Remove' });
    const rowNode = h('div', { class: 'env-row' }, key, value, show, remove);
    remove.addEventListener('click', () => rowNode.remove());
    return rowNode;
  }
  addEnv.addEventListener('click', () => envRows.appendChild(envRow()));

  const form = h('form', { class: 'card form', attrs: { 'aria-labelledby': 'new-title' } },
    h('h1', { id: 'new-title', text: 'New session' }),
    h('label', { htmlFor: 'vm', text: 'VM' }), vm, vmList,
    h('p', { class: 'hint', text: 'An existing VM, or a new name (up to 4 names joined by /, e.g. team-a/project-1).' }),
    h('label', { htmlFor: 'agent-type', text: 'Agent type' }), agentType,
    h('span', { class: 'label-text', text: 'Environment' }),
    h('p', { class: 'hint', text: 'Given to this session\'s agent only (API keys, settings); stored encrypted, never shown again.' }),
    envRows, h('div', null, addEnv),
    h('label', { htmlFor: 'cwd', text: 'Working directory' }), cwd,
    h('label', { htmlFor: 'permission-policy', text: 'Permission requests' }), policy,
    error,
    h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const env = {};
    for (const rowNode of envRows.querySelectorAll('.env-row')) {
      const name = rowNode.querySelector('.env-key').value.trim();
      if (name) env[name] = rowNode.querySelector('.env-value').value;
    }
    const body = { agentType: agentType.value, permissionPolicy: policy.value };
    if (Object.keys(env).length) body.env = env;
    if (cwd.value.trim()) body.cwd = cwd.value.trim();
    submit.disabled = true;
    submit.textContent = 'Starting the agent…';
    try {
      const created = await api('POST', `${vmPath(vm.value.trim())}/sessions`, body);
      navigate(`#/vm/${encodeURIComponent(vm.value.trim())}/s/${encodeURIComponent(created.sessionId)}`);
    } catch (err) {
      error.textContent = err.message;
      submit.disabled = false;
      submit.textContent = 'Create session';
    }
  });

  replaceChildren(view, h('section', { class: 'page narrow' }, form));
  (async () => {
    try {
      const [types, vms] = await Promise.all([api('GET', '/v1/agent-types'), api('GET', '/v1/vms')]);
      replaceChildren(agentType, types.map((t) => h('option', { value: t.name, text: t.builtIn ? `${t.name} (built-in)` : t.name })));
      const custom = types.find((t) => !t.builtIn);
      if (custom) agentType.value = custom.name;
      replaceChildren(vmList, vms.map((v) => h('option', { value: v.id })));
    } catch (err) {
      error.textContent = `Could not load the agent types: ${err.message}`;
    }
  })();
  (presetVm ? agentType : vm).focus();
  return { dispose() {} };
}
