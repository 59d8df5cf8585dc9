namespace AgentOs.Server.Tests.Http;

/// <summary>A bad <c>AgentOs:Http</c> value stops the server at start with one line naming it.</summary>
public sealed class HttpSettingsTests
{
    [Theory]
    [InlineData("AgentOs__Http__SseHeartbeat", "00:00:00", "AgentOs:Http:SseHeartbeat is '00:00:00'")]
    [InlineData("AgentOs__Http__SseBufferBytes", "10", "AgentOs:Http:SseBufferBytes is 10")]
    [InlineData("AgentOs__Http__SseHeartbeat", "soon", "soon")]
    [InlineData("AgentOs__Http__ApiKeys__0__Id", "x", "AgentOs:Http:ApiKeys:0 needs an Id and a Sha256")]
    public async Task ABadHttpSetting_StopsTheServerAtStart_WithOneLineNamingIt(string key, string value, string named)
    {
        ServerProcess? started = null;
        var act = async () => started = await ServerProcess.StartAsync(new Dictionary<string, string> { [key] = value });

        string message;
        try
        {
            message = (await act.Should().ThrowAsync<InvalidOperationException>()).Which.Message;
        }
        finally
        {
            if (started is not null)
            {
                await started.DisposeAsync();
            }
        }

        message.Should().Contain("exited with code 1").And.Contain("AgentOs cannot start").And.Contain(named);
    }
}
