// A session: its transcript as a conversation, live. The events come from the session's SSE stream (history first,
// then live, each seq once, reconnecting from the last seq after a drop); they are folded into items (transcript.js)
// and drawn in a virtual list at the next animation frame, so a burst of events costs one layout. Below it: the
// permission requests and elicitations waiting for an answer (approvals.js), the prompts waiting in the queue, and the
// prompt box.
// Opening a session reads its history only: no agent is started until a prompt is sent or Resume is pressed.

import { api, sessionPath } from '../api.js';
import { Approvals } from '../approvals.js';
import { h, replaceChildren, toast } from '../dom.js';
import { confirmAction } from '../dialog.js';
import { estimate, renderItem } from '../render.js';
import { SessionEventStream } from '../sse.js';
import { Transcript, promptText } from '../transcript.js';
import { VirtualList } from '../virtual-list.js';

const MAX_LATENCY_SAMPLES = 10000;

export function sessionView(view, { vm, session }) {
  const base = sessionPath(vm, session);
  const transcript = new Transcript();
  const latencies = [];
  const sending = []; // prompts posted and not yet seen in the transcript: { text, since, controller }
  let info = null; // the persisted session
  let agentRuns = null; // whether the agent runs, from the events after `info` was read (null: as `info` says)

  // --- the page ------------------------------------------------------------------------------------------------
  const status = h('span', { id: 'session-status', class: 'state', text: '…' });
  const streamState = h('span', { id: 'stream-state', class: 'stream', text: 'connecting' });
  const title = h('span', { class: 'session-title' });
  const agentType = h('span', { class: 'muted' });
  const mode = h('select', { id: 'mode', disabled: true, attrs: { 'aria-label': 'Mode' } });
  const model = h('select', { id: 'model', disabled: true, attrs: { 'aria-label': 'Model' } });
  const thought = h('select', { id: 'thought-level', disabled: true, attrs: { 'aria-label': 'Thought level' } });
  const resume = h('button', { type: 'button', id: 'resume', text: 'Resume', hidden: true });
  const close = h('button', { type: 'button', id: 'close-session', text: 'Close' });
  const usage = h('span', { id: 'usage', class: 'muted' });
  const scroller = h('div', { id: 'transcript', class: 'transcript', tabIndex: 0, attrs: { role: 'log', 'aria-label': 'Transcript' } });
  const approvals = h('div', { id: 'approvals' });
  const queue = h('div', { id: 'queue' });
  const problem = h('div', { id: 'stream-problem', class: 'banner error', hidden: true });
  const prompt = h('textarea', { id: 'prompt', rows: 3, placeholder: 'Message the agent (Enter sends, Shift+Enter for a new line)', attrs: { 'aria-label': 'Prompt' } });
  const send = h('button', { type: 'submit', id: 'send', class: 'primary', text: 'Send' });
  const cancel = h('button', { type: 'button', id: 'cancel', text: 'Cancel', disabled: true });
  const composer = h('form', { id: 'composer', class: 'composer' }, prompt, h('div', { class: 'buttons' }, send, cancel));

  replaceChildren(view, h('section', { class: 'session' },
    h('div', { class: 'session-head' },
      h('div', { class: 'crumbs' },
        h('a', { href: '#/', text: 'VMs' }), ' / ',
        h('a', { href: `#/vm/${encodeURIComponent(vm)}`, text: vm }), ' / ',
        h('span', { class: 'mono', text: session }), ' ', agentType, ' ', title),
      h('div', { class: 'controls' },
        status, streamState,
        h('label', { class: 'picker' }, 'Mode ', mode),
        h('label', { class: 'picker' }, 'Model ', model),
        h('label', { class: 'picker' }, 'Thinking ', thought),
        resume, close)),
    problem,
    scroller,
    approvals,
    queue,
    composer,
    h('div', { class: 'session-foot' }, usage)));

  const approvalsView = new Approvals(approvals, base, transcript);
  const renderContext = { terminal: (terminalId) => transcript.terminals.get(terminalId) };
  const list = new VirtualList(scroller, {
    render: (i) => renderItem(transcript.items[i], renderContext),
    version: (i) => transcript.items[i].version,
    estimate: (i, width) => estimate(transcript.items[i], width),
  });

  // --- events → screen -----------------------------------------------------------------------------------------
  let frame = 0;
  let waiting = []; // createdAt (ms) of live events received and not yet drawn
  const openedAt = Date.now();
  function draw() {
    frame = 0;
    list.sync(transcript.items.length, transcript.takeChanged());
    list.draw();
    const now = Date.now();
    for (const created of waiting) {
      latencies.push(now - created);
    }
    if (latencies.length > MAX_LATENCY_SAMPLES) latencies.splice(0, latencies.length - MAX_LATENCY_SAMPLES);
    waiting = [];
    scroller.dataset.lastSeq = String(transcript.lastSeq);
    drawState();
  }

  const stream = new SessionEventStream(`${base}/events/stream`, {
    onEvents(events) {
      transcript.apply(events);
      for (const e of events) {
        const created = Date.parse(e.createdAt);
        if (created >= openedAt) waiting.push(created); // live events only: history is as old as it is
      }
      settleSends(events);
      for (const e of events) {
        const m = e.event?.method;
        if (m === 'session/request_permission') approvalsView.check('permissions');
        if (m === 'elicitation/create') approvalsView.check('elicitations');
        // An agent that starts after the session was read: read it again (its modes and options are the new agent's).
        // An agent that exits is taken from the event alone: reading the session then would wake a VM just put to sleep.
        if (!info || e.seq <= info.lastSeq) continue; // history the session's record already reflects
        if (m === '_agentos/agent_start' || m === '_agentos/agent_exit') agentRuns = m === '_agentos/agent_start';
        if (m === '_agentos/agent_start' || m === '_agentos/resume') refreshInfo();
      }
      if (!frame) frame = requestAnimationFrame(draw);
    },
    onState(state, detail) {
      streamState.textContent = state === 'live' ? 'live' : state;
      streamState.dataset.state = state;
      streamState.title = detail ?? '';
    },
    onProblem(p) {
      problem.hidden = false;
      problem.textContent = `The stream ended: ${p?.detail ?? p?.title ?? 'unknown reason'}`;
    },
  }).start();

  // --- the session's state, pickers, approvals and queue ---------------------------------------------------------
  let infoTimer = 0;
  function refreshInfo() {
    clearTimeout(infoTimer);
    infoTimer = setTimeout(loadInfo, 150);
  }
  async function loadInfo() {
    try {
      info = await api('GET', base);
      agentRuns = null;
      agentType.textContent = `(${info.agentType})`;
      if (info.status === 'active') await loadConfig();
      if (info.status === 'starting') infoTimer = setTimeout(loadInfo, 500); // no event marks the end of a start that fails quietly
    } catch (error) {
      if (error.status !== 401) toast(`Could not read the session: ${error.message}`, 'error');
    }
    drawState();
  }

  let modes = null;
  let models = null; // ACP `models`, for agents without a model config option (pi, Claude Code)
  async function loadConfig() {
    const [m, options, ms] = await Promise.all([
      api('GET', `${base}/modes`).catch(() => null),
      api('GET', `${base}/config-options`).catch(() => null),
      api('GET', `${base}/models`).catch(() => null),
    ]);
    modes = m;
    models = ms;
    if (options && transcript.configOptions === null) transcript.configOptions = options;
    if (m && transcript.mode === null) transcript.mode = m.currentModeId;
  }

  function fillSelect(select, choices, current, live) {
    const wanted = JSON.stringify(choices);
    if (select.dataset.choices !== wanted) {
      replaceChildren(select, choices.map((c) => h('option', { value: c.value, text: c.name ?? c.value })));
      select.dataset.choices = wanted;
    }
    if (current !== null && current !== undefined && document.activeElement !== select) select.value = current;
    select.disabled = !live || choices.length === 0;
    select.parentElement.hidden = choices.length === 0;
  }

  function drawState() {
    const live = agentRuns ?? info?.status === 'active';
    const state = transcript.running && live ? 'running' : !info ? '…' : live ? 'idle' : agentRuns === false ? 'stopped' : info.status;
    status.textContent = state;
    status.dataset.state = state;
    status.className = `state ${state}`;
    cancel.disabled = !transcript.running;
    resume.hidden = !info || live;
    close.hidden = !live;
    if (transcript.title) title.textContent = transcript.title;
    const options = transcript.configOptions ?? [];
    const byCategory = (category) => options.find((o) => o.category === category);
    const modeChoices = modes?.availableModes?.map((x) => ({ value: x.id, name: x.name })) ?? [];
    fillSelect(mode, modeChoices, transcript.mode, live);
    const modelOption = byCategory('model');
    if (modelOption) fillSelect(model, modelOption.options ?? [], modelOption.currentValue, live);
    else fillSelect(model, (models?.availableModels ?? []).map((x) => ({ value: x.modelId, name: x.name })), models?.currentModelId, live);
    const thoughtOption = byCategory('thought_level');
    fillSelect(thought, thoughtOption?.options ?? [], thoughtOption?.currentValue, live);
    const u = transcript.usage;
    usage.textContent = u ? `context ${u.used ?? '?'} of ${u.size ?? '?'} tokens${u.cost ? ` · ${u.cost.amount} ${u.cost.currency ?? ''}` : ''}` : '';
    approvalsView.draw();
    drawQueue();
  }

  function drawQueue() {
    const entries = [
      ...transcript.queue.map((q) => ({ text: q.text, label: 'queued' })),
      ...sending.filter((s) => !s.seen).map((s) => ({ text: s.text, label: 'sending' })),
    ];
    const key = JSON.stringify(entries);
    if (queue.dataset.key === key) return;
    queue.dataset.key = key;
    replaceChildren(queue, entries.map((e) => h('div', { class: `queued ${e.label}` }, h('span', { class: 'badge', text: e.label }), h('span', { class: 'text', text: e.text }))));
  }

  // --- prompts ------------------------------------------------------------------------------------------------
  // A prompt's POST answers when its turn ends; the console needs no answer (the events tell), and a browser keeps
  // only six connections per server, so the request is let go once the server has recorded the prompt (its
  // _agentos/prompt or _agentos/prompt_queued event): the turn goes on in the VM (the API cancels nothing on a client
  // that leaves unless asked to). Errors before that (busy, too large, unknown session) are shown.
  function settleSends(events) {
    for (const e of events) {
      const m = e.event?.method;
      if (m !== '_agentos/prompt' && m !== '_agentos/prompt_queued') continue;
      const sent = promptText(e.event.params?.prompt);
      const match = sending.find((s) => !s.seen && s.text === sent && e.seq > s.since);
      if (match) {
        match.seen = true;
        match.controller.abort();
      }
    }
    for (let i = sending.length - 1; i >= 0; i--) if (sending[i].seen) sending.splice(i, 1);
  }

  async function sendPrompt(text) {
    const entry = { text, since: transcript.lastSeq, controller: new AbortController(), seen: false };
    sending.push(entry);
    drawQueue();
    list.toBottom();
    try {
      await api('POST', `${base}/prompt`, { text }, { signal: entry.controller.signal });
    } catch (error) {
      if (!entry.seen && error.name !== 'AbortError') toast(`The prompt failed: ${error.message}`, 'error');
    } finally {
      entry.seen = true;
      const i = sending.indexOf(entry);
      if (i >= 0) sending.splice(i, 1);
      drawQueue();
    }
  }

  composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = prompt.value;
    if (!text.trim()) return;
    prompt.value = '';
    sendPrompt(text);
  });
  prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });
  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    try {
      await api('POST', `${base}/cancel`);
    } catch (error) {
      toast(`Could not cancel: ${error.message}`, 'error');
    }
  });
  resume.addEventListener('click', async () => {
    resume.disabled = true;
    try {
      await api('POST', `${base}/resume`);
    } catch (error) {
      toast(`Could not resume: ${error.message}`, 'error');
    }
    resume.disabled = false;
    loadInfo();
  });
  close.addEventListener('click', async () => {
    if (!await confirmAction({ title: 'Close this session?', message: 'Its agent stops; the transcript is kept and the session can be resumed.', confirm: 'Close' })) return;
    try {
      await api('POST', `${base}/close`);
    } catch (error) {
      toast(`Could not close: ${error.message}`, 'error');
    }
    loadInfo();
  });
  const setter = (select, path, field) => select.addEventListener('change', async () => {
    try {
      await api('PUT', `${base}/${path}`, { [field]: select.value });
      // An agent without config options reports no change of model: keep what it accepted.
      if (path === 'model' && models) models = { ...models, currentModelId: select.value };
    } catch (error) {
      toast(`Could not change it: ${error.message}`, 'error');
      drawState();
    }
  });
  setter(mode, 'mode', 'modeId');
  setter(model, 'model', 'modelId');
  setter(thought, 'thought-level', 'level');

  const ticker = setInterval(() => { if (approvalsView.waiting) approvalsView.draw(); }, 1000);
  loadInfo().then(() => {
    approvalsView.check('permissions');
    approvalsView.check('elicitations');
  });
  prompt.focus();

  // What the browser tests (and a curious person, in the devtools) read: how the stream and the drawing went.
  window.agentosConsole = {
    stats: () => ({
      lastSeq: transcript.lastSeq,
      events: transcript.events,
      items: transcript.items.length,
      mounted: list.mountedCount,
      running: transcript.running,
      connections: stream.stats.connections,
      skipped: stream.stats.skipped,
      gaps: stream.stats.gaps,
      latencies: latencies.slice(),
    }),
    dropStream: () => stream.drop(),
    scrollToIndex: (i) => list.scrollToIndex(i),
  };

  return {
    dispose() {
      stream.stop();
      for (const s of sending) s.controller.abort();
      clearInterval(ticker);
      clearTimeout(infoTimer);
      if (frame) cancelAnimationFrame(frame);
      list.destroy();
      delete window.agentosConsole;
    },
  };
}
