/** Types of the AgentOs HTTP API (`/openapi/v1.json` describes the same shapes). */

/** One event of a session: an ACP message (or an AgentOs `_agentos/…` one) with its gapless per-session seq. */
export interface SessionEvent {
  sessionId: string;
  /** 1, 2, 3, … per session: gapless, no duplicates, never reused. */
  seq: number;
  /** ISO 8601, UTC. */
  createdAt: string;
  event: { method: string; params: any };
}

/** An MCP server, as the reference docs write it. */
export type McpServer =
  | { type: "local"; command: string; args?: string[]; env?: Record<string, string>; name?: string }
  | { type: "remote"; url: string; headers?: Record<string, string>; transport?: "http" | "sse"; name?: string };

export type PermissionPolicy = "allowAll" | "ask" | "rejectAll";

export interface ResourceLimits {
  memoryBytes?: number | null;
  processes?: number | null;
  cpuWeight?: number | null;
  cpuCores?: number | null;
}

/** The second argument of `createSession`. */
export interface CreateSessionOptions {
  /** The agent's environment (API keys, …): not inherited from the server. */
  env?: Record<string, string>;
  /** Working directory inside the VM; default `/home/agentos`. */
  cwd?: string;
  mcpServers?: McpServer[];
  /** Appended to the agent's system prompt. */
  additionalInstructions?: string;
  /** Skip the base OS instructions (tool documentation is kept). */
  skipOsInstructions?: boolean;
  /** How the agent's permission requests are answered; default `allowAll`. */
  permissionPolicy?: PermissionPolicy;
  /** With `ask`: seconds a request waits for an answer. */
  permissionTimeoutSeconds?: number;
  limits?: ResourceLimits;
}

export interface SessionMode { id: string; name: string | null; description: string | null }
export interface SessionModes { currentModeId: string; availableModes: SessionMode[] }
export interface ModelInfo { modelId: string; name: string | null; description: string | null }
export interface SessionModels { currentModelId: string | null; availableModels: ModelInfo[] }
export interface ConfigOptionValue { value: string; name: string | null; description: string | null }
export interface ConfigOption {
  id: string;
  name: string | null;
  category: string | null;
  type: string | null;
  currentValue: string | null;
  options: ConfigOptionValue[];
}
export interface AgentInfo { name: string; title: string | null; version: string | null }

/** What `createSession` and `resumeSession` return. */
export interface SessionInfo {
  sessionId: string;
  agentType: string;
  /** The agent's ACP `agentCapabilities`, as it sent them. */
  capabilities: any;
  agentInfo: AgentInfo | null;
  modes: SessionModes | null;
  configOptions: ConfigOption[];
  models: SessionModels | null;
  acpSessionId: string | null;
  processId: number;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  thoughtTokens: number;
  cachedReadTokens: number;
  cachedWriteTokens: number;
}

/** The end of one prompt turn. */
export interface PromptResult {
  /** end_turn, max_tokens, max_turn_requests, refusal, cancelled. */
  stopReason: string;
  /** The agent's message text of this turn. */
  text: string;
  /** Seq of the turn's `_agentos/turn_end` event. */
  lastSeq: number;
  usage: TokenUsage | null;
}

/** A block of a prompt beyond plain text. */
export interface PromptContent {
  kind: "text" | "image" | "audio" | "resource" | "resourceLink";
  text?: string;
  /** Base64 (image, audio, a binary resource). */
  data?: string;
  mimeType?: string;
  uri?: string;
  name?: string;
}

export type SessionStatus = "active" | "suspended" | "closed" | "crashed" | "starting";

/** A session as the VM's database records it. */
export interface PersistedSession {
  sessionId: string;
  agentType: string;
  createdAt: string;
  status: SessionStatus;
  lastSeq: number;
  cwd: string | null;
  acpSessionId: string | null;
}

export interface PermissionOption { optionId: string; name: string | null; kind: string | null }
export interface PendingPermission {
  /** The seq of the request's `session/request_permission` event. */
  requestId: number;
  options: PermissionOption[];
  params: any;
  requestedAt: string;
  expiresAt: string;
}

/** An elicitation: the agent asking the user for input, through a form or at a URL. */
export interface PendingElicitation {
  /** The seq of the request's `elicitation/create` event. */
  requestId: number;
  /** `form` or `url`. */
  mode: string;
  message: string;
  /** For `form`: the restricted JSON Schema of the fields. */
  requestedSchema?: any;
  /** For `url`: where to send the user (show its host and ask first). */
  url?: string | null;
  elicitationId?: string | null;
  toolCallId?: string | null;
  params: any;
  requestedAt: string;
  expiresAt: string;
}

/** What the user did with an elicitation. */
export type ElicitationAction = "accept" | "decline" | "cancel";

export interface SessionUsage {
  tokens: TokenUsage;
  turnsWithUsage: number;
  contextUsed: number | null;
  contextSize: number | null;
  cost: number | null;
  costCurrency: string | null;
}

export interface AgentUsage {
  sessionId: string;
  agentType: string;
  processId: number;
  memoryBytes: number | null;
  cpuTime: string | null;
  processes: number | null;
  limits: ResourceLimits | null;
}
export interface VmInfo { vmId: string; homeBytes: number; diskQuotaBytes: number; agents: AgentUsage[] }
export interface VmSummary {
  id: string;
  active: boolean;
  /** When the VM last wrote to its database (read from its files without waking it). */
  lastActivity: string | null;
  /** Sessions whose agent runs (or starts) now. */
  liveSessions: number;
  /** Its home's disk use, measured at most every 30 s while awake; the last measure while asleep, null if none. */
  homeBytes: number | null;
}
/** An agent type sessions may be created with (`GET /v1/agent-types`). */
export interface AgentTypeSummary { name: string; builtIn: boolean }
