import { AgentOsError } from "./errors.js";
import { readSse } from "./sse.js";
import type {
  AgentTypeSummary, ConfigOption, CreateSessionOptions, ElicitationAction, PendingElicitation, PendingPermission, PersistedSession,
  PromptContent, PromptResult, SessionEvent, SessionInfo, SessionModels, SessionModes, SessionUsage, VmInfo, VmSummary,
} from "./types.js";

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** An API key (`aos_…`): sent as `Authorization: Bearer <key>`. Needed when the server listens beyond loopback. */
  apiKey?: string;
  /** Another `fetch` (a test double, a proxy-aware one); the global one by default. */
  fetch?: typeof fetch;
  /** More headers for every request. */
  headers?: Record<string, string>;
}

/**
 * A client of an AgentOs server's HTTP API, shaped like the reference docs:
 * `createClient("http://localhost:6420").vm.getOrCreate(["my-agent"])` gives a VM handle whose methods
 * (`createSession`, `sendPrompt`, `on("sessionEvent", …)`, …) are the server's calls. No dependencies: `fetch` and a
 * small server-sent events reader; Node 20+ and browsers.
 */
export function createClient<TRegistry = unknown>(url: string, options: ClientOptions = {}): AgentOsClient<TRegistry> {
  return new AgentOsClient<TRegistry>(url, options);
}

/** What {@link createClient} returns. `TRegistry` is accepted for the reference docs' `createClient<typeof registry>` and unused. */
export class AgentOsClient<TRegistry = unknown> {
  readonly url: string;
  readonly #options: ClientOptions;
  readonly #vms = new Set<VmHandle>();
  declare readonly __registry?: TRegistry;

  /** VMs by key: `client.vm.getOrCreate(["tenant-a", "project"])` is the VM `tenant-a/project` (made by its first session). */
  readonly vm = {
    getOrCreate: (key: string | string[]): VmHandle => {
      const handle = new VmHandle(this.#transport(), Array.isArray(key) ? key.join("/") : key);
      this.#vms.add(handle);
      return handle;
    },
    /** The same as `getOrCreate`: a VM exists once it has a session, and every call names it. */
    get: (key: string | string[]): VmHandle => this.vm.getOrCreate(key),
  };

  constructor(url: string, options: ClientOptions = {}) {
    this.url = url.replace(/\/+$/, "");
    this.#options = options;
  }

  /** The VMs the API key may reach (`GET /v1/vms`). */
  listVms(): Promise<VmSummary[]> {
    return this.#transport().json<VmSummary[]>("GET", "/v1/vms");
  }

  /** The agent types sessions may be created with, built-in and declared (`GET /v1/agent-types`). */
  listAgentTypes(): Promise<AgentTypeSummary[]> {
    return this.#transport().json<AgentTypeSummary[]>("GET", "/v1/agent-types");
  }

  /** Closes every event subscription of this client's VM handles (`on(…)`); a Node process can then exit. */
  dispose(): void {
    for (const vm of this.#vms) vm.dispose();
    this.#vms.clear();
  }

  #transport(): Transport {
    return new Transport(this.url, this.#options);
  }
}

/** Requests to the server: headers, JSON, problem details as {@link AgentOsError}. */
class Transport {
  readonly #fetch: typeof fetch;

  constructor(readonly url: string, readonly options: ClientOptions) {
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { ...this.options.headers, ...extra };
    if (this.options.apiKey) headers.Authorization = `Bearer ${this.options.apiKey}`;
    return headers;
  }

  async send(method: string, path: string, body?: unknown, init: { signal?: AbortSignal; accept?: string; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers = this.headers({ Accept: init.accept ?? "application/json", ...init.headers });
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await this.#fetch(this.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: init.signal,
    });
    if (!response.ok) throw await AgentOsError.from(response);
    return response;
  }

  async json<T>(method: string, path: string, body?: unknown, init?: { signal?: AbortSignal }): Promise<T> {
    const response = await this.send(method, path, body, init);
    return (await response.json()) as T;
  }

  async none(method: string, path: string, body?: unknown): Promise<void> {
    const response = await this.send(method, path, body);
    await response.body?.cancel();
  }
}

type SessionEventListener = (event: SessionEvent) => void;
type ErrorListener = (error: unknown) => void;

/**
 * One VM: its sessions, prompts and events. Every method is one HTTP call (or a few, for reads that page), and each
 * takes the session id first, as in the reference docs.
 */
export class VmHandle {
  /** The VM id (the key's parts joined by `/`). */
  readonly id: string;
  readonly #http: Transport;
  readonly #path: string;
  readonly #listeners = new Set<SessionEventListener>();
  readonly #errorListeners = new Set<ErrorListener>();
  #subscription?: VmSubscription;

  constructor(http: Transport, id: string) {
    this.#http = http;
    this.id = id;
    this.#path = `/v1/vms/${encodeURIComponent(id)}`;
  }

  /** Starts an agent of `agentType` and opens an ACP session with it. */
  async createSession(agentType: string, options: CreateSessionOptions = {}): Promise<SessionInfo> {
    await this.#subscribed();
    return this.#http.json<SessionInfo>("POST", `${this.#path}/sessions`, { agentType, ...options });
  }

  /**
   * Runs one prompt turn and resolves with its result when it ends (events stream meanwhile: `on("sessionEvent")`).
   * Aborting `signal` stops waiting; the turn goes on unless `cancelOnDisconnect` is set.
   */
  async sendPrompt(sessionId: string, prompt: string | PromptContent[], options: { signal?: AbortSignal; cancelOnDisconnect?: boolean } = {}): Promise<PromptResult> {
    await this.#subscribed();
    const query = options.cancelOnDisconnect ? "?cancelOnDisconnect=true" : "";
    const body = typeof prompt === "string" ? { text: prompt } : { content: prompt };
    return this.#http.json<PromptResult>("POST", `${this.#session(sessionId)}/prompt${query}`, body, { signal: options.signal });
  }

  /** Cancels the session's running turn; its `sendPrompt` resolves with stop reason `cancelled`. */
  cancelPrompt(sessionId: string): Promise<void> {
    return this.#http.none("POST", `${this.#session(sessionId)}/cancel`);
  }

  /** Restarts the agent of a suspended, closed or crashed session and restores its conversation; same id, seq continues. */
  async resumeSession(sessionId: string): Promise<SessionInfo> {
    await this.#subscribed();
    return this.#http.json<SessionInfo>("POST", `${this.#session(sessionId)}/resume`);
  }

  /** Stops the session's agent gracefully, keeping every event (it can be resumed). */
  closeSession(sessionId: string): Promise<void> {
    return this.#http.none("POST", `${this.#session(sessionId)}/close`);
  }

  /** Stops the session's agent and deletes the session and all its events. */
  destroySession(sessionId: string): Promise<void> {
    return this.#http.none("DELETE", this.#session(sessionId));
  }

  setModel(sessionId: string, modelId: string): Promise<void> {
    return this.#http.none("PUT", `${this.#session(sessionId)}/model`, { modelId });
  }

  setMode(sessionId: string, modeId: string): Promise<void> {
    return this.#http.none("PUT", `${this.#session(sessionId)}/mode`, { modeId });
  }

  setThoughtLevel(sessionId: string, level: string): Promise<void> {
    return this.#http.none("PUT", `${this.#session(sessionId)}/thought-level`, { level });
  }

  /** The session's modes (null when the agent offers none). */
  getModes(sessionId: string): Promise<SessionModes | null> {
    return this.#http.json<SessionModes | null>("GET", `${this.#session(sessionId)}/modes`);
  }

  /** The session's models as the agent offered them (null when it offers none): pi's and Claude Code's, which have no model config option. */
  getModels(sessionId: string): Promise<SessionModels | null> {
    return this.#http.json<SessionModels | null>("GET", `${this.#session(sessionId)}/models`);
  }

  getConfigOptions(sessionId: string): Promise<ConfigOption[]> {
    return this.#http.json<ConfigOption[]>("GET", `${this.#session(sessionId)}/config-options`);
  }

  /** Every persisted event of the session, seq 1…N (paged). Works while the VM sleeps. */
  getEvents(sessionId: string): Promise<SessionEvent[]> {
    return this.getSequencedEvents(sessionId, { since: 0 });
  }

  /** The persisted events with seq > `since`: all of them, or one page of at most `limit`. */
  async getSequencedEvents(sessionId: string, options: { since?: number; limit?: number } = {}): Promise<SessionEvent[]> {
    let since = options.since ?? 0;
    if (options.limit !== undefined) {
      return (await this.#page(sessionId, since, options.limit)).events;
    }

    const all: SessionEvent[] = [];
    while (true) {
      const page = await this.#page(sessionId, since, 10_000);
      all.push(...page.events);
      if (!page.more || page.events.length === 0) return all;
      since = page.events[page.events.length - 1].seq;
    }
  }

  /** The session's persisted transcript (the same as {@link getEvents}): works when the VM is not running. */
  getSessionEvents(sessionId: string): Promise<SessionEvent[]> {
    return this.getEvents(sessionId);
  }

  /** Every session the VM has persisted, newest first. */
  listPersistedSessions(): Promise<PersistedSession[]> {
    return this.#http.json<PersistedSession[]>("GET", `${this.#path}/sessions`);
  }

  /** The ids of the sessions whose agent runs now. */
  listSessions(): Promise<string[]> {
    return this.#http.json<string[]>("GET", `${this.#path}/sessions/live`);
  }

  getPendingPermissions(sessionId: string): Promise<PendingPermission[]> {
    return this.#http.json<PendingPermission[]>("GET", `${this.#session(sessionId)}/permissions`);
  }

  respondPermission(sessionId: string, requestId: number, optionId: string): Promise<void> {
    return this.#http.none("POST", `${this.#session(sessionId)}/permissions/${requestId}`, { optionId });
  }

  getPendingElicitations(sessionId: string): Promise<PendingElicitation[]> {
    return this.#http.json<PendingElicitation[]>("GET", `${this.#session(sessionId)}/elicitations`);
  }

  /** Answers an elicitation: `accept` with a form's fields as `content` (none for a URL), `decline` or `cancel`. */
  respondElicitation(sessionId: string, requestId: number, action: ElicitationAction, content?: Record<string, unknown>): Promise<void> {
    return this.#http.none("POST", `${this.#session(sessionId)}/elicitations/${requestId}`, { action, content });
  }

  getUsage(sessionId: string): Promise<SessionUsage> {
    return this.#http.json<SessionUsage>("GET", `${this.#session(sessionId)}/usage`);
  }

  getInfo(): Promise<VmInfo> {
    return this.#http.json<VmInfo>("GET", `${this.#path}/info`);
  }

  /** Puts the VM to sleep now (its agents stop; the next call wakes it). */
  sleep(): Promise<void> {
    return this.#http.none("POST", `${this.#path}/sleep`);
  }

  /** Deletes the VM with all its data (needs an admin key). */
  destroy(): Promise<void> {
    return this.#http.none("DELETE", this.#path);
  }

  /**
   * One session's events, history after `since` then live, each seq exactly once with no gap; it reconnects by itself
   * (Last-Event-ID) and ends when `signal` aborts.
   */
  async *streamSessionEvents(sessionId: string, options: { since?: number; signal?: AbortSignal } = {}): AsyncGenerator<SessionEvent> {
    let last = options.since ?? 0;
    let failures = 0;
    while (!options.signal?.aborted) {
      try {
        const response = await this.#http.send("GET", `${this.#session(sessionId)}/events/stream`, undefined,
          { accept: "text/event-stream", signal: options.signal, headers: { "Last-Event-ID": String(last) } });
        for await (const message of readSse(response.body!)) {
          if (message.comment !== undefined) continue;
          if (message.event === "error") throw new AgentOsError(0, JSON.parse(message.data));
          const event = JSON.parse(message.data) as SessionEvent;
          if (event.seq <= last) continue;
          last = event.seq;
          failures = 0;
          yield event;
        }
      } catch (error) {
        if (options.signal?.aborted) return;
        if (error instanceof AgentOsError && error.status >= 400 && error.status < 500) throw error;
        await delay(backoff(++failures));
      }
    }
  }

  /**
   * Subscribes to every session's events of this VM, live (`sessionEvent`), or to stream errors (`error`). Calls made
   * on this handle after `on` wait until the subscription is in place, so a prompt's first events are not missed. The
   * stream reconnects by itself from where it was (its cursor). Returns a function that unsubscribes.
   */
  on(name: "sessionEvent", listener: SessionEventListener): () => void;
  on(name: "error", listener: ErrorListener): () => void;
  on(name: "sessionEvent" | "error", listener: SessionEventListener | ErrorListener): () => void {
    if (name === "error") {
      this.#errorListeners.add(listener as ErrorListener);
      return () => this.#errorListeners.delete(listener as ErrorListener);
    }

    this.#listeners.add(listener as SessionEventListener);
    this.#subscription ??= new VmSubscription(this.#http, `${this.#path}/events/stream`,
      (event) => this.#listeners.forEach((l) => l(event)),
      (error) => this.#errorListeners.size > 0 ? this.#errorListeners.forEach((l) => l(error)) : console.error("AgentOs event stream:", error));
    return () => {
      this.#listeners.delete(listener as SessionEventListener);
      if (this.#listeners.size === 0) this.dispose();
    };
  }

  /** Closes the event subscription, if any. */
  dispose(): void {
    this.#subscription?.close();
    this.#subscription = undefined;
  }

  async #subscribed(): Promise<void> {
    await this.#subscription?.ready;
  }

  async #page(sessionId: string, since: number, limit: number): Promise<{ events: SessionEvent[]; more: boolean }> {
    return this.#http.json("GET", `${this.#session(sessionId)}/events?since=${since}&limit=${limit}`);
  }

  #session(sessionId: string): string {
    return `${this.#path}/sessions/${encodeURIComponent(sessionId)}`;
  }
}

/** The VM's event stream, kept open: reconnects with its cursor (Last-Event-ID) after a drop, with backoff. */
class VmSubscription {
  readonly ready: Promise<void>;
  readonly #abort = new AbortController();
  #resolveReady!: () => void;
  #cursor?: string;

  constructor(private readonly http: Transport, private readonly path: string,
              private readonly onEvent: (event: SessionEvent) => void, private readonly onError: (error: unknown) => void) {
    this.ready = new Promise((resolve) => (this.#resolveReady = resolve));
    void this.#run();
  }

  close(): void {
    this.#abort.abort();
    this.#resolveReady();
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#abort.signal.aborted) {
      try {
        const headers: Record<string, string> = this.#cursor ? { "Last-Event-ID": this.#cursor } : {};
        const response = await this.http.send("GET", this.path, undefined, { accept: "text/event-stream", signal: this.#abort.signal, headers });
        for await (const message of readSse(response.body!)) {
          if (message.comment !== undefined) {
            if (message.comment === "ok") this.#resolveReady();
            continue;
          }
          if (message.event === "error") throw new AgentOsError(0, JSON.parse(message.data));
          this.#cursor = message.id ?? this.#cursor;
          failures = 0;
          this.onEvent(JSON.parse(message.data) as SessionEvent);
        }
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        if (error instanceof AgentOsError && error.status >= 400 && error.status < 500) {
          this.#resolveReady(); // calls waiting for the subscription fail on their own
          this.onError(error);
          return;
        }
        if (++failures > 3) this.onError(error);
        await delay(backoff(failures));
      }
    }
  }
}

function backoff(attempt: number): number {
  return Math.min(2000, 100 * 2 ** (attempt - 1));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
