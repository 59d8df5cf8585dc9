export { createClient, AgentOsClient, VmHandle } from "./client.js";
export type { ClientOptions } from "./client.js";
export { AgentOsError } from "./errors.js";
export { readSse } from "./sse.js";
export type { SseMessage } from "./sse.js";
export type * from "./types.js";
