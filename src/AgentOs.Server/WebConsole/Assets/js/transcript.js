// A session's transcript as a conversation: the events (ACP messages and AgentOs' own `_agentos/*` records, in seq
// order) folded into items a person reads. Message and thought chunks merge into one message; a tool call is one item
// that its updates change in place; a permission request is one item its answer completes; AgentOs' lifecycle records
// are small system lines. Items are only ever appended or changed, never removed, so an item's index is its identity
// (the virtual list relies on that). Everything here is data: rendering is render.js's.

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
    // Any other message is a request the agent made of AgentOs (fs/*, terminal/*, elicitation/*, …); its answer
    // comes as _agentos/client_response.
    const item = this.push({ kind: 'request', seq, method, params, response: null });
    this.requests.set(seq, item);
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
        if (Array.isArray(update.content)) item.content = update.content;
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
        } else {
          request.response = { result: p.result, error: p.error };
        }
        this.touch(request, seq);
        return;
      }
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
