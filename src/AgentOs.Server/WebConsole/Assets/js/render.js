// One transcript item as DOM: messages (markdown, built as nodes), thoughts, tool-call cards with their diffs and
// output, plans, permission requests, the agent's requests of AgentOs, and system lines. Everything an agent produced
// goes in as text (h() and renderMarkdown() never parse HTML).

import { h } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { clip, json } from './format.js';

const STATUS_LABELS = { pending: 'pending', in_progress: 'running', completed: 'done', failed: 'failed' };

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
    case 'turn': return 14;
    default: return 24;
  }
}

export function renderItem(item) {
  const node = renderers[item.kind]?.(item) ?? h('div', { class: 'sys', text: `(${item.kind})` });
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

  tool: (item) => {
    const diff = item.content?.some((c) => c?.type === 'diff');
    const card = toggle(item, `tool status-${item.status}`, diff && item.toolKind === 'edit', [
      h('span', { class: 'kind', text: item.toolKind || 'tool' }),
      h('span', { class: 'title', text: item.title || item.toolCallId || 'Tool call' }),
      h('span', { class: `badge ${item.status}`, text: STATUS_LABELS[item.status] ?? String(item.status) }),
      item.awaiting ? h('span', { class: 'badge awaiting', text: 'awaiting approval' }) : null,
    ], () => toolBody(item));
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

  request: (item) => toggle(item, 'request', false, requestSummary(item), () => [
    h('pre', { class: 'json', text: json(item.params) }),
    item.response ? h('pre', { class: 'json', text: json(item.response) }) : null,
  ]),

  system: (item) => item.detail
    ? toggle(item, `sys ${item.level}`, false, [h('span', { text: item.text })], () => [h('pre', { class: 'json', text: typeof item.detail === 'object' && !Array.isArray(item.detail) && Object.keys(item.detail).length === 1 && typeof Object.values(item.detail)[0] === 'string' ? Object.values(item.detail)[0] : json(item.detail) })])
    : h('div', { class: `sys ${item.level}`, text: item.text }),

  turn: (item) => h('div', { class: 'turn-end' }, item.tokens ? h('span', { text: `${item.tokens} tokens` }) : null),
};

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
    case 'terminal/create':
      return [h('span', { class: 'label', text: 'Terminal' }), h('span', { class: 'path', text: [p.command, ...(p.args ?? [])].join(' ') }), failed ?? done ?? waiting];
    default:
      return [h('span', { class: 'label', text: item.method }), failed ?? done ?? waiting];
  }
}

function toolBody(item) {
  const parts = [];
  const diffPaths = new Set((item.content ?? []).filter((c) => c?.type === 'diff').map((c) => c.path));
  if (item.locations?.some((l) => !diffPaths.has(l.path))) {
    parts.push(h('div', { class: 'locations' }, item.locations.map((l) => h('span', { class: 'path', text: `${l.path ?? ''}${l.line ? `:${l.line}` : ''}` }))));
  }
  for (const block of item.content ?? []) {
    if (block?.type === 'diff') parts.push(diffView(block));
    else if (block?.type === 'terminal') parts.push(h('div', { class: 'terminal' }, h('span', { class: 'label', text: `Terminal ${block.terminalId ?? ''}` })));
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
