using System.Text;
using System.Text.Json;

namespace AgentOs.Acp.Tests;

/// <summary>Agent → client notifications: order, back-pressure, failures and volume.</summary>
public sealed class NotificationTests
{
    private static string Update(int seq) =>
        Wire.Notification(
            AcpMethods.SessionUpdate,
            "{\"sessionId\":\"s1\",\"seq\":" + seq + ",\"update\":{\"sessionUpdate\":\"agent_message_chunk\",\"content\":{\"type\":\"text\",\"text\":\"t" + seq + "\"}}}");

    [Fact]
    public async Task OnNotificationAsync_WhenInterleavedWithReplies_ReceivesThemInWireOrder()
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);

        var first = connection.SendRequestAsync("x/first", "{}");
        var firstId = await agent.ReadRequestIdAsync("x/first");
        var second = connection.SendRequestAsync("x/second", "{}");
        var secondId = await agent.ReadRequestIdAsync("x/second");

        await agent.SendRawAsync(string.Join('\n',
            Update(1),
            Update(2),
            Wire.Result(secondId, "{}"),
            Update(3),
            Wire.Result(firstId, "{}"),
            Update(4),
            Update(5)) + "\n");

        await first.WaitAsync(TestTimeouts.Signal);
        await second.WaitAsync(TestTimeouts.Signal);
        var notifications = await handler.Notifications.WaitForCountAsync(5);

        notifications.Should().AllSatisfy(n => n.Method.Should().Be(AcpMethods.SessionUpdate));
        notifications.Select(n => RecordingHandler.ParamInt(n, "seq")).Should().Equal(1, 2, 3, 4, 5);
        notifications[0].ParamsJson.Should().Contain("\"text\":\"t1\"");
    }

    [Fact]
    public async Task SendRequestAsync_WhenNotificationsPrecedeTheReply_DeliversThemBeforeTheTaskCompletes()
    {
        // ACP.md: notifications can arrive before the reply of the request that caused them
        // (session/load replays the history, then replies).
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);
        Task<JsonElement>? load = null;
        var completedWhenNotified = new List<bool>();
        handler.NotificationHook = _ =>
        {
            completedWhenNotified.Add(load!.IsCompleted);
            return ValueTask.CompletedTask;
        };

        load = connection.SendRequestAsync(AcpMethods.SessionLoad, """{"sessionId":"s1","cwd":"/","mcpServers":[]}""");
        var id = await agent.ReadRequestIdAsync(AcpMethods.SessionLoad);
        await agent.SendRawAsync(Update(1) + "\n" + Update(2) + "\n" + Update(3) + "\n" + Wire.Result(id, "{}") + "\n");
        await load.WaitAsync(TestTimeouts.Signal);

        // No waiting here: by the time the request completed, its notifications were delivered.
        handler.Notifications.Snapshot().Select(n => RecordingHandler.ParamInt(n, "seq")).Should().Equal(1, 2, 3);
        completedWhenNotified.Should().Equal(false, false, false);
    }

    [Fact]
    public async Task OnNotificationAsync_WhenParamsAreAbsent_SeesAnEmptyObject()
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);

        await agent.SendLineAsync("""{"jsonrpc":"2.0","method":"_vendor/ping"}""");

        var notification = (await handler.Notifications.WaitForCountAsync(1)).Single();
        notification.Should().Be(new RecordedMessage("_vendor/ping", "{}", null));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OnNotificationAsync_WhenTheHandlerThrows_TheReadLoopKeepsDelivering(bool throwAsynchronously)
    {
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);
        handler.NotificationHook = n =>
        {
            if (n.Params.GetProperty("seq").GetInt32() != 2)
            {
                return ValueTask.CompletedTask;
            }

            return throwAsynchronously
                ? ThrowLaterAsync()
                : throw new InvalidOperationException("handler bug");
        };

        await agent.SendRawAsync(Update(1) + "\n" + Update(2) + "\n" + Update(3) + "\n");
        var notifications = await handler.Notifications.WaitForCountAsync(3);

        notifications.Select(n => RecordingHandler.ParamInt(n, "seq")).Should().Equal(1, 2, 3);
        connection.IsClosed.Should().BeFalse();
        connection.MalformedLines.Should().Be(0);

        // And requests still work.
        var request = connection.SendRequestAsync("x/after", "{}");
        await agent.SendResultAsync(await agent.ReadRequestIdAsync("x/after"), "{}");
        await request.WaitAsync(TestTimeouts.Signal);

        static async ValueTask ThrowLaterAsync()
        {
            await Task.Yield();
            throw new InvalidOperationException("handler bug, asynchronously");
        }
    }

    [Fact]
    public async Task OnNotificationAsync_WhenTheHandlerReturnsAPendingTask_LaterMessagesWaitForIt()
    {
        // Back-pressure: a pending notification task holds the read loop, so order is kept.
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        handler.NotificationHook = n => n.Method == "x/slow" ? WaitThenRecordAsync() : ValueTask.CompletedTask;

        await agent.SendRawAsync("""{"jsonrpc":"2.0","method":"x/slow","params":{}}""" + "\n" + """{"jsonrpc":"2.0","method":"x/fast","params":{}}""" + "\n");
        await handler.Notifications.WaitForCountAsync(1);
        release.SetResult();

        await handler.Notifications.WaitForCountAsync(2);
        handler.Events.Snapshot().Should().Equal("notification:x/slow", "slow done", "notification:x/fast");

        async ValueTask WaitThenRecordAsync()
        {
            await release.Task;
            handler.Events.Add("slow done");
        }
    }

    [Fact]
    public async Task OnNotificationAsync_When50000AreWrittenInOneGo_ReceivesAllInOrder()
    {
        const int count = 50_000;
        await using var agent = new FakeAgentPipe();
        var handler = new RecordingHandler();
        await using var connection = agent.Connect(handler);
        var flood = new StringBuilder(count * 160);
        for (var seq = 0; seq < count; seq++)
        {
            flood.Append(Update(seq)).Append('\n');
        }

        await agent.SendRawAsync(flood.ToString());
        var notifications = await handler.Notifications.WaitForCountAsync(count, TimeSpan.FromSeconds(30));

        notifications.Should().HaveCount(count);
        var outOfOrder = notifications.Select((n, i) => (Seq: RecordingHandler.ParamInt(n, "seq"), Index: i)).FirstOrDefault(x => x.Seq != x.Index);
        outOfOrder.Should().Be(default((int, int)), "every notification arrives once, in order");
        connection.MalformedLines.Should().Be(0);
    }
}
