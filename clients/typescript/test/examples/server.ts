// The examples' `import type { registry } from "./server"`: in the reference docs, the app's own server (a rivetkit
// registry). Here the server is AgentOs itself; the type exists so the examples compile as written.
export const registry = {};
