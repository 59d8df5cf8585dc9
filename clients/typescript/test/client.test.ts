/** The client's own behaviour against a real server: errors, the event streams and their reconnects, API keys, cancel. */
import { strict as assert } from "node:assert";
import { createHash, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { AgentOsError, createClient, readSse, type SessionEvent } from "../src/index.js";
import { startServer, type RunningServer } from "./agentos-server.js";

let server: RunningServer;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

const vmName = () => `ts-${randomUUID().slice(0, 8)}`;

/** A fetch whose first event-stream response is cut after `bytes` bytes, as a dropped connection would. */
function droppingFetch(bytes: number): typeof fetch {
  let dropped = false;
  return async (input, init) => {
    const response = await fetch(input, init);
    const accept = new Headers(init?.headers).get("Accept");
    if (dropped || accept !== "text/event-stream" || !response.body) return response;
    dropped = true;
    const reader = response.body.getReader();
    let seen = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) return controller.close();
        seen += value.length;
        if (seen > bytes) {
          await reader.cancel();
          return controller.error(new TypeError("terminated"));
        }
        controller.enqueue(value);
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
}

describe("the TypeScript client", () => {
  it("turns problem details into AgentOsError with the AgentOs code", async () => {
    const agent = createClient(server.url).vm.getOrCreate([vmName(), "errors"]);
    await assert.rejects(agent.sendPrompt("nope", "hi"), (e: unknown) => e instanceof AgentOsError && e.code === "UnknownSession" && e.status === 404);
    await assert.rejects(agent.createSession("typo"), (e: unknown) => e instanceof AgentOsError && e.code === "UnknownAgentType" && e.status === 400);
  });

  it("streams a session's events across a dropped connection, each seq once with no gap", async () => {
    const agent = createClient(server.url, { fetch: droppingFetch(20_000) }).vm.getOrCreate([vmName()]);
    const session = await agent.createSession("test");
    const result = await agent.sendPrompt(session.sessionId, "chunks 2000");
    const seqs: number[] = [];
    const abort = new AbortController();
    for await (const event of agent.streamSessionEvents(session.sessionId, { signal: abort.signal })) {
      seqs.push(event.seq);
      if (event.seq === result.lastSeq) abort.abort();
    }
    assert.deepEqual(seqs, Array.from({ length: result.lastSeq }, (_, i) => i + 1));
    assert.deepEqual((await agent.getEvents(session.sessionId)).map((e) => e.seq), seqs);
  });

  it("on('sessionEvent') is subscribed before the next call, and resumes with its cursor after a drop", async () => {
    const client = createClient(server.url, { fetch: droppingFetch(30_000) });
    const agent = client.vm.getOrCreate(vmName());
    const events: SessionEvent[] = [];
    const unsubscribe = agent.on("sessionEvent", (e) => events.push(e));
    const session = await agent.createSession("test");
    const result = await agent.sendPrompt(session.sessionId, "chunks 3000");
    const deadline = Date.now() + 30_000;
    while (!events.some((e) => e.seq === result.lastSeq) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    unsubscribe();
    const seqs = events.filter((e) => e.sessionId === session.sessionId).map((e) => e.seq);
    assert.deepEqual(seqs, Array.from({ length: result.lastSeq }, (_, i) => i + 1), "every event from the session's first, once, across the drop");
  });

  it("cancels a running turn", async () => {
    const agent = createClient(server.url).vm.getOrCreate(vmName());
    const session = await agent.createSession("test");
    const turn = agent.sendPrompt(session.sessionId, "sleep 20000");
    const abort = new AbortController();
    for await (const event of agent.streamSessionEvents(session.sessionId, { signal: abort.signal })) {
      if (event.event.method === "session/update") break;
    }
    await agent.cancelPrompt(session.sessionId);
    assert.equal((await turn).stopReason, "cancelled");
  });

  it("reads a server-sent event stream split anywhere, CRLF or LF", async () => {
    const text = ": ok\r\n\r\nid: 1\r\ndata: {\"a\":1}\r\n\r\nid: 2\nevent: error\ndata: x\ndata: y\n\n";
    const bytes = new TextEncoder().encode(text);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 3) controller.enqueue(bytes.slice(i, i + 3));
        controller.close();
      },
    });
    const messages = [];
    for await (const m of readSse(body)) messages.push(m);
    assert.deepEqual(messages, [
      { data: "", comment: "ok" },
      { id: "1", event: undefined, data: "{\"a\":1}" },
      { id: "2", event: "error", data: "x\ny" },
    ]);
  });
});

describe("the TypeScript client with API keys", () => {
  let keyed: RunningServer;
  const key = `aos_ts0000000001_${randomUUID().replaceAll("-", "")}`;

  before(async () => {
    keyed = await startServer({
      AgentOs__Http__RequireApiKeys: "true",
      AgentOs__Http__ApiKeys__0__Id: "ts0000000001",
      AgentOs__Http__ApiKeys__0__Sha256: createHash("sha256").update(key).digest("hex"),
      AgentOs__Http__ApiKeys__0__Role: "write",
      AgentOs__Http__ApiKeys__0__Scopes__0: "team/",
    });
  });

  after(async () => {
    await keyed?.stop();
  });

  it("sends its apiKey as a bearer token; without it, or outside the key's scopes, it gets Unauthorized or Forbidden", async () => {
    await assert.rejects(createClient(keyed.url).vm.getOrCreate(["team", "a"]).listPersistedSessions(), (e: unknown) => e instanceof AgentOsError && e.code === "Unauthorized");
    const client = createClient(keyed.url, { apiKey: key });
    const agent = client.vm.getOrCreate(["team", "a"]);
    const session = await agent.createSession("test");
    assert.equal((await agent.sendPrompt(session.sessionId, "chunks 1")).text, "c1 ");
    await assert.rejects(client.vm.getOrCreate(["other", "a"]).listPersistedSessions(), (e: unknown) => e instanceof AgentOsError && e.code === "Forbidden" && e.status === 403);
    assert.deepEqual((await client.listVms()).map((v) => v.id), ["team/a"]);
  });
});
