/**
 * An error of the AgentOs HTTP API: the RFC 9457 problem details the server answered. `code` is the AgentOs error
 * code to switch on (`UnknownSession`, `UnknownAgentType`, `InvalidPath`, `SessionBusy`, `PayloadTooLarge`,
 * `ServerUnavailable`, …; `Unauthorized` and `Forbidden` for API keys), `status` the HTTP status.
 */
export class AgentOsError extends Error {
  readonly status: number;
  readonly code: string;
  readonly sessionId?: string;
  readonly problem: Record<string, unknown>;

  constructor(status: number, problem: Record<string, unknown>) {
    const code = typeof problem.code === "string" ? problem.code : `Http${status}`;
    const detail = typeof problem.detail === "string" ? problem.detail : typeof problem.title === "string" ? problem.title : `HTTP ${status}`;
    super(`${code}: ${detail}`);
    this.name = "AgentOsError";
    this.status = status;
    this.code = code;
    this.problem = problem;
    if (typeof problem.sessionId === "string") this.sessionId = problem.sessionId;
  }

  /** The error a failed response stands for. */
  static async from(response: Response): Promise<AgentOsError> {
    let problem: Record<string, unknown>;
    try {
      problem = (await response.json()) as Record<string, unknown>;
    } catch {
      problem = { title: response.statusText };
    }
    return new AgentOsError(response.status, problem ?? {});
  }
}
