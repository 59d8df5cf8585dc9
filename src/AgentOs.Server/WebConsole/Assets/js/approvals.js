// The agent's questions waiting for the person watching, as banners above the prompt box: permission requests
// (`session/request_permission`: the agent's options as buttons) and elicitations (`elicitation/create`: a form built
// from its schema, or a URL to open, with Accept, Decline and Cancel), each with the time left before the server answers
// it itself. A banner shows once the server confirms that its question still waits (GET …/permissions, …/elicitations:
// a question in the history of an agent that has since stopped waits for nobody), and goes when the answer's
// `_agentos/client_response` event arrives: in every browser watching the session, whoever answered.

import { api } from './api.js';
import { h, toast } from './dom.js';
import { elicitationForm, FieldError } from './elicitation-form.js';
import { seconds } from './format.js';
import { safeUrl } from './markdown.js';

const KINDS = {
  permissions: { pending: (t) => t.pending },
  elicitations: { pending: (t) => t.pendingElicitations },
};

export class Approvals {
  /**
   * @param {HTMLElement} container  where the banners go
   * @param {string} base  the session's API path
   * @param {import('./transcript.js').Transcript} transcript  whose pending questions are shown
   */
  constructor(container, base, transcript) {
    this.container = container;
    this.base = base;
    this.transcript = transcript;
    /** kind → requestSeq → { expiresAt, pending } once the server listed it as waiting, or { gone: true }. */
    this.known = { permissions: new Map(), elicitations: new Map() };
    this.banners = new Map(); // `${kind}:${seq}` → banner node
    this.scheduled = new Set();
  }

  /** Whether a question waits in the transcript (the view then redraws the time left every second). */
  get waiting() { return this.transcript.pending.size > 0 || this.transcript.pendingElicitations.size > 0; }

  /** Asks the server (soon, once however many events asked) which questions of `kind` still wait, then draws. */
  check(kind) {
    if (this.scheduled.has(kind)) return;
    this.scheduled.add(kind);
    setTimeout(async () => {
      this.scheduled.delete(kind);
      await this.confirm(kind);
      this.draw();
    }, 0);
  }

  async confirm(kind) {
    const inTranscript = KINDS[kind].pending(this.transcript);
    if (!inTranscript.size) return;
    const known = this.known[kind];
    try {
      const pending = await api('GET', `${this.base}/${kind}`);
      // The time left is counted against this browser's clock (a server elsewhere is assumed to keep the same time).
      for (const p of pending) known.set(p.requestId, { expiresAt: Date.parse(p.expiresAt), pending: p });
      for (const seq of inTranscript.keys()) {
        if (!pending.some((p) => p.requestId === seq) && !known.has(seq)) known.set(seq, { gone: true });
      }
    } catch {
      // shown as not confirmed; the next question's event asks again
    }
  }

  /** Shows a banner for each confirmed question the transcript has no answer to, and removes the others. */
  draw() {
    const shown = new Set();
    for (const kind of Object.keys(KINDS)) {
      for (const [seq, item] of KINDS[kind].pending(this.transcript)) {
        const state = this.known[kind].get(seq);
        if (!state || state.gone) continue;
        const key = `${kind}:${seq}`;
        let banner = this.banners.get(key);
        if (!banner) {
          banner = kind === 'permissions' ? this.permissionBanner(seq, item) : this.elicitationBanner(seq, item, state.pending);
          this.banners.set(key, banner);
          this.container.appendChild(banner);
        }
        banner.querySelector('.time-left').textContent = `${seconds(state.expiresAt - Date.now())} left`;
        shown.add(key);
      }
    }
    for (const [key, banner] of this.banners) {
      if (shown.has(key)) continue;
      banner.remove();
      this.banners.delete(key);
    }
  }

  gone(kind, seq) {
    this.known[kind].set(seq, { gone: true });
    toast('That question was already answered or has expired.');
    this.draw();
  }

  // --- permission requests ---------------------------------------------------------------------------------------
  permissionBanner(seq, item) {
    const buttons = item.options.map((o) => {
      const button = h('button', { type: 'button', class: /^allow/.test(o.kind ?? '') ? 'primary' : /^reject/.test(o.kind ?? '') ? 'danger' : '', text: o.name ?? o.optionId, dataset: { optionId: o.optionId } });
      button.addEventListener('click', () => this.answerPermission(seq, o.optionId, banner));
      return button;
    });
    const banner = h('div', { class: 'banner approval', dataset: { requestSeq: String(seq) }, attrs: { role: 'alert' } },
      h('div', { class: 'question' },
        h('strong', { text: 'The agent asks for permission: ' }),
        h('span', { text: item.toolCall?.title ?? item.toolCall?.toolCallId ?? 'a tool call' }),
        item.toolCall?.kind ? h('span', { class: 'muted', text: ` (${item.toolCall.kind})` }) : null),
      h('div', { class: 'buttons' }, buttons),
      h('span', { class: 'time-left' }));
    return banner;
  }

  async answerPermission(seq, optionId, banner) {
    for (const b of banner.querySelectorAll('button')) b.disabled = true;
    try {
      await api('POST', `${this.base}/permissions/${seq}`, { optionId });
      // The banner goes when the answer's event arrives, here and in every other browser watching.
    } catch (error) {
      if (error.code === 'PermissionNotPending') {
        this.gone('permissions', seq);
      } else {
        toast(`Could not answer: ${error.message}`, 'error');
        for (const b of banner.querySelectorAll('button')) b.disabled = false;
      }
    }
  }

  // --- elicitations ----------------------------------------------------------------------------------------------
  elicitationBanner(seq, item, pending) {
    const mode = pending?.mode ?? item.mode;
    const message = pending?.message ?? item.message;
    let form = null;
    let body;
    if (mode === 'form') {
      form = elicitationForm(pending?.requestedSchema ?? item.schema);
      body = form.node;
    } else if (mode === 'url') {
      body = urlView(pending?.url ?? item.url);
    } else {
      body = h('div', { class: 'muted', text: `This console cannot show a "${mode}" elicitation: decline or cancel it.` });
    }
    const error = h('div', { class: 'error elicit-error', attrs: { role: 'alert' } });
    const buttons = [['accept', 'Accept', 'primary'], ['decline', 'Decline', ''], ['cancel', 'Cancel', '']].map(([action, text, cls]) => {
      const button = h('button', { type: action === 'accept' ? 'submit' : 'button', class: cls, text, dataset: { action }, disabled: action === 'accept' && mode !== 'form' && mode !== 'url' });
      if (action !== 'accept') button.addEventListener('click', () => this.answerElicitation(seq, action, banner, form, error));
      return button;
    });
    // A form, so Enter in a field accepts; it is never submitted anywhere (the page's policy allows no form action), and
    // the browser's own checks are off (noValidate): the server judges the answer and the banner shows what it says.
    const banner = h('form', { class: 'banner approval elicitation', noValidate: true, dataset: { elicitationSeq: String(seq), mode }, attrs: { 'aria-label': `The agent asks: ${message}` } },
      h('div', { class: 'question' },
        h('strong', { text: mode === 'url' ? 'The agent asks you to open a page: ' : 'The agent asks: ' }),
        h('span', { class: 'message', text: message })),
      body,
      error,
      h('div', { class: 'answer' }, h('div', { class: 'buttons' }, buttons), h('span', { class: 'time-left' })));
    banner.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!buttons[0].disabled) this.answerElicitation(seq, 'accept', banner, form, error);
    });
    return banner;
  }

  async answerElicitation(seq, action, banner, form, error) {
    let content;
    if (action === 'accept' && form) {
      try {
        content = form.read();
      } catch (problem) {
        if (!(problem instanceof FieldError)) throw problem;
        error.textContent = problem.message;
        form.showProblem(`field '${problem.field}'`);
        return;
      }
    }
    const buttons = banner.querySelectorAll('button');
    for (const b of buttons) b.disabled = true;
    try {
      await api('POST', `${this.base}/elicitations/${seq}`, content === undefined ? { action } : { action, content });
      error.textContent = '';
      // The banner goes when the answer's event arrives, here and in every other browser watching.
    } catch (problem) {
      if (problem.code === 'ElicitationNotPending') {
        this.gone('elicitations', seq);
        return;
      }
      // The server's word on what does not fit the form (400: the elicitation still waits), without its preamble.
      error.textContent = problem.status === 400 ? problem.message.replace(/^Elicitation \d+ of session '[^']*': /, '') : `Could not answer: ${problem.message}`;
      form?.showProblem(problem.message);
      for (const b of buttons) b.disabled = false;
    }
  }
}

/**
 * A URL elicitation's address: its host large (what the person should judge; the URL parser shows a name with foreign
 * letters in its punycode form and drops a user:password@ prefix from the host), the whole URL as text, and a link
 * that opens it in a new tab only when clicked, with no opener and no referrer. An address that is not http(s) is no link.
 */
function urlView(raw) {
  const href = safeUrl(raw ?? '');
  if (!href) {
    return h('div', { class: 'elicit-url' },
      h('div', { class: 'error', text: 'The agent gave an address that is not http or https; it is not offered as a link:' }),
      h('div', { class: 'path full-url', text: String(raw ?? '') }));
  }
  const url = new URL(href);
  return h('div', { class: 'elicit-url' },
    h('div', { class: 'host-line' },
      h('span', { class: 'muted', text: url.protocol === 'https:' ? 'Site: ' : 'Site (not encrypted): ' }),
      h('strong', { class: 'host', text: url.host })),
    h('div', { class: 'path full-url', text: href }),
    h('a', { class: 'button open-url', href, target: '_blank', rel: 'noopener noreferrer', referrerPolicy: 'no-referrer', text: `Open ${url.host} in a new tab` }));
}
