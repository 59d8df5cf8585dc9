/**
 * A real AgentOs server for the client's tests: `dotnet src/AgentOs.Server/bin/<config>/net10.0/AgentOs.Server.dll`
 * (built by `dotnet build`/`dotnet test` first; AGENTOS_SERVER_DLL names another), on free loopback ports with a
 * temporary data directory, the scripted test agent declared as `test` and, for the reference docs' examples, as `pi`
 * (with an HTTP MCP capability and the docs' model id). Stopped with SIGTERM, then SIGKILL, by its pid.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repository = resolve(here, "../../../..");
const configuration = process.env.AGENTOS_CONFIGURATION ?? "Debug";

function built(variable: string, relative: string): string {
  const path = process.env[variable] ?? join(repository, relative.replace("<config>", configuration));
  if (!existsSync(path)) throw new Error(`${path} is not built: run \`dotnet build AgentOs.sln\` first (or set ${variable}).`);
  return path;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolvePort(port));
    });
  });
}

export interface RunningServer {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startServer(environment: Record<string, string> = {}): Promise<RunningServer> {
  const serverDll = built("AGENTOS_SERVER_DLL", "src/AgentOs.Server/bin/<config>/net10.0/AgentOs.Server.dll");
  const agentDll = built("AGENTOS_TEST_AGENT_DLL", "tests/AgentOs.TestAgent/bin/<config>/net10.0/AgentOs.TestAgent.dll");
  const [http, silo, gateway] = [await freePort(), await freePort(), await freePort()];
  const root = mkdtempSync(join(tmpdir(), "agentos-ts-"));
  const cluster = `ts-${Math.random().toString(16).slice(2, 10)}`;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ASPNETCORE_URLS: `http://127.0.0.1:${http}`,
    AgentOs__DataDirectory: join(root, "data"),
    AgentOs__Orleans__SiloPort: String(silo),
    AgentOs__Orleans__GatewayPort: String(gateway),
    AgentOs__Orleans__ClusterId: cluster,
    AgentOs__Orleans__ServiceId: cluster,
    DOTNET_CLI_TELEMETRY_OPTOUT: "1",
    AgentOs__Agents__test__Command: "dotnet",
    AgentOs__Agents__test__Args__0: agentDll,
    AgentOs__Agents__pi__Command: "dotnet",
    AgentOs__Agents__pi__Args__0: agentDll,
    AgentOs__Agents__pi__Args__1: "--mcp-http",
    AgentOs__Agents__pi__Args__2: "--extra-model",
    AgentOs__Agents__pi__Args__3: "claude-sonnet-4-6",
    ...environment,
  };
  const child: ChildProcess = spawn("dotnet", [serverDll], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  const url = `http://127.0.0.1:${http}`;

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 40_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(root, { recursive: true, force: true });
  };

  const deadline = Date.now() + 60_000;
  while (true) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`The server exited with code ${child.exitCode} before it was ready:\n${output}`);
    }
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`The server was not ready within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return { url, output: () => output, stop };
}
