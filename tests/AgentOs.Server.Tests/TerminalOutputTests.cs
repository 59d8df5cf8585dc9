using System.Text;
using AgentOs.Agents;

namespace AgentOs.Server.Tests;

/// <summary>What a terminal keeps of its output: the last bytes up to its limit, read as text cut at a character boundary.</summary>
public sealed class TerminalOutputTests
{
    [Fact]
    public void ManySmallWrites_PastTheLimit_KeepTheLastBytes_InOrder()
    {
        var output = new TerminalOutput(10_000);
        var all = new StringBuilder();
        for (var i = 0; i < 5_000; i++)
        {
            var line = $"line {i}\n";
            all.Append(line);
            output.Append(Encoding.UTF8.GetBytes(line));
        }

        var (text, truncated) = output.Read(final: true);

        truncated.Should().BeTrue();
        text.Should().Be(all.ToString()[^10_000..]);
        output.BytesWritten.Should().Be(all.Length);
    }

    [Fact]
    public void UnderTheLimit_NothingIsDropped()
    {
        var output = new TerminalOutput(16);
        output.Append("0123456789"u8);
        output.Append("abcdef"u8);

        output.Read(final: true).Should().Be(("0123456789abcdef", false));
    }

    [Fact]
    public void ACut_InsideACharacter_LeavesThatCharacterOut_AndTheTextFitsTheLimit()
    {
        var output = new TerminalOutput(5);
        output.Append(Encoding.UTF8.GetBytes("a\u20ac\u20ac")); // 61 e2 82 ac e2 82 ac: the last 5 bytes start inside the first €

        var (text, truncated) = output.Read(final: true);

        text.Should().Be("\u20ac");
        truncated.Should().BeTrue();
    }

    [Fact]
    public void APartialCharacterAtTheEnd_WaitsForItsLastBytes_WhileTheCommandRuns()
    {
        var output = new TerminalOutput(100);
        var euro = Encoding.UTF8.GetBytes("\u20ac");
        output.Append([(byte)'x', euro[0], euro[1]]);

        output.Read(final: false).Text.Should().Be("x");
        output.Append(euro.AsSpan(2));
        output.Read(final: false).Text.Should().Be("x\u20ac");
    }

    [Fact]
    public void InvalidBytes_ReadAsReplacementCharacters_StillWithinTheLimit()
    {
        var output = new TerminalOutput(4);
        output.Append([0xff, 0xfe, 0xfd, 0xfc]);

        var (text, truncated) = output.Read(final: true);

        Encoding.UTF8.GetByteCount(text).Should().BeLessThanOrEqualTo(4);
        text.Should().Be("\ufffd");
        truncated.Should().BeTrue("characters were cut to fit the limit");
    }

    [Fact]
    public void ALimitOfZero_KeepsNothing_AndSaysSo()
    {
        var output = new TerminalOutput(0);
        output.Append("abc"u8);

        output.Read(final: true).Should().Be(("", true));
        output.BytesWritten.Should().Be(3);
    }
}
