// Anthropic Messages (POST /v1/messages, POST /v1/messages/count_tokens), as Claude Code calls it: SSE events
// message_start, content_block_start / content_block_delta (text_delta, input_json_delta) / content_block_stop,
// message_delta (stop_reason, usage), message_stop; or one message object when `stream` is not true.
import { textChunks, fullText } from "./rules.mjs";

const hasToolResult = (m) => Array.isArray(m?.content) && m.content.some((b) => b?.type === "tool_result");
const hasText = (m) => typeof m?.content === "string" || (Array.isArray(m?.content) && m.content.some((b) => b?.type === "text"));

export function normalize(body) {
  const msgs = Array.isArray(body.messages) ? body.messages : [];
  const last = msgs[msgs.length - 1];
  const lastUser = [...msgs].reverse().find((m) => m?.role === "user" && !hasToolResult(m) && hasText(m));
  const tools = (Array.isArray(body.tools) ? body.tools : [])
    .filter((t) => t?.name)
    .map((t) => ({ name: t.name, kind: "function", properties: Object.keys(t.input_schema?.properties ?? {}) }));
  return { afterTool: last?.role === "user" && hasToolResult(last), userContent: lastUser?.content, tools, conversation: body.messages, system: body.system };
}

/** A rough count, as a tokenizer would give: four characters a token. */
export function countTokens(body) {
  return { input_tokens: Math.max(1, Math.ceil(JSON.stringify([body?.system ?? "", body?.messages ?? [], body?.tools ?? []]).length / 4)) };
}

export async function respond(res, body, d, x) {
  const id = `msg_fake_${x.n}`;
  const model = body.model ?? x.model;
  const input_tokens = countTokens(body).input_tokens;
  const usage = (output_tokens) => ({ input_tokens, output_tokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
  const stop_reason = d.toolCall ? "tool_use" : "end_turn";

  if (body.stream !== true) {
    const content = d.toolCall
      ? [{ type: "tool_use", id: d.toolCall.id, name: d.toolCall.name, input: d.toolCall.input }]
      : [{ type: "text", text: fullText(d) }];
    x.json(200, { id, type: "message", role: "assistant", model, content, stop_reason, stop_sequence: null, usage: usage(5) });
    return 0;
  }

  x.sse();
  const send = (event) => x.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
  send({ type: "message_start", message: { id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: usage(1) } });
  let chunks = 0;
  if (d.toolCall) {
    send({ type: "content_block_start", index: 0, content_block: { type: "tool_use", id: d.toolCall.id, name: d.toolCall.name, input: {} } });
    const json = JSON.stringify(d.toolCall.input);
    const half = Math.ceil(json.length / 2);
    for (const partial_json of [json.slice(0, half), json.slice(half)]) {
      send({ type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json } });
      chunks++;
    }
    send({ type: "content_block_stop", index: 0 });
  } else {
    send({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    send({ type: "ping" });
    for await (const text of textChunks(d, x.closed)) {
      send({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } });
      chunks++;
    }
    if (x.closed()) return chunks;
    send({ type: "content_block_stop", index: 0 });
  }
  send({ type: "message_delta", delta: { stop_reason, stop_sequence: null }, usage: { output_tokens: Math.max(1, chunks) } });
  send({ type: "message_stop" });
  x.end();
  return chunks;
}
