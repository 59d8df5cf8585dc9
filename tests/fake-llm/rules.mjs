// The scripted rules every endpoint of the fake LLM serves, decided on a request normalised by the
// endpoint (see `decide`). An endpoint only turns the decision into its own wire format.
//
// Rules, on the last turn of the conversation:
//   the last message is a tool result               → text "done"
//   the user's text has "write file NAME CONTENT"    → one call to the file-writing tool the request offers
//                                                      (see `pickWriteTool`), writing CONTENT to NAME
//   the user's text has "chunks N"                   → N text chunks "w0 ", "w1 ", … "w{N-1} "
//   the user's text has "slow"                       → a chunk every FAKE_LLM_SLOW_MS (200) for FAKE_LLM_SLOW_TOTAL_MS
//                                                      (30 s), ending early when the client disconnects
//   otherwise                                        → "Hello from the fake LLM." in a few chunks
// The user's text is the last text part of the last user message, without what the agent wraps around it
// (Claude Code's <system-reminder> blocks); see `userWords`.

export const SLOW_MS = Number(process.env.FAKE_LLM_SLOW_MS ?? 200);
export const SLOW_TOTAL_MS = Number(process.env.FAKE_LLM_SLOW_TOTAL_MS ?? 30000);
export const MAX_CHUNKS = 100000;

/** The text parts of a message's content: a string, or the text parts of an array of parts (any API's shape). */
export function textParts(content) {
  if (typeof content === "string") return [content];
  if (Array.isArray(content))
    return content.map((p) => (typeof p === "string" ? p : /^(text|input_text|output_text)$/.test(p?.type ?? "") ? p.text ?? "" : ""));
  return [];
}

/**
 * The user's own words in a user message: its last text part once the blocks an agent injects (reminders, context) are
 * cut out. The last part, because an agent may merge turns into one message: Claude Code sends a cancelled turn's
 * prompt, "[Request interrupted by user]" and the next prompt as three parts of one user message.
 */
export function userWords(content) {
  const parts = textParts(content)
    .map((t) => t.replace(/<(system-reminder|environment_context|user_instructions)>[\s\S]*?<\/\1>/g, "").trim())
    .filter((t) => t.length > 0);
  return parts[parts.length - 1] ?? "";
}

/**
 * The tool that writes a file, from tools normalised to { name, kind: "function"|"custom", properties: [names] }.
 * In order: a tool named "write" (pi, OpenCode), one whose name has "write" and that takes a path and a content
 * (Claude Code's Write, or mcp__acp__Write when the client offers fs), Codex's apply_patch (a freeform "custom" tool,
 * or a function taking `input`), then a shell tool (Codex's shell / exec_command) that runs a command writing it.
 */
export function pickWriteTool(tools) {
  const pathKey = (t) => t.properties.find((k) => /^(path|file_?path|filename|file)$/i.test(k)) ?? t.properties.find((k) => /path|file/i.test(k));
  const contentKey = (t) => t.properties.find((k) => /^(content|contents|text|data)$/i.test(k)) ?? t.properties.find((k) => /content|text/i.test(k));
  const asWriter = (t) => (t && pathKey(t) && contentKey(t) ? { style: "write", name: t.name, pathKey: pathKey(t), contentKey: contentKey(t) } : null);

  const exact = asWriter(tools.find((t) => t.name.toLowerCase() === "write"));
  if (exact) return exact;
  for (const t of tools) if (/write/i.test(t.name) && asWriter(t)) return asWriter(t);
  const patch = tools.find((t) => t.name === "apply_patch");
  if (patch) return { style: "patch", name: patch.name, kind: patch.kind, inputKey: patch.properties.includes("input") ? "input" : patch.properties[0] };
  const shell = tools.find((t) => /^(shell|exec_command|local_shell|bash)$/i.test(t.name));
  if (shell) return { style: "shell", name: shell.name, commandKey: shell.properties.find((k) => /^(cmd|command)$/.test(k)) ?? "command", argv: shell.name === "shell" };
  return null;
}

/** A tool call's arguments (an object) or, for a freeform tool, its input (a string). */
function writeCall(tool, file, content) {
  if (tool.style === "write") return { [tool.pathKey]: file, [tool.contentKey]: content };
  const patch = `*** Begin Patch\n*** Add File: ${file}\n${content.split("\n").map((l) => "+" + l).join("\n")}\n*** End Patch\n`;
  if (tool.style === "patch") return tool.kind === "custom" ? patch : { [tool.inputKey]: patch };
  const script = `printf '%s' '${content.replaceAll("'", "'\\''")}' > '${file.replaceAll("'", "'\\''")}'`;
  return { [tool.commandKey]: tool.argv ? ["bash", "-lc", script] : script };
}

let calls = 0;

/**
 * The rule for a request, normalised by its endpoint: { afterTool: bool, userContent: the last user message's content, tools: [...] }.
 * Returns { rule, text? , toolCall?: { id, name, kind, input (object or string) }, chunks?: [strings] }.
 */
export function decide({ afterTool, userContent, tools }) {
  if (afterTool) return { rule: "after_tool", chunks: ["done"] };
  const words = userWords(userContent);
  const write = words.match(/write file\s+(\S+)\s+([\s\S]*)/i);
  if (write) {
    const tool = pickWriteTool(tools);
    if (!tool) return { rule: "write_no_tool", chunks: ["No file-writing tool was offered."] };
    const id = `call_${Date.now()}_${++calls}`;
    return { rule: "write", toolCall: { id, name: tool.name, kind: tool.kind === "custom" ? "custom" : "function", input: writeCall(tool, write[1], write[2].trim()) } };
  }
  const chunks = words.match(/\bchunks\s+(\d+)\b/i);
  if (chunks) {
    const n = Math.min(Number(chunks[1]), MAX_CHUNKS);
    return { rule: "chunks", chunks: Array.from({ length: n }, (_, i) => `w${i} `) };
  }
  if (/slow/i.test(words)) return { rule: "slow" };
  return { rule: "default", chunks: ["Hello ", "from the ", "fake LLM."] };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Yields the decision's text chunks; for "slow", one every SLOW_MS until SLOW_TOTAL_MS or `isClosed()`.
 * Between chunks it waits for the socket to drain, so each chunk leaves as its own write.
 */
export async function* textChunks(decision, isClosed) {
  if (decision.rule === "slow") {
    const end = Date.now() + SLOW_TOTAL_MS;
    for (let i = 0; Date.now() < end && !isClosed(); i++) {
      yield `tick${i} `;
      await sleep(SLOW_MS);
    }
    return;
  }
  for (const c of decision.chunks ?? []) {
    if (isClosed()) return;
    yield c;
    await new Promise((r) => setImmediate(r));
  }
}

/** The whole text of a non-slow decision (for non-streaming answers). */
export const fullText = (decision) => (decision.rule === "slow" ? "slow ".repeat(10).trim() : (decision.chunks ?? []).join(""));
