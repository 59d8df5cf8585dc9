// OpenAI chat completions (POST /v1/chat/completions), as pi and OpenCode's OpenAI-compatible provider call it.
import { textChunks, fullText } from "./rules.mjs";

export function normalize(body) {
  const msgs = Array.isArray(body.messages) ? body.messages : [];
  const lastUser = [...msgs].reverse().find((m) => m?.role === "user");
  const tools = (Array.isArray(body.tools) ? body.tools : [])
    .map((t) => t?.function ?? t)
    .filter((f) => f?.name)
    .map((f) => ({ name: f.name, kind: "function", properties: Object.keys(f.parameters?.properties ?? {}) }));
  return { afterTool: msgs[msgs.length - 1]?.role === "tool", userContent: lastUser?.content, tools, conversation: body.messages };
}

export async function respond(res, body, d, x) {
  const id = `chatcmpl-fake-${x.n}`;
  const created = Math.floor(Date.now() / 1000);
  const model = body.model ?? x.model;
  const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
  const args = d.toolCall && JSON.stringify(d.toolCall.input);

  if (body.stream !== true) {
    const message = d.toolCall
      ? { role: "assistant", content: null, tool_calls: [{ id: d.toolCall.id, type: "function", function: { name: d.toolCall.name, arguments: args } }] }
      : { role: "assistant", content: fullText(d) };
    x.json(200, { id, object: "chat.completion", created, model, choices: [{ index: 0, message, finish_reason: d.toolCall ? "tool_calls" : "stop" }], usage });
    return 0;
  }

  x.sse();
  const send = (delta, finish = null) =>
    x.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
  let chunks = 0;
  send({ role: "assistant", content: "" });
  if (d.toolCall) {
    send({ tool_calls: [{ index: 0, id: d.toolCall.id, type: "function", function: { name: d.toolCall.name, arguments: "" } }] });
    const half = Math.ceil(args.length / 2);
    for (const part of [args.slice(0, half), args.slice(half)]) {
      send({ tool_calls: [{ index: 0, function: { arguments: part } }] });
      chunks++;
    }
    send({}, "tool_calls");
  } else {
    for await (const c of textChunks(d, x.closed)) {
      send({ content: c });
      chunks++;
    }
    if (x.closed()) return chunks;
    send({}, "stop");
  }
  // the usage-only chunk (stream_options.include_usage), as OpenAI sends it
  x.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage })}\n\n`);
  x.write("data: [DONE]\n\n");
  x.end();
  return chunks;
}
