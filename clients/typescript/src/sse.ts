/** One message of a server-sent event stream: an event, or a comment line. */
export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
  /** Set for a comment line (`: ok`, heartbeats); `data` is then empty. */
  comment?: string;
}

/**
 * Reads a server-sent event stream as the HTML spec defines it: `field: value` lines, a blank line ends an event,
 * `data` lines join with `\n`, a line starting with `:` is a comment (yielded too, so a caller can tell the stream
 * is open). Works on any `ReadableStream` of bytes: `fetch` in Node 20+ and browsers.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let id: string | undefined;
  let event: string | undefined;
  let data: string[] = [];
  let any = false;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = lineEnd(buffer)) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(buffer[end] === "\r" && buffer[end + 1] === "\n" ? end + 2 : end + 1);
        if (line === "") {
          if (any) yield { id, event, data: data.join("\n") };
          id = event = undefined;
          data = [];
          any = false;
        } else if (line.startsWith(":")) {
          yield { data: "", comment: line.slice(1).trim() };
        } else {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let text = colon < 0 ? "" : line.slice(colon + 1);
          if (text.startsWith(" ")) text = text.slice(1);
          if (field === "id") { id = text; any = true; }
          else if (field === "event") { event = text; any = true; }
          else if (field === "data") { data.push(text); any = true; }
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function lineEnd(buffer: string): number {
  const n = buffer.indexOf("\n");
  const r = buffer.indexOf("\r");
  if (r >= 0 && (n < 0 || r < n)) return r === buffer.length - 1 ? -1 : r; // a lone \r may be half of \r\n
  return n;
}
