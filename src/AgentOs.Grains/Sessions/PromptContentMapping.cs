using AgentOs.Acp;

namespace AgentOs.Sessions;

/// <summary>
/// A prompt's <see cref="PromptContent"/> blocks as ACP content blocks: each checked for the fields its kind needs and
/// against the agent's <c>promptCapabilities</c> (text and resource links every agent takes), so a block the agent
/// cannot take is refused here, with the capability named, not by the agent mid-turn.
/// </summary>
internal static class PromptContentMapping
{
    /// <summary>The characters a prompt carries (what <c>AgentOs:MaxPromptLength</c> bounds).</summary>
    public static long Length(IReadOnlyList<PromptContent> prompt) =>
        prompt.Sum(b => (long)(b.Text?.Length ?? 0) + (b.Data?.Length ?? 0) + (b.Uri?.Length ?? 0) + (b.Name?.Length ?? 0));

    public static IReadOnlyList<ContentBlock> ToWire(IReadOnlyList<PromptContent> prompt, AgentCapabilities? capabilities, string sessionId)
    {
        if (prompt is null || prompt.Count == 0 || prompt.Any(b => b is null))
        {
            throw Invalid("The prompt has no content blocks (or a null one).", sessionId);
        }

        if (!prompt.Any(b => b.Kind == PromptContentKind.Text && !string.IsNullOrWhiteSpace(b.Text)))
        {
            throw Invalid("The prompt needs at least one text block with text (PromptContent.FromText).", sessionId);
        }

        return prompt.Select((b, i) => ToWire(b, i, capabilities, sessionId)).ToList();
    }

    private static ContentBlock ToWire(PromptContent b, int index, AgentCapabilities? caps, string sessionId)
    {
        string Need(string? value, string field) => string.IsNullOrEmpty(value)
            ? throw Invalid($"Prompt block {index} ({b.Kind}) needs {field}.", sessionId)
            : value;

        void Requires(bool advertised, string capability)
        {
            if (!advertised)
            {
                throw Invalid($"Prompt block {index} is {b.Kind}, but the agent does not advertise promptCapabilities.{capability} (see SessionInfo.Capabilities); send it as text or a resource link.", sessionId);
            }
        }

        switch (b.Kind)
        {
            case PromptContentKind.Text:
                return new TextContentBlock { Text = b.Text ?? "" };
            case PromptContentKind.Image:
                Requires(caps?.PromptImage == true, "image");
                return new ImageContentBlock { Data = Need(b.Data, "Data (base64)"), MimeType = Need(b.MimeType, "MimeType"), Uri = b.Uri };
            case PromptContentKind.Audio:
                Requires(caps?.PromptAudio == true, "audio");
                return new AudioContentBlock { Data = Need(b.Data, "Data (base64)"), MimeType = Need(b.MimeType, "MimeType") };
            case PromptContentKind.Resource:
                Requires(caps?.PromptEmbeddedContext == true, "embeddedContext");
                if (b.Text is null && b.Data is null)
                {
                    throw Invalid($"Prompt block {index} (Resource) needs Text or Data (base64).", sessionId);
                }

                return new EmbeddedResourceContentBlock { Resource = new EmbeddedResourceWire { Uri = Need(b.Uri, "Uri"), Text = b.Text, Blob = b.Text is null ? b.Data : null, MimeType = b.MimeType } };
            case PromptContentKind.ResourceLink:
                return new ResourceLinkContentBlock { Uri = Need(b.Uri, "Uri"), Name = Need(b.Name, "Name"), MimeType = b.MimeType };
            default:
                throw Invalid($"Prompt block {index} has an unknown kind ({(int)b.Kind}).", sessionId);
        }
    }

    private static AgentOsException Invalid(string message, string sessionId) =>
        new(AgentOsErrorCode.InvalidArgument, message) { SessionId = sessionId };
}
