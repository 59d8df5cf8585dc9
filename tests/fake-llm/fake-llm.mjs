#!/usr/bin/env node
// Fake OpenAI-compatible LLM for offline agent tests. No dependencies.
//
// Usage: node fake-llm.mjs [port|0] [logDir]
//   port 0 (default) picks a free port. Prints one line "LISTENING <port>" on stdout when ready.
//   logDir (default: $FAKE_LLM_LOG_DIR or the cwd) receives:
//     requests.jsonl  one line per request: { t, method, url, headers, body }   (full body)
//     messages.jsonl  one line per chat request: { t, n, rule, stream, model, messages }
//     events.jsonl    lifecycle: { t, n, event: "start"|"end"|"client_closed", rule, chunks }
//
// Endpoints: GET /v1/models, POST /v1/chat/completions (stream true → SSE, else one JSON object).
// Rules (decided on the LAST message, then on the last USER message's text):
//   last message has role "tool"                → text "done"
//   user text contains "write file NAME CONTENT" → one tool call to the file-writing tool in the
//                                                  request's `tools` (name "write", else any tool
//                                                  whose parameters have a path-ish and a
//                                                  content-ish property) with {path: NAME, content: CONTENT}
//   user text contains "slow"                    → one chunk every 200 ms for 30 s (env FAKE_LLM_SLOW_MS /
//                                                  FAKE_LLM_SLOW_TOTAL_MS override); stops when the client disconnects
//   otherwise                                    → "Hello from the fake LLM." in a few chunks
import http from "node:http";
import fs from "node:fs";
import path from "node:path";

const port = Number(process.argv[2] ?? process.env.FAKE_LLM_PORT ?? 0);
const logDir = path.resolve(process.argv[3] ?? process.env.FAKE_LLM_LOG_DIR ?? ".");
fs.mkdirSync(logDir, { recursive: true });
const SLOW_MS = Number(process.env.FAKE_LLM_SLOW_MS ?? 200);
const SLOW_TOTAL_MS = Number(process.env.FAKE_LLM_SLOW_TOTAL_MS ?? 30000);
const MODEL_ID = process.env.FAKE_LLM_MODEL ?? "fake-model";

const log = (file, obj) =>
  fs.appendFileSync(path.join(logDir, file), JSON.stringify({ t: new Date().toISOString(), ...obj }) + "\n");

let counter = 0;

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content.map((p) => (typeof p === "string" ? p : p?.type === "text" ? p.text ?? "" : "")).join("");
  return "";
}

function findWriteTool(tools) {
  if (!Array.isArray(tools)) return null;
  const fns = tools.map((t) => t?.function ?? t).filter((f) => f && f.name);
  const props = (f) => Object.keys(f.parameters?.properties ?? {});
  const pick = (f) => {
    const ps = props(f);
    const p = ps.find((k) => /^(path|file_?path|filename|file)$/i.test(k)) ?? ps.find((k) => /path|file/i.test(k));
    const c = ps.find((k) => /^(content|contents|text|data)$/i.test(k)) ?? ps.find((k) => /content|text/i.test(k));
    return p && c ? { name: f.name, pathKey: p, contentKey: c } : null;
  };
  const exact = fns.find((f) => f.name === "write");
  if (exact && pick(exact)) return pick(exact);
  for (const f of fns) {
    if (/write/i.test(f.name) && pick(f)) return pick(f);
  }
  for (const f of fns) if (pick(f) && !/edit/i.test(f.name)) return pick(f);
  return null;
}

function decide(body) {
  const msgs = Array.isArray(body.messages) ? body.messages : [];
  const last = msgs[msgs.length - 1];
  if (last?.role === "tool") return { rule: "after_tool", text: "done" };
  const lastUser = [...msgs].reverse().find((m) => m?.role === "user");
  const userText = textOf(lastUser?.content);
  const m = userText.match(/write file\s+(\S+)\s+([\s\S]*)/i);
  if (m) {
    const tool = findWriteTool(body.tools);
    if (!tool) return { rule: "write_no_tool", text: "No file-writing tool was offered." };
    const args = { [tool.pathKey]: m[1], [tool.contentKey]: m[2].trim() };
    return { rule: "write", toolCall: { id: `call_${Date.now()}_${counter}`, name: tool.name, arguments: JSON.stringify(args) } };
  }
  if (/slow/i.test(userText)) return { rule: "slow" };
  return { rule: "default", text: "Hello from the fake LLM." };
}

function splitChunks(text, n = 3) {
  const words = text.split(/(?<= )/);
  const per = Math.max(1, Math.ceil(words.length / n));
  const out = [];
  for (let i = 0; i < words.length; i += per) out.push(words.slice(i, i + per).join(""));
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function handleChat(req, res, body) {
  const n = ++counter;
  const d = decide(body);
  const stream = body.stream === true;
  log("messages.jsonl", { n, rule: d.rule, stream, model: body.model, messages: body.messages });
  log("events.jsonl", { n, event: "start", rule: d.rule });
  const id = `chatcmpl-fake-${n}`;
  const created = Math.floor(Date.now() / 1000);
  const model = body.model ?? MODEL_ID;
  const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
  let closed = false;
  res.on("close", () => {
    if (!res.writableFinished) {
      closed = true;
      log("events.jsonl", { n, event: "client_closed", rule: d.rule });
    }
  });

  if (!stream) {
    const message = d.toolCall
      ? { role: "assistant", content: null, tool_calls: [{ id: d.toolCall.id, type: "function", function: { name: d.toolCall.name, arguments: d.toolCall.arguments } }] }
      : { role: "assistant", content: d.rule === "slow" ? "slow ".repeat(10).trim() : d.text };
    const out = { id, object: "chat.completion", created, model, choices: [{ index: 0, message, finish_reason: d.toolCall ? "tool_calls" : "stop" }], usage };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(out));
    log("events.jsonl", { n, event: "end", rule: d.rule });
    return;
  }

  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const send = (delta, finish = null, extra = {}) =>
    res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`);
  let chunks = 0;
  send({ role: "assistant", content: "" });
  if (d.toolCall) {
    send({ tool_calls: [{ index: 0, id: d.toolCall.id, type: "function", function: { name: d.toolCall.name, arguments: "" } }] });
    const a = d.toolCall.arguments;
    const half = Math.ceil(a.length / 2);
    for (const part of [a.slice(0, half), a.slice(half)]) {
      send({ tool_calls: [{ index: 0, function: { arguments: part } }] });
      chunks++;
    }
    send({}, "tool_calls");
  } else if (d.rule === "slow") {
    const end = Date.now() + SLOW_TOTAL_MS;
    while (Date.now() < end && !closed) {
      send({ content: `tick${chunks} ` });
      chunks++;
      await sleep(SLOW_MS);
    }
    if (closed) return;
    send({}, "stop");
  } else {
    for (const c of splitChunks(d.text)) {
      send({ content: c });
      chunks++;
      await sleep(5);
    }
    send({}, "stop");
  }
  // usage-only chunk (stream_options.include_usage), like OpenAI
  res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage })}\n\n`);
  res.write("data: [DONE]\n\n");
  res.end();
  log("events.jsonl", { n, event: "end", rule: d.rule, chunks });
}

const server = http.createServer((req, res) => {
  let raw = "";
  req.setEncoding("utf8");
  req.on("data", (c) => (raw += c));
  req.on("end", async () => {
    let body = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      body = raw;
    }
    log("requests.jsonl", { method: req.method, url: req.url, headers: req.headers, body });
    const url = (req.url ?? "").split("?")[0].replace(/\/+$/, "");
    try {
      if (req.method === "GET" && /\/models$/.test(url)) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: [{ id: MODEL_ID, object: "model", created: 0, owned_by: "fake" }] }));
      } else if (req.method === "POST" && /\/chat\/completions$/.test(url) && body && typeof body === "object") {
        await handleChat(req, res, body);
      } else {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `not found: ${req.method} ${req.url}`, type: "not_found" } }));
      }
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: String(e?.stack ?? e) } }));
    }
  });
});

server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
const stop = () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 500).unref();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
