/**
 * The reference docs' examples (../../../shared/seeds/000_dd4a7730b73c7c06.txt, "Sessions"), as written there with only
 * the import line changed ("rivetkit/client" → "../harness.js", which points the real client at this test's server),
 * run one by one as node processes against a real AgentOs server whose agent type `pi` is the scripted test agent. The
 * snippets that continue the first example (env, cwd, MCP servers, instructions) run after its first lines. Two examples
 * fail by design, and are checked to fail as they should: the `cwd` one names /home/user/project, outside the VM
 * (AgentOs VMs live at /home/agentos, as the newer docs say), and the resume one resumes the placeholder id
 * "session-id-from-earlier".
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startServer, type RunningServer } from "./agentos-server.js";

const here = dirname(fileURLToPath(import.meta.url));
let server: RunningServer;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

async function run(example: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(here, "run-example.js"), join(here, "examples", `${example}.js`)], {
    env: { ...process.env, AGENTOS_URL: server.url },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

async function succeeds(example: string): Promise<string> {
  const { code, stdout, stderr } = await run(example);
  assert.equal(code, 0, `${example} exited with ${code}:\n${stdout}\n${stderr}`);
  return stdout;
}

describe("the reference docs' Sessions examples, against a real server", { concurrency: false }, () => {
  it("creates a session and prints its id, capabilities and agent info", async () => {
    const out = await succeeds("01-create-session");
    assert.match(out, /^[0-9a-f]{32}$/m);
    assert.match(out, /promptCapabilities/);
    assert.match(out, /agentos-test-agent/);
  });

  for (const snippet of ["01b-env", "01d-mcp-local", "01e-mcp-remote", "01f-additional-instructions", "01g-skip-os-instructions"]) {
    it(`createSession option: ${snippet.slice(4)}`, async () => {
      await succeeds(snippet);
    });
  }

  it("createSession with cwd /home/user/project is refused: the VM's home is /home/agentos", async () => {
    const { code, stderr } = await run("01c-cwd");
    assert.notEqual(code, 0);
    assert.match(stderr, /InvalidPath/);
  });

  it("sends a prompt and prints the reply", async () => {
    const out = await succeeds("02-send-prompt");
    assert.match(out, /stopReason: 'end_turn'/);
    assert.match(out, /echo: Create a TypeScript function that checks if a number is prime/);
  });

  it("streams the session's events to on('sessionEvent')", async () => {
    const out = await succeeds("03-stream-responses");
    assert.match(out, /\] _agentos\/prompt /);
    assert.match(out, /\] session\/update \{[\s\S]*?agent_message_chunk/);
    assert.match(out, /\] _agentos\/turn_end \{ stopReason: 'end_turn' \}/);
  });

  it("cancels a prompt after 10 s (the scripted agent has answered by then: the cancel finds no turn)", async () => {
    const out = await succeeds("04-cancel-prompt");
    assert.match(out, /stopReason: 'end_turn'/);
  });

  it("resuming the placeholder id 'session-id-from-earlier' fails with UnknownSession", async () => {
    const { code, stderr } = await run("05-resume-close-destroy");
    assert.notEqual(code, 0);
    assert.match(stderr, /UnknownSession/);
  });

  it("sets model, mode and thought level, and prints modes and config options", async () => {
    const out = await succeeds("06-runtime-configuration");
    assert.match(out, /currentModeId: 'plan'/);
    assert.match(out, /currentValue: 'claude-sonnet-4-6'/);
    assert.match(out, /currentValue: 'high'/);
  });

  it("replays events with getEvents and getSequencedEvents({ since: 0 })", async () => {
    const out = await succeeds("07-replay-events");
    assert.match(out, /seq: 1,/);
    assert.match(out, /method: '_agentos\/turn_end'/);
  });

  it("lists persisted sessions and prints the newest one's history", async () => {
    const out = await succeeds("08-persisted-history");
    assert.match(out, /^[0-9a-f]{32} pi \d{4}-/m);
    assert.match(out, /^1 _agentos\/agent_start /m);
  });

  it("runs two sessions in one VM and closes each", async () => {
    await succeeds("09-multiple-sessions");
  });
});
