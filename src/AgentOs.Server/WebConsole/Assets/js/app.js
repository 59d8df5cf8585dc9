// The AgentOs web console: a client of the server's public HTTP API (/v1), served by the server itself at /.
// Routes live in the URL's fragment, so the server serves one page:
//   #/                      the VMs
//   #/new[?vm=ID]           a new session
//   #/vm/ID                 a VM's sessions
//   #/vm/ID/s/SESSION       a session, live
// A VM id with '/' (team-a/x) is written with %2F in the fragment, as the API writes it in paths.

import { api, auth, onUnauthorized } from './api.js';
import { h, replaceChildren } from './dom.js';
import { newSessionView } from './views/new-session.js';
import { sessionView } from './views/session.js';
import { signInView } from './views/signin.js';
import { vmView } from './views/vm.js';
import { vmsView } from './views/vms.js';

const view = document.getElementById('view');
const identity = document.getElementById('identity');
const signOut = document.getElementById('sign-out');
let current = null;

function parse(hash) {
  const [path, query] = hash.replace(/^#/, '').split('?');
  const parts = (path || '/').split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query ?? '');
  if (parts.length === 0) return { name: 'vms' };
  if (parts[0] === 'new') return { name: 'new', vm: params.get('vm') };
  if (parts[0] === 'vm' && parts.length === 2) return { name: 'vm', vm: parts[1] };
  if (parts[0] === 'vm' && parts.length === 4 && parts[2] === 's') return { name: 'session', vm: parts[1], session: parts[3] };
  return { name: 'missing' };
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function show(make) {
  current?.dispose();
  current = null;
  current = make();
}

function route() {
  const r = parse(location.hash);
  document.body.dataset.view = r.name;
  switch (r.name) {
    case 'vms': return show(() => vmsView(view));
    case 'new': return show(() => newSessionView(view, { vm: r.vm, navigate }));
    case 'vm': return show(() => vmView(view, { vm: r.vm }));
    case 'session': return show(() => sessionView(view, { vm: r.vm, session: r.session }));
    default: return show(() => { replaceChildren(view, h('section', { class: 'page' }, h('h1', { text: 'Not found' }), h('a', { href: '#/', text: 'To the VMs' }))); return { dispose() {} }; });
  }
}

function showIdentity() {
  identity.textContent = auth.key ? `key ${auth.key.split('_')[1] ?? ''}` : '';
  signOut.hidden = !auth.key;
}

function requireSignIn(reason) {
  document.body.dataset.view = 'signin';
  show(() => signInView(view, { reason, onSignedIn: () => { showIdentity(); route(); } }));
}

onUnauthorized((e) => {
  if (document.body.dataset.view === 'signin') return;
  const hadKey = Boolean(auth.key);
  auth.clear();
  showIdentity();
  requireSignIn(hadKey ? e.detail?.message : undefined);
});

signOut.addEventListener('click', () => {
  auth.clear();
  showIdentity();
  requireSignIn();
});

window.addEventListener('hashchange', route);

(async () => {
  showIdentity();
  try {
    await api('GET', '/v1/vms'); // a 401 here shows the sign-in form (onUnauthorized)
    route();
  } catch (error) {
    if (error.status !== 401) {
      replaceChildren(view, h('section', { class: 'page' }, h('h1', { text: 'The server did not answer' }), h('p', { class: 'error', text: error.message })));
    }
  }
})();
