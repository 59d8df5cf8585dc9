// One transcript item as DOM: messages (markdown, built as nodes), thoughts, tool-call cards with their diffs, output
// and terminals, plans, permission requests, elicitations, terminals no tool call shows, the agent's other requests of
// AgentOs, and system lines. Everything an agent produced goes in as text (h() and renderMarkdown() never parse HTML).

import { h } from './dom.js';
import { renderMarkdown, safeUrl } from './markdown.js';
import { bytes, clip, json } from './format.js';

const STATUS_LABELS = { pending: 'pending', in_progress: 'running', completed: 'done', failed: 'failed' };

/**
 * A terminal's output is shown from its end, at most this many characters (the transcript keeps its last 64 KiB): one
 * text node of bounded size, scrolled within its box, whatever the command wrote.
 */
export const MAX_TERMINAL_CHARS = 20_000;

/** The estimated height of an item before it is drawn, for the virtual list. */
export function estimate(item, width) {
  const perLine = Math.max(20, Math.floor((width - 80) / 8));
  const lines = (s) => Math.ceil((s?.length ?? 0) / perLine) + (s?.split('\n').length ?? 1) - 1;
  switch (item.kind) {
    case 'user': return 52 + 20 * Math.min(lines(item.text), 200);
    case 'agent': return 20 + 22 * Math.min(lines(item.text), 2000);
    case 'thought': return 34;
    case 'tool': return 40;
    case 'plan': return 36 + 22 * (item.entries?.length ?? 0);
    case 'permission': return 60;
    case 'elicitation': return 40;
    case 'terminal': return 40;
    case 'turn': return 14;
    default: return 24;
  }
}

/**
 * @param {object} item  a transcript item
 * @param {object} context  terminal(terminalId) → the terminal's item, for tool calls that show one
 */
export function renderItem(item, context = {}) {
  const node = renderers[item.kind]?.(item, context) ?? h('div', { class: 'sys', text: `(${item.kind})` });
  node.dataset.seq = String(item.seq);
  node.dataset.kind = item.kind;
  return node;
}

const renderers = {
  user: (item) => h('div', { class: 'msg user' },
    h('div', { class: 'who', text: 'You' }),
    h('div', { class: 'bubble', text: item.text })),

  agent: (item) => h('div', { class: 'msg agent' }, h('div', { class: 'md' }, renderMarkdown(item.text))),

  thought: (item) => toggle(item, 'thought', false,
    [h('span', { class: 'label', text: 'Thinking' }), h('span', { class: 'preview', text: clip(item.text.replace(/\s+/g, ' '), 120) })],
    () => [h('div', { class: 'plain', text: item.text })]),

  tool: (item, context) => {
    const diff = item.content?.some((c) => c?.type === 'diff');
    const terminals = (item.content ?? []).filter((c) => c?.type === 'terminal').map((c) => context.terminal?.(c.terminalId)).filter(Boolean);
    const card = toggle(item, `tool status-${item.status}`, diff && item.toolKind === 'edit', [
      h('span', { class: 'kind', text: item.toolKind || 'tool' }),
      h('span', { class: 'title', text: item.title || item.toolCallId || 'Tool call' }),
      h('span', { class: `badge ${item.status}`, text: STATUS_LABELS[item.status] ?? String(item.status) }),
      terminals.filter((t) => t.exit || t.refused).map(terminalBadge),
      item.awaiting ? h('span', { class: 'badge awaiting', text: 'awaiting approval' }) : null,
      item.awaitingInput ? h('span', { class: 'badge awaiting', text: 'awaiting input' }) : null,
    ], () => toolBody(item, context));
    card.dataset.toolCallId = item.toolCallId ?? '';
    card.dataset.status = item.status ?? '';
    return card;
  },

  plan: (item) => h('div', { class: 'plan' },
    h('div', { class: 'label', text: 'Plan' }),
    h('ol', null, (item.entries ?? []).map((e) => h('li', { class: `entry ${e.status ?? ''}` },
      h('span', { class: 'mark', text: e.status === 'completed' ? '✓' : e.status === 'in_progress' ? '▸' : '○', attrs: { 'aria-hidden': 'true' } }),
      h('span', { text: e.content ?? '' }))))),

  permission: (item) => {
    const chosen = item.options.find((o) => o.optionId === item.outcome);
    const answer = item.outcome === null
      ? h('span', { class: 'badge awaiting', text: 'waiting for an answer' })
      : h('span', { class: `badge ${/^allow/.test(chosen?.kind ?? '') ? 'completed' : 'failed'}`, text: `${chosen?.name ?? item.outcome}${item.reason ? ` (${reasonLabel(item.reason)})` : ''}` });
    return h('div', { class: 'permission-card' },
      h('span', { class: 'label', text: 'Permission' }),
      h('span', { class: 'title', text: item.toolCall?.title ?? 'The agent asks for permission' }),
      answer);
  },

  elicitation: (item) => {
    const href = item.mode === 'url' ? safeUrl(item.url) : null;
    const card = toggle(item, 'elicitation-card', false, [
      h('span', { class: 'label', text: item.mode === 'url' ? 'Open a page' : 'Input' }),
      h('span', { class: 'title', text: clip(item.message, 300) }),
      href ? h('span', { class: 'host', text: new URL(href).host }) : null,
      elicitationAnswer(item),
    ], () => [
      item.mode === 'url' ? h('div', { class: 'path', text: item.url ?? '' }) : null,
      item.schema ? h('div', { class: 'fields muted', text: `Fields: ${Object.keys(item.schema.properties ?? {}).join(', ') || '(none)'}` }) : null,
      item.content !== undefined ? h('pre', { class: 'json', text: json(item.content) }) : null,
      item.completed ? h('div', { class: 'muted', text: 'The agent says this step is done.' }) : null,
    ]);
    card.dataset.action = item.action ?? '';
    return card;
  },

  terminal: (item) => {
    const command = clip(terminalCommand(item), 300);
    if (item.tools.size) {
      // Its output is in the tool call(s) that show it: one line here for the terminal's start and end.
      const tool = item.tools.values().next().value;
      return h('div', { class: 'sys terminal-line', text: `Terminal ${command}: ${terminalStatus(item).text}, shown in the tool call "${clip(tool.title || tool.toolCallId, 120)}"` });
    }
    const lastLine = item.output.trimEnd().split('\n').pop() ?? '';
    const card = toggle(item, 'terminal-card', false, [
      h('span', { class: 'label', text: 'Terminal' }),
      h('span', { class: 'path command', text: command }),
      terminalBadge(item),
      lastLine ? h('span', { class: 'preview', text: clip(lastLine, 160) }) : null,
    ], () => [terminalView(item, item.terminalId)]);
    card.dataset.terminalId = item.terminalId ?? '';
    return card;
  },

  request: (item) => toggle(item, 'request', false, requestSummary(item), () => [
    h('pre', { class: 'json', text: json(item.params) }),
    item.response ? h('pre', { class: 'json', text: json(item.response) }) : null,
  ]),

  system: (item) => item.detail
    ? toggle(item, `sys ${item.level}`, false, [h('span', { text: item.text })], () => [h('pre', { class: 'json', text: typeof item.detail === 'object' && !Array.isArray(item.detail) && Object.keys(item.detail).length === 1 && typeof Object.values(item.detail)[0] === 'string' ? Object.values(item.detail)[0] : json(item.detail) })])
    : h('div', { class: `sys ${item.level}`, text: item.text }),

  turn: (item) => h('div', { class: 'turn-end' }, item.tokens ? h('span', { text: `${item.tokens} tokens` }) : null),
};

function elicitationAnswer(item) {
  if (item.action === null) return h('span', { class: 'badge awaiting', text: 'waiting for an answer' });
  const label = { accept: 'accepted', decline: 'declined', cancel: 'cancelled' }[item.action] ?? item.action;
  return h('span', { class: `badge ${item.action === 'accept' ? 'completed' : 'failed'}`, text: `${label}${item.reason ? ` (${reasonLabel(item.reason)})` : ''}` });
}

const terminalCommand = (t) => [t.command, ...t.args].join(' ');

function terminalStatus(t) {
  if (t.refused) return { text: 'refused', state: 'failed' };
  if (t.exit) {
    const why = { killed: 'killed', released: 'released', session_stopped: 'session stopped', agent_exited: 'agent exited' }[t.exit.reason];
    if (t.exit.signal) return { text: `${why ?? 'killed'} (${t.exit.signal})`, state: 'failed' };
    return { text: `exit ${t.exit.exitCode ?? '?'}${why ? ` (${why})` : ''}`, state: t.exit.exitCode === 0 ? 'completed' : 'failed' };
  }
  return t.terminalId ? { text: 'running', state: 'in_progress' } : { text: 'starting', state: 'pending' };
}

function terminalBadge(t) {
  const status = terminalStatus(t);
  return h('span', { class: `badge terminal-status ${status.state}`, text: status.text, dataset: { exitCode: t.exit?.exitCode ?? '' } });
}

/** A terminal: its command, where it ran, its status and its output (the end of it, bounded), as text. */
function terminalView(t, terminalId) {
  if (!t) return h('div', { class: 'terminal' }, h('span', { class: 'label', text: `Terminal ${terminalId ?? ''}` }), h('span', { class: 'muted', text: ' (not in this transcript)' }));
  const meta = [t.cwd ? `in ${t.cwd}` : null, t.env.length ? `env ${t.env.join(', ')}` : null, t.terminalId].filter(Boolean).join(' · ');
  const parts = [h('div', { class: 'term-head' },
    h('span', { class: 'label', text: 'Terminal' }), h('span', { class: 'path command', text: terminalCommand(t) }), terminalBadge(t),
    h('span', { class: 'muted', text: meta }))];
  if (t.refused) parts.push(h('div', { class: 'error', text: t.refused }));
  const output = t.output ?? '';
  let shown = output;
  if (output.length > MAX_TERMINAL_CHARS) {
    shown = output.slice(output.length - MAX_TERMINAL_CHARS);
    const newline = shown.indexOf('\n');
    if (newline >= 0 && newline < 400) shown = shown.slice(newline + 1); // from a line's start
  }
  const written = t.bytesWritten ?? t.outputBytes;
  if (shown.length < output.length || t.outputTruncated || t.truncated) {
    parts.push(h('div', { class: 'muted term-note', text: `… earlier output not shown: the last ${shown.length.toLocaleString()} characters${written ? ` of ${bytes(written)} written` : ''}` }));
  }
  if (shown) parts.push(h('div', { class: 'term-output' }, h('pre', { text: shown })));
  else if (!t.refused) parts.push(h('div', { class: 'muted', text: t.exit ? 'No output.' : 'No output yet.' }));
  if (t.lastError) parts.push(h('div', { class: 'error', text: t.lastError }));
  const node = h('div', { class: 'terminal' }, parts);
  node.dataset.terminalId = t.terminalId ?? '';
  return node;
}

function reasonLabel(reason) {
  return { policy: 'by policy', client: 'answered', timeout: 'timed out', turn_cancelled: 'turn cancelled', session_stopped: 'session stopped', agent_exited: 'agent exited' }[reason] ?? reason;
}

/** A collapsible block whose open state survives redraws (kept on the item). */
function toggle(item, className, openByDefault, summary, body) {
  const open = item.open ?? openByDefault;
  const details = h('details', { class: className, open });
  details.appendChild(h('summary', null, summary));
  if (open) details.append(...body().filter(Boolean));
  details.addEventListener('toggle', () => {
    item.open = details.open;
    if (details.open && details.childElementCount === 1) details.append(...body().filter(Boolean));
  });
  return details;
}

function requestSummary(item) {
  const p = item.params ?? {};
  const r = item.response;
  const failed = r?.error ? h('span', { class: 'badge failed', text: clip(r.error.message ?? 'failed', 160) }) : null;
  const done = r && !r.error ? h('span', { class: 'badge completed', text: 'ok' }) : null;
  const waiting = r ? null : h('span', { class: 'badge pending', text: 'waiting' });
  switch (item.method) {
    case 'fs/write_text_file':
      return [h('span', { class: 'label', text: 'Write' }), h('span', { class: 'path', text: p.path ?? '' }),
        h('span', { class: 'muted', text: `${(p.content ?? '').length} characters` }), failed ?? done ?? waiting];
    case 'fs/read_text_file':
      return [h('span', { class: 'label', text: 'Read' }), h('span', { class: 'path', text: p.path ?? '' }), failed ?? done ?? waiting];
    case 'terminal/output':
    case 'terminal/wait_for_exit':
    case 'terminal/kill':
    case 'terminal/release':
      return [h('span', { class: 'label', text: item.method }), h('span', { class: 'path', text: p.terminalId ?? '' }), failed ?? done ?? waiting];
    default:
      return [h('span', { class: 'label', text: item.method }), failed ?? done ?? waiting];
  }
}

function toolBody(item, context) {
  const parts = [];
  const diffPaths = new Set((item.content ?? []).filter((c) => c?.type === 'diff').map((c) => c.path));
  if (item.locations?.some((l) => !diffPaths.has(l.path))) {
    parts.push(h('div', { class: 'locations' }, item.locations.map((l) => h('span', { class: 'path', text: `${l.path ?? ''}${l.line ? `:${l.line}` : ''}` }))));
  }
  for (const block of item.content ?? []) {
    if (block?.type === 'diff') parts.push(diffView(block));
    else if (block?.type === 'terminal') parts.push(terminalView(context.terminal?.(block.terminalId), block.terminalId));
    else if (block?.type === 'content') {
      const c = block.content;
      parts.push(c?.type === 'text' ? h('pre', { class: 'output', text: c.text ?? '' }) : h('div', { class: 'muted', text: `[${c?.type ?? 'content'}]` }));
    } else parts.push(h('pre', { class: 'json', text: json(block) }));
  }
  if (item.rawInput !== undefined) parts.push(h('div', { class: 'label', text: 'Input' }), h('pre', { class: 'json', text: json(item.rawInput) }));
  if (item.rawOutput !== undefined) parts.push(h('div', { class: 'label', text: 'Output' }), h('pre', { class: 'json', text: json(item.rawOutput) }));
  if (!parts.length) parts.push(h('div', { class: 'muted', text: 'No details.' }));
  return parts;
}

/** A line diff of a diff block (oldText → newText), + and - lines marked. */
function diffView(block) {
  const lines = lineDiff(block.oldText ?? '', block.newText ?? '');
  return h('div', { class: 'diff' },
    h('div', { class: 'path', text: `${block.path ?? ''}${block.oldText == null ? ' (new file)' : ''}` }),
    h('pre', null, lines.map(([mark, line]) => h('span', { class: mark === '+' ? 'add' : mark === '-' ? 'del' : 'same', text: `${mark} ${line}\n` }))));
}

/** [mark, line] pairs: the longest common subsequence of lines kept, the rest removed or added. */
export function lineDiff(oldText, newText) {
  const a = oldText === '' ? [] : oldText.split('\n');
  const b = newText === '' ? [] : newText.split('\n');
  if (a.length * b.length > 1_000_000) return [...a.map((l) => ['-', l]), ...b.map((l) => ['+', l])];
  const n = a.length;
  const m = b.length;
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] = a[i] === b[j] ? lcs[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push([' ', a[i]]); i++; j++; }
    else if (lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) out.push(['-', a[i++]]);
    else out.push(['+', b[j++]]);
  }
  while (i < n) out.push(['-', a[i++]]);
  while (j < m) out.push(['+', b[j++]]);
  return out;
}
