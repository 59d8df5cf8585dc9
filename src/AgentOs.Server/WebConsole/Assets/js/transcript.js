// A session's transcript as a conversation: the events (ACP messages and AgentOs' own `_agentos/*` records, in seq
// order) folded into items a person reads. Message and thought chunks merge into one message; a tool call is one item
// that its updates change in place; a permission request or an elicitation is one item its answer completes; a terminal
// is one item that its requests, their answers and its `_agentos/terminal_exit` change (shown in the tool calls whose
// content references it, else as a card of its own); AgentOs' lifecycle records are small system lines. Items are only
// ever appended or changed, never removed, so an item's index is its identity (the virtual list relies on that).
// Everything here is data: rendering is render.js's.

const text = (content) => (content && content.type === 'text' && typeof content.text === 'string' ? content.text : '');

/** The prompt's blocks as the text a person sent (other blocks named in brackets). */
export function promptText(blocks) {
  if (!Array.isArray(blocks)) return '';
  return blocks.map((b) => {
    switch (b?.type) {
      case 'text': return b.text ?? '';
      case 'image': return '[image]';
      case 'audio': return '[audio]';
      case 'resource': return `[resource ${b.resource?.uri ?? ''}]`;
      case 'resource_link': return `[link ${b.name ?? b.uri ?? ''}]`;
      default: return `[${b?.type ?? 'block'}]`;
    }
  }).join('\n');
}

export class Transcript {
  constructor() {
    this.items = [];
    this.lastSeq = 0;
    this.events = 0;
    /** Whether a turn runs now (between `_agentos/prompt` and `_agentos/turn_end`). */
    this.running = false;
    /** Whether the agent process runs (from agent_start / agent_exit), null before either. */
    this.agentAlive = null;
    /** Prompts waiting behind the running turn: { seq, text }. */
    this.queue = [];
    /** Permission requests without an answer yet: requestSeq → item. */
    this.pending = new Map();
    /** Elicitations (`elicitation/create`) without an answer yet: requestSeq → item. */
    this.pendingElicitations = new Map();
    /** URL elicitations by their elicitationId, for the agent's `elicitation/complete`. */
    this.elicitationsById = new Map();
    /** Terminals by the id AgentOs gave them (the answer to `terminal/create`): terminalId → item. */
    this.terminals = new Map();
    /** Tool calls whose content names a terminal not (yet) known: terminalId → Set of tool items. */
    this.terminalWaiters = new Map();
    /** The agent's working directory (from agent_start), a terminal's when its request names none. */
    this.cwd = null;
    this.mode = null;
    this.configOptions = null;
    this.usage = null;
    this.title = null;
    this.commands = [];
    this.changed = new Set();
    this.tools = new Map();
    this.requests = new Map();
    this.open = null; // the message item the next chunk of its kind may join
    this.plan = null; // this turn's plan item
  }

  /** Applies events (each once, in seq order). */
  apply(events) {
    for (const event of events) {
      this.lastSeq = event.seq;
      this.events++;
      try {
        this.applyOne(event);
      } catch (error) {
        this.push({ kind: 'system', level: 'error', seq: event.seq, text: `Event ${event.seq} (${event.event?.method}) could not be shown: ${error.message}` });
      }
    }
  }

  /** The indexes of items changed since the last call (appended ones included). */
  takeChanged() {
    const changed = this.changed;
    this.changed = new Set();
    return changed;
  }

  push(item, { joinable = false } = {}) {
    item.index = this.items.length;
    item.version = 0;
    item.lastSeq = item.seq;
    this.items.push(item);
    this.changed.add(item.index);
    this.open = joinable ? item : null;
    return item;
  }

  touch(item, seq) {
    item.version++;
    if (seq) item.lastSeq = seq;
    this.changed.add(item.index);
  }

  system(seq, text, level = 'info', detail) {
    return this.push({ kind: 'system', seq, text, level, detail });
  }

  applyOne({ seq, createdAt, event }) {
    const method = event?.method ?? '';
    const params = event?.params ?? {};
    if (method === 'session/update') return this.update(seq, params.update ?? {});
    if (method.startsWith('_agentos/')) return this.agentOs(seq, createdAt, method.slice('_agentos/'.length), params);
    if (method === 'session/request_permission') return this.permission(seq, params);
    if (method === 'elicitation/create') return this.elicitation(seq, params);
    if (method === 'elicitation/complete' && this.completeElicitation(seq, params)) return;
    if (method === 'terminal/create') return this.terminalCreate(seq, params);
    if (method.startsWith('terminal/') && this.terminals.has(params.terminalId)) {
      // terminal/output, wait_for_exit, kill, release: folded into the terminal's item (an agent may poll output often).
      this.requests.set(seq, { kind: 'terminal-call', method, terminal: this.terminals.get(params.terminalId) });
      return;
    }
    // Any other message is a request the agent made of AgentOs (fs/*, …); its answer comes as _agentos/client_response.
    const item = this.push({ kind: 'request', seq, method, params, response: null });
    this.requests.set(seq, item);
  }

  elicitation(seq, params) {
    const item = this.push({
      kind: 'elicitation', seq, mode: params.mode ?? 'form', message: params.message ?? '', url: params.url ?? null,
      schema: params.requestedSchema ?? null, elicitationId: params.elicitationId ?? null, toolCallId: params.toolCallId ?? null,
      action: null, content: undefined, reason: null, completed: false,
    });
    this.requests.set(seq, item);
    this.pendingElicitations.set(seq, item);
    if (typeof item.elicitationId === 'string') this.elicitationsById.set(item.elicitationId, item);
    const tool = this.tools.get(params.toolCallId);
    if (tool) {
      tool.awaitingInput = seq;
      this.touch(tool);
    }
  }

  /** `elicitation/complete`: the agent says a URL elicitation is done. False when no elicitation of that id is known. */
  completeElicitation(seq, params) {
    const item = this.elicitationsById.get(params.elicitationId);
    if (!item) return false;
    item.completed = true;
    this.touch(item, seq);
    return true;
  }

  terminalCreate(seq, params) {
    const item = this.push({
      kind: 'terminal', seq, command: params.command ?? '', args: Array.isArray(params.args) ? params.args : [],
      cwd: params.cwd ?? this.cwd, env: Array.isArray(params.env) ? params.env.map((e) => e?.name).filter(Boolean) : [],
      terminalId: null, refused: null, output: '', truncated: false, outputBytes: null, outputTruncated: false,
      bytesWritten: null, exit: null, lastError: null, tools: new Set(),
    });
    this.requests.set(seq, item);
  }

  /** A terminal's item changed: it and every tool call showing it are drawn again. */
  touchTerminal(terminal, seq) {
    this.touch(terminal, seq);
    for (const tool of terminal.tools) this.touch(tool);
  }

  /** The answer to one of a terminal's requests (its create included). */
  terminalAnswer(terminal, method, p) {
    if (p.error) {
      if (method === 'terminal/create') terminal.refused = p.error.message ?? `error ${p.error.code ?? ''}`.trim();
      else terminal.lastError = `${method}: ${p.error.message ?? p.error.code ?? 'failed'}`;
      return;
    }
    const r = p.result ?? {};
    if (method === 'terminal/create' && typeof r.terminalId === 'string') {
      terminal.terminalId = r.terminalId;
      this.terminals.set(r.terminalId, terminal);
      for (const tool of this.terminalWaiters.get(r.terminalId) ?? []) {
        terminal.tools.add(tool);
        this.touch(tool);
      }
      this.terminalWaiters.delete(r.terminalId);
    } else if (method === 'terminal/output') {
      if (typeof r.output === 'string') this.terminalOutput(terminal, r);
      if (r.exitStatus && !terminal.exit) terminal.exit = { exitCode: r.exitStatus.exitCode ?? null, signal: r.exitStatus.signal ?? null };
    } else if (method === 'terminal/wait_for_exit' && !terminal.exit) {
      terminal.exit = { exitCode: r.exitCode ?? null, signal: r.signal ?? null };
    }
  }

  terminalOutput(terminal, r) {
    terminal.output = r.output;
    terminal.truncated = r.truncated === true;
    terminal.outputTruncated = r.outputTruncated === true;
    terminal.outputBytes = r.outputBytes ?? null;
  }

  terminalExit(seq, p) {
    const terminal = this.terminals.get(p.terminalId);
    const how = p.signal ? `signal ${p.signal}` : `exit ${p.exitCode ?? '?'}`;
    if (!terminal) {
      this.system(seq, `Terminal ${p.terminalId ?? '?'} ended: ${how} (${p.reason ?? '?'})`, p.exitCode === 0 ? 'life' : 'warn', p.output ? { output: p.output } : undefined);
      return;
    }
    terminal.exit = { exitCode: p.exitCode ?? null, signal: p.signal ?? null, reason: p.reason ?? null };
    if (typeof p.output === 'string') this.terminalOutput(terminal, p);
    if (typeof p.bytesWritten === 'number') terminal.bytesWritten = p.bytesWritten;
    this.touchTerminal(terminal, seq);
  }

  update(seq, update) {
    const kind = update.sessionUpdate;
    switch (kind) {
      case 'agent_message_chunk':
      case 'agent_thought_chunk':
      case 'user_message_chunk': {
        const itemKind = kind === 'agent_message_chunk' ? 'agent' : kind === 'agent_thought_chunk' ? 'thought' : 'user';
        const chunk = text(update.content) || (update.content && update.content.type !== 'text' ? `[${update.content.type}]` : '');
        const open = this.open;
        if (open && open.kind === itemKind && (update.messageId ?? open.messageId) === open.messageId) {
          open.text += chunk;
          this.touch(open, seq);
        } else {
          this.push({ kind: itemKind, seq, text: chunk, messageId: update.messageId }, { joinable: true });
        }
        return;
      }
      case 'tool_call':
      case 'tool_call_update': {
        let item = this.tools.get(update.toolCallId);
        if (!item) {
          item = this.push({ kind: 'tool', seq, toolCallId: update.toolCallId, title: '', toolKind: '', status: 'pending', content: [] });
          this.tools.set(update.toolCallId, item);
        } else {
          this.touch(item, seq);
        }
        if (update.title !== undefined) item.title = update.title;
        if (update.kind !== undefined) item.toolKind = update.kind;
        if (update.status !== undefined && update.status !== null) item.status = update.status;
        if (Array.isArray(update.content)) {
          item.content = update.content;
          this.linkTerminals(item);
        }
        if (Array.isArray(update.locations)) item.locations = update.locations;
        if (update.rawInput !== undefined) item.rawInput = update.rawInput;
        if (update.rawOutput !== undefined) item.rawOutput = update.rawOutput;
        this.open = null;
        return;
      }
      case 'plan': {
        const entries = Array.isArray(update.entries) ? update.entries : [];
        if (this.plan) {
          this.plan.entries = entries;
          this.touch(this.plan, seq);
        } else {
          this.plan = this.push({ kind: 'plan', seq, entries });
        }
        return;
      }
      case 'current_mode_update':
        this.mode = update.currentModeId;
        this.system(seq, `Mode: ${update.currentModeId}`, 'config');
        return;
      case 'config_option_update': {
        const before = new Map((this.configOptions ?? []).map((o) => [o.id, o.currentValue]));
        const options = Array.isArray(update.configOptions) ? update.configOptions : [];
        const changes = options
          .filter((o) => !before.has(o.id) ? this.configOptions === null : before.get(o.id) !== o.currentValue)
          .map((o) => `${o.name ?? o.id}: ${(o.options ?? []).find((v) => v.value === o.currentValue)?.name ?? o.currentValue}`);
        this.configOptions = options;
        if (changes.length) this.system(seq, changes.join(', '), 'config');
        return;
      }
      case 'usage_update':
        this.usage = update;
        return;
      case 'session_info_update':
        if (typeof update.title === 'string') this.title = update.title;
        return;
      case 'available_commands_update':
        this.commands = Array.isArray(update.availableCommands) ? update.availableCommands : [];
        return;
      default:
        this.system(seq, `Update ${kind ?? '(no kind)'}`, 'info', update);
    }
  }

  /** Records which terminals a tool call's content shows, so a terminal's changes redraw the tool call too. */
  linkTerminals(tool) {
    for (const block of tool.content) {
      if (block?.type !== 'terminal' || typeof block.terminalId !== 'string') continue;
      const terminal = this.terminals.get(block.terminalId);
      if (terminal) {
        if (!terminal.tools.has(tool)) {
          terminal.tools.add(tool);
          this.touch(terminal);
        }
      } else {
        if (!this.terminalWaiters.has(block.terminalId)) this.terminalWaiters.set(block.terminalId, new Set());
        this.terminalWaiters.get(block.terminalId).add(tool);
      }
    }
  }

  permission(seq, params) {
    const item = this.push({ kind: 'permission', seq, toolCall: params.toolCall ?? {}, options: params.options ?? [], outcome: null, reason: null });
    this.requests.set(seq, item);
    this.pending.set(seq, item);
    const tool = this.tools.get(params.toolCall?.toolCallId);
    if (tool) {
      tool.awaiting = seq;
      this.touch(tool);
    }
  }

  agentOs(seq, createdAt, name, p) {
    switch (name) {
      case 'prompt': {
        const sent = promptText(p.prompt);
        const queued = this.queue.findIndex((q) => q.text === sent);
        if (queued >= 0) this.queue.splice(queued, 1);
        this.push({ kind: 'user', seq, text: sent, at: createdAt });
        this.running = true;
        this.plan = null;
        return;
      }
      case 'prompt_queued':
        this.queue.push({ seq, text: promptText(p.prompt) });
        return;
      case 'turn_end': {
        this.running = false;
        this.plan = null;
        this.open = null;
        const parts = [];
        if (p.stopReason && p.stopReason !== 'end_turn') parts.push(`Turn ended: ${p.stopReason}`);
        if (p.forced) parts.push(`forced after ${p.graceMs ?? '?'} ms (the agent ignored the cancel)`);
        if (p.reason) parts.push(`reason ${p.reason}`);
        if (p.error) parts.push(`${p.code ? p.code + ': ' : ''}${p.error}`);
        const usage = p.usage && (p.usage.totalTokens ?? ((p.usage.inputTokens ?? 0) + (p.usage.outputTokens ?? 0)));
        if (parts.length) this.system(seq, parts.join(' · '), p.error ? 'error' : 'warn');
        else this.push({ kind: 'turn', seq, tokens: usage || null });
        return;
      }
      case 'agent_start':
        this.agentAlive = true;
        if (typeof p.cwd === 'string') this.cwd = p.cwd;
        this.system(seq, `Agent started: ${p.agentType ?? ''} pid ${p.pid ?? '?'}${p.sandbox ? `, sandbox ${p.sandbox}` : ''}${p.cwd ? `, cwd ${p.cwd}` : ''}`, 'life');
        return;
      case 'agent_exit': {
        this.agentAlive = false;
        const how = p.signal ? `signal ${p.signal}` : `code ${p.exitCode ?? '?'}`;
        const why = p.reason ? ` (${p.reason}${p.limit ? `, limit ${p.limit}` : ''})` : '';
        this.system(seq, `Agent exited with ${how}${why}`, p.expected === false ? 'error' : 'life', p.stderrTail?.trim() ? { stderr: p.stderrTail } : undefined);
        return;
      }
      case 'session_start':
        this.system(seq, `Session started${p.agentInfo?.name ? ` with ${p.agentInfo.title ?? p.agentInfo.name} ${p.agentInfo.version ?? ''}`.trimEnd() : ''}`, 'life');
        return;
      case 'resume':
        this.system(seq, `Session resumed (${p.restore ?? '?'}${p.replayedNotifications ? `, ${p.replayedNotifications} notifications replayed` : ''}${p.contextChars ? `, ${p.contextChars} characters of context` : ''})`, 'life');
        return;
      case 'agent_restart':
        this.system(seq, `Agent restarted: ${p.reason ?? ''} (pid ${p.pid ?? '?'})`, 'warn');
        return;
      case 'client_response': {
        const request = this.requests.get(p.requestSeq);
        if (!request) return;
        if (request.kind === 'permission') {
          const outcome = p.result?.outcome;
          request.outcome = outcome?.outcome === 'selected' ? outcome.optionId : outcome?.outcome ?? (p.error ? 'error' : 'cancelled');
          request.reason = p.reason ?? null;
          this.pending.delete(p.requestSeq);
          const tool = this.tools.get(request.toolCall?.toolCallId);
          if (tool && tool.awaiting === p.requestSeq) {
            tool.awaiting = null;
            this.touch(tool);
          }
        } else if (request.kind === 'elicitation') {
          request.action = p.result?.action ?? (p.error ? 'error' : 'cancel');
          request.content = p.result?.content;
          request.reason = p.reason ?? null;
          this.pendingElicitations.delete(p.requestSeq);
          const tool = this.tools.get(request.toolCallId);
          if (tool && tool.awaitingInput === p.requestSeq) {
            tool.awaitingInput = null;
            this.touch(tool);
          }
        } else if (request.kind === 'terminal' || request.kind === 'terminal-call') {
          const terminal = request.kind === 'terminal' ? request : request.terminal;
          this.terminalAnswer(terminal, p.method ?? request.method ?? 'terminal/create', p);
          this.requests.delete(p.requestSeq);
          this.touchTerminal(terminal, seq);
          return;
        } else {
          request.response = { result: p.result, error: p.error };
        }
        this.touch(request, seq);
        return;
      }
      case 'terminal_exit':
        this.terminalExit(seq, p);
        return;
      case 'malformed_output':
        this.system(seq, `The agent wrote ${p.count ?? ''} line(s) that are not ACP: ${p.reason ?? ''}`, 'warn', p.preview ? { preview: p.preview } : undefined);
        return;
      case 'events_lost':
        this.system(seq, `${p.count ?? '?'} event(s) could not be stored: ${p.reason ?? ''}`, 'error');
        return;
      case 'truncated':
        this.system(seq, `An agent message of ${p.bytes ?? '?'} bytes (${p.method ?? ''}) was cut to its first part: over the ${p.limit ?? ''} byte limit`, 'warn', p.preview ? { preview: p.preview } : undefined);
        return;
      case 'limit':
        this.system(seq, `Limit reached: ${p.limit ?? ''} (${p.count ?? ''} of ${p.max ?? ''})`, 'warn');
        return;
      default:
        this.system(seq, `${name}`, 'info', p);
    }
  }
}
