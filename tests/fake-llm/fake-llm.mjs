#!/usr/bin/env node
// Fake LLM for offline agent tests: the APIs the built-in agents call, each serving the same scripted rules
// (rules.mjs). No dependencies.
//
// Usage: node fake-llm.mjs [port|0] [logDir]
//   port 0 (default) picks a free port. Prints one line "LISTENING <port>" on stdout when ready.
//   logDir (default: $FAKE_LLM_LOG_DIR or the cwd) receives:
//     requests.jsonl  one line per request: { t, method, url, headers, body }   (full body)
//     messages.jsonl  one line per LLM request: { t, n, api, rule, stream, model, messages, system }
//                     (messages: the conversation as the API carries it: chat `messages`, Anthropic
//                     `messages`, Responses `input`)
//     events.jsonl    lifecycle: { t, n, api, event: "start"|"end"|"client_closed", rule, chunks }
//
// Endpoints (any prefix before them is accepted, and a query string is ignored):
//   GET  /v1/models                     a one-model list
//   POST /v1/chat/completions           OpenAI chat completions (pi; OpenCode's OpenAI-compatible provider)
//   POST /v1/messages                   Anthropic Messages (Claude Code)
//   POST /v1/messages/count_tokens      Anthropic token counting
//   POST /v1/responses                  OpenAI Responses (Codex, wire_api = "responses")
// `stream: true` answers with server-sent events as the real API does, else with one JSON object.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { decide } from "./rules.mjs";
import * as chat from "./openai-chat.mjs";
import * as anthropic from "./anthropic.mjs";
import * as responses from "./openai-responses.mjs";

const port = Number(process.argv[2] ?? process.env.FAKE_LLM_PORT ?? 0);
const logDir = path.resolve(process.argv[3] ?? process.env.FAKE_LLM_LOG_DIR ?? ".");
fs.mkdirSync(logDir, { recursive: true });
const MODEL_ID = process.env.FAKE_LLM_MODEL ?? "fake-model";

const log = (file, obj) =>
  fs.appendFileSync(path.join(logDir, file), JSON.stringify({ t: new Date().toISOString(), ...obj }) + "\n");

let counter = 0;

/** One LLM request: normalise it, decide the rule, log it, and let the API's module answer. */
async function exchange(api, module, req, res, body) {
  const n = ++counter;
  const request = module.normalize(body);
  const d = decide(request);
  log("messages.jsonl", { n, api, rule: d.rule, stream: body.stream === true, model: body.model, messages: request.conversation, system: request.system });
  log("events.jsonl", { n, api, event: "start", rule: d.rule });
  let closed = false;
  res.on("close", () => {
    if (!res.writableFinished) {
      closed = true;
      log("events.jsonl", { n, api, event: "client_closed", rule: d.rule });
    }
  });
  const x = {
    n,
    model: MODEL_ID,
    closed: () => closed,
    json: (status, obj) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(obj));
    },
    sse: () => res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" }),
    write: (s) => closed || res.write(s),
    end: () => res.end(),
  };
  const chunks = await module.respond(res, body, d, x);
  if (!closed) log("events.jsonl", { n, api, event: "end", rule: d.rule, chunks });
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
    const post = req.method === "POST" && body && typeof body === "object";
    try {
      if (req.method === "GET" && /\/models$/.test(url)) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: [{ id: MODEL_ID, object: "model", created: 0, owned_by: "fake" }] }));
      } else if (post && /\/chat\/completions$/.test(url)) {
        await exchange("chat", chat, req, res, body);
      } else if (post && /\/messages\/count_tokens$/.test(url)) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(anthropic.countTokens(body)));
      } else if (post && /\/messages$/.test(url)) {
        await exchange("anthropic", anthropic, req, res, body);
      } else if (post && /\/responses$/.test(url)) {
        await exchange("responses", responses, req, res, body);
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
