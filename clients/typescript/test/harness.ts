/**
 * What the reference docs' examples import instead of "rivetkit/client" (the one line changed in them): the real
 * `createClient` of this package, pointed at the test's server (AGENTOS_URL; the examples name localhost:6420) and
 * remembered, so the runner can close the clients' event streams once an example is done.
 */
import { createClient as create, type AgentOsClient, type ClientOptions } from "../src/index.js";

const clients: AgentOsClient[] = [];
let lastEventAt = 0;
let subscribed = false;

export function createClient<TRegistry = unknown>(url: string, options: ClientOptions = {}): AgentOsClient<TRegistry> {
  const client = create<TRegistry>(process.env.AGENTOS_URL ?? url, { apiKey: process.env.AGENTOS_API_KEY, ...options });
  const getOrCreate = client.vm.getOrCreate;
  client.vm.getOrCreate = (key) => {
    const vm = getOrCreate(key);
    const on = vm.on.bind(vm) as (name: string, listener: (value: never) => void) => () => void;
    (vm as { on: unknown }).on = (name: string, listener: (value: never) => void) => {
      subscribed = true;
      return on(name, (value: never) => {
        lastEventAt = Date.now();
        listener(value);
      });
    };
    return vm;
  };
  clients.push(client as AgentOsClient);
  return client;
}

/** After an example: lets events still on their way arrive (until 500 ms pass without one), then closes every stream. */
export async function closeAll(): Promise<void> {
  if (subscribed) {
    const until = Date.now() + 10_000;
    while (Date.now() < until && Date.now() - lastEventAt < 500) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  clients.forEach((c) => c.dispose());
}
