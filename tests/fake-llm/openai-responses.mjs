// OpenAI Responses (POST /v1/responses), as Codex calls a provider with `wire_api = "responses"`: SSE events
// response.created, response.in_progress, response.output_item.added, response.content_part.added,
// response.output_text.delta / .done, response.function_call_arguments.delta / .done (function tools),
// response.custom_tool_call_input.delta / .done (freeform tools such as apply_patch), response.output_item.done,
// response.completed with usage; or one response object when `stream` is not true.
import { textChunks, fullText } from "./rules.mjs";

export function normalize(body) {
  const items = typeof body.input === "string" ? [{ type: "message", role: "user", content: body.input }] : Array.isArray(body.input) ? body.input : [];
  const last = items[items.length - 1];
  const lastUser = [...items].reverse().find((i) => i?.role === "user" && (i.type ?? "message") === "message");
  const tools = (Array.isArray(body.tools) ? body.tools : [])
    .filter((t) => t?.name)
    .map((t) => ({ name: t.name, kind: t.type === "custom" ? "custom" : "function", properties: Object.keys(t.parameters?.properties ?? {}) }));
  return { afterTool: /_output$/.test(last?.type ?? ""), userContent: lastUser?.content, tools, conversation: body.input, system: body.instructions };
}

export async function respond(res, body, d, x) {
  const id = `resp_fake_${x.n}`;
  const model = body.model ?? x.model;
  const created_at = Math.floor(Date.now() / 1000);
  const usage = { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 };
  const response = (status, output) => ({ id, object: "response", created_at, status, model, output, usage: status === "completed" ? usage : null });
  const call = d.toolCall;
  const callItem = (status) =>
    call.kind === "custom"
      ? { id: `ctc_fake_${x.n}`, type: "custom_tool_call", status, call_id: call.id, name: call.name, input: status === "completed" ? call.input : "" }
      : { id: `fc_fake_${x.n}`, type: "function_call", status, call_id: call.id, name: call.name, arguments: status === "completed" ? JSON.stringify(call.input) : "" };
  const messageItem = (status, text) => ({
    id: `msg_fake_${x.n}`,
    type: "message",
    role: "assistant",
    status,
    content: status === "completed" ? [{ type: "output_text", text, annotations: [] }] : [],
  });

  if (body.stream !== true) {
    x.json(200, response("completed", [call ? callItem("completed") : messageItem("completed", fullText(d))]));
    return 0;
  }

  x.sse();
  let sequence_number = 0;
  const send = (event) => x.write(`event: ${event.type}\ndata: ${JSON.stringify({ ...event, sequence_number: sequence_number++ })}\n\n`);
  send({ type: "response.created", response: response("in_progress", []) });
  send({ type: "response.in_progress", response: response("in_progress", []) });
  let chunks = 0;
  let done;
  if (call) {
    const item = callItem("in_progress");
    send({ type: "response.output_item.added", output_index: 0, item });
    const whole = call.kind === "custom" ? call.input : JSON.stringify(call.input);
    const kind = call.kind === "custom" ? "response.custom_tool_call_input" : "response.function_call_arguments";
    const half = Math.ceil(whole.length / 2);
    for (const delta of [whole.slice(0, half), whole.slice(half)]) {
      send({ type: `${kind}.delta`, item_id: item.id, output_index: 0, delta });
      chunks++;
    }
    send({ type: `${kind}.done`, item_id: item.id, output_index: 0, ...(call.kind === "custom" ? { input: whole } : { arguments: whole }) });
    done = callItem("completed");
  } else {
    const item = messageItem("in_progress");
    send({ type: "response.output_item.added", output_index: 0, item });
    send({ type: "response.content_part.added", item_id: item.id, output_index: 0, content_index: 0, part: { type: "output_text", text: "", annotations: [] } });
    let text = "";
    for await (const delta of textChunks(d, x.closed)) {
      send({ type: "response.output_text.delta", item_id: item.id, output_index: 0, content_index: 0, delta });
      text += delta;
      chunks++;
    }
    if (x.closed()) return chunks;
    send({ type: "response.output_text.done", item_id: item.id, output_index: 0, content_index: 0, text });
    send({ type: "response.content_part.done", item_id: item.id, output_index: 0, content_index: 0, part: { type: "output_text", text, annotations: [] } });
    done = messageItem("completed", text);
  }
  send({ type: "response.output_item.done", output_index: 0, item: done });
  send({ type: "response.completed", response: response("completed", [done]) });
  x.end();
  return chunks;
}
