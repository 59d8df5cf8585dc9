// A session's events as server-sent events (GET …/events/stream), read with fetch rather than EventSource so the
// request can carry the API key. The stream's `id:` is each event's seq; after any drop (network, server restart,
// a proxy's idle cut) it reconnects with ?since=<the last seq it handed out>, and it hands out each seq exactly once,
// in order: an event at or below the last seq is skipped, a jump past the next one ends the connection and reconnects
// from the last seq (the server never skips one, so that would be a fault on the way).

import { auth, read } from './api.js';

const MIN_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

export class SessionEventStream {
  /**
   * @param {string} url  the stream's path, without a query
   * @param {object} handlers  onEvents(events[]) with each new event once, in seq order; onState('connecting'|'live'|'reconnecting'|'closed', detail);
   *                           onProblem(problem) when the server ends the stream for good (the session was destroyed, …)
   * @param {number} since  the seq already held (0: the whole transcript)
   */
  constructor(url, handlers, since = 0) {
    this.url = url;
    this.handlers = handlers;
    this.lastSeq = since;
    this.stats = { connections: 0, skipped: 0, gaps: 0 };
    this.stopped = false;
    this.controller = null;
  }

  start() {
    this.loop();
    return this;
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
    this.handlers.onState?.('closed');
  }

  /** Ends the current connection as a drop would; the stream reconnects from the last seq. */
  drop() { this.controller?.abort(); }

  async loop() {
    let retry = MIN_RETRY_MS;
    while (!this.stopped) {
      this.controller = new AbortController();
      this.handlers.onState?.(this.stats.connections === 0 ? 'connecting' : 'reconnecting');
      try {
        const response = await fetch(`${this.url}?since=${this.lastSeq}`, {
          headers: { Accept: 'text/event-stream', ...auth.headers() },
          signal: this.controller.signal,
          cache: 'no-store',
        });
        if (!response.ok) {
          try { await read(response); } catch (error) {
            if (response.status === 401 || response.status === 403 || response.status === 404) {
              this.handlers.onProblem?.(error.problem ?? { detail: error.message, status: response.status });
              this.stopped = true;
              this.handlers.onState?.('closed', error.message);
              return;
            }
          }
          throw new Error(`HTTP ${response.status}`);
        }
        this.stats.connections++;
        if (await this.consume(response.body)) return;
        retry = MIN_RETRY_MS; // it was up: the next drop reconnects soon
      } catch (error) {
        if (this.stopped) return;
        this.handlers.onState?.('reconnecting', error?.message);
      }
      if (this.stopped) return;
      await new Promise((resolve) => setTimeout(resolve, retry));
      retry = Math.min(retry * 2, MAX_RETRY_MS);
    }
  }

  /** Reads one connection to its end. True when the server ended the stream for good. */
  async consume(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let data = [];
    let eventType = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return false;
        buffer += value;
        let batch = [];
        let start = 0;
        let end;
        let slice = performance.now();
        while ((end = buffer.indexOf('\n', start)) >= 0) {
          // A large read (a long history arrives in megabytes) is handed out in slices, the browser let in between,
          // so the page stays responsive while it loads.
          if (batch.length >= 500 && performance.now() - slice > 20) {
            this.handlers.onEvents(batch);
            batch = [];
            await yieldToBrowser();
            if (this.stopped) return true;
            slice = performance.now();
          }
          let line = buffer.slice(start, end);
          start = end + 1;
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (line === '') {
            if (data.length > 0) {
              const text = data.join('\n');
              data = [];
              if (eventType === 'error') {
                this.handlers.onProblem?.(safeParse(text) ?? { detail: text });
                this.stopped = true;
                this.handlers.onState?.('closed', 'the server ended the stream');
                return true;
              }
              const event = safeParse(text);
              if (event && typeof event.seq === 'number') {
                if (event.seq <= this.lastSeq) {
                  this.stats.skipped++;
                } else if (event.seq !== this.lastSeq + 1) {
                  this.stats.gaps++;
                  if (batch.length) this.handlers.onEvents(batch);
                  this.controller.abort(); // reconnect from lastSeq
                  return false;
                } else {
                  this.lastSeq = event.seq;
                  batch.push(event);
                }
              }
            }
            eventType = '';
          } else if (line.startsWith('data:')) {
            data.push(line.slice(line.charCodeAt(5) === 32 ? 6 : 5));
          } else if (line.startsWith('event:')) {
            eventType = line.slice(6).trim();
          } else if (line.startsWith(': ok')) {
            this.handlers.onState?.('live');
          }
          // id:, retry: and comments (heartbeats) need nothing: the seq is in the data, the retry is ours.
        }
        buffer = buffer.slice(start);
        if (batch.length) this.handlers.onEvents(batch);
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }
}

/** Lets the browser handle input and draw before going on. */
function yieldToBrowser() {
  return globalThis.scheduler?.yield ? globalThis.scheduler.yield() : new Promise((resolve) => setTimeout(resolve, 0));
}

function safeParse(text) {
  try { return JSON.parse(text); } catch { return null; }
}
