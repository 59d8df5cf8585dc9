// The VMs: each with its state (awake or asleep), live sessions, last activity and disk use, all from GET /v1/vms,
// which reads them without calling the VMs: a console left open on this page neither wakes a sleeping VM nor keeps
// an idle one from falling asleep. Sleep and destroy ask for confirmation first.

import { api, vmPath } from '../api.js';
import { h, replaceChildren, toast } from '../dom.js';
import { confirmAction } from '../dialog.js';
import { ago, bytes } from '../format.js';

const REFRESH_MS = 5000;

export function vmsView(view) {
  const body = h('tbody');
  const empty = h('p', { class: 'muted empty', text: 'No VMs yet. A VM is made by its first session.', hidden: true });
  const table = h('table', { class: 'vms' },
    h('thead', null, h('tr', null, ['VM', 'State', 'Live sessions', 'Last activity', 'Disk', ''].map((t) => h('th', { text: t })))),
    body);
  replaceChildren(view, h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', { text: 'VMs' }), h('a', { class: 'button primary', href: '#/new', text: 'New session' })),
    table, empty));

  let timer = 0;
  let disposed = false;
  async function refresh() {
    clearTimeout(timer);
    try {
      const vms = await api('GET', '/v1/vms');
      if (disposed) return;
      replaceChildren(body, vms.map((vm) => row(vm, refresh)));
      empty.hidden = vms.length > 0;
    } catch (error) {
      if (!disposed && error.status !== 401) toast(`Could not list the VMs: ${error.message}`, 'error');
    }
    if (!disposed) timer = setTimeout(refresh, REFRESH_MS);
  }
  refresh();
  return { dispose() { disposed = true; clearTimeout(timer); } };
}

function row(vm, refresh) {
  const live = vm.liveSessions ?? 0;
  const sleep = h('button', { type: 'button', text: 'Sleep', disabled: !vm.active, dataset: { action: 'sleep' } });
  const destroy = h('button', { type: 'button', class: 'danger', text: 'Destroy', dataset: { action: 'destroy' } });
  sleep.addEventListener('click', async () => {
    if (!await confirmAction({ title: `Put ${vm.id} to sleep?`, message: `Its ${live} running agent(s) stop and its sessions are suspended; nothing is lost. The next call wakes it.`, confirm: 'Sleep' })) return;
    try {
      await api('POST', `${vmPath(vm.id)}/sleep`);
      toast(`${vm.id} is asleep.`);
    } catch (error) {
      toast(`Could not put ${vm.id} to sleep: ${error.message}`, 'error');
    }
    refresh();
  });
  destroy.addEventListener('click', async () => {
    if (!await confirmAction({ title: `Destroy ${vm.id}?`, message: 'Its agents stop, and its sessions, transcripts and files are deleted. This cannot be undone.', confirm: 'Destroy', danger: true })) return;
    try {
      await api('DELETE', vmPath(vm.id));
      toast(`${vm.id} was destroyed.`);
    } catch (error) {
      toast(`Could not destroy ${vm.id}: ${error.message}`, 'error');
    }
    refresh();
  });
  return h('tr', { dataset: { vm: vm.id } },
    h('td', null, h('a', { href: `#/vm/${encodeURIComponent(vm.id)}`, text: vm.id })),
    h('td', null, h('span', { class: `state ${vm.active ? 'awake' : 'asleep'}`, text: vm.active ? 'awake' : 'asleep' })),
    h('td', { class: 'num', text: String(live) }),
    h('td', { text: ago(vm.lastActivity), title: vm.lastActivity ?? '' }),
    h('td', { class: 'num', text: bytes(vm.homeBytes), title: vm.homeBytes === null ? 'not measured yet (the VM has not been awake since the server started)' : '' }),
    h('td', { class: 'actions' }, sleep, destroy));
}
