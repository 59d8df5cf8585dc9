// One VM's persisted sessions (GET …/sessions: read from its database, no agent started, asleep or not).

import { api, vmPath } from '../api.js';
import { h, replaceChildren, toast } from '../dom.js';
import { time } from '../format.js';

export function vmView(view, { vm }) {
  const body = h('tbody');
  const empty = h('p', { class: 'muted empty', text: 'No sessions.', hidden: true });
  replaceChildren(view, h('section', { class: 'page' },
    h('div', { class: 'page-head' },
      h('h1', null, h('a', { href: '#/', text: 'VMs' }), ' / ', h('span', { text: vm })),
      h('a', { class: 'button primary', href: `#/new?vm=${encodeURIComponent(vm)}`, text: 'New session here' })),
    h('table', { class: 'sessions' },
      h('thead', null, h('tr', null, ['Session', 'Agent type', 'Created', 'Status', 'Events'].map((t) => h('th', { text: t })))),
      body),
    empty));
  let disposed = false;
  (async () => {
    try {
      const sessions = await api('GET', `${vmPath(vm)}/sessions`);
      if (disposed) return;
      replaceChildren(body, sessions.map((s) => h('tr', { dataset: { session: s.sessionId } },
        h('td', null, h('a', { href: `#/vm/${encodeURIComponent(vm)}/s/${encodeURIComponent(s.sessionId)}`, text: s.sessionId, class: 'mono' })),
        h('td', { text: s.agentType }),
        h('td', { text: time(s.createdAt) }),
        h('td', null, h('span', { class: `state ${s.status}`, text: s.status })),
        h('td', { class: 'num', text: String(s.lastSeq) }))));
      empty.hidden = sessions.length > 0;
    } catch (error) {
      if (error.status !== 401) toast(`Could not list the sessions of ${vm}: ${error.message}`, 'error');
    }
  })();
  return { dispose() { disposed = true; } };
}
