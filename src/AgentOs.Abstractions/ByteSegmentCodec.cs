using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization.Buffers;
using Orleans.Serialization.Cloning;
using Orleans.Serialization.Codecs;
using Orleans.Serialization.WireProtocol;

namespace AgentOs;

/// <summary>
/// Serializes an <see cref="ArraySegment{T}"/> of bytes as one length-prefixed block. Orleans'
/// generic codec writes it byte by byte (a field header, a generic virtual call and a reference
/// check per byte), and the memory stream provider carries every published batch as one: for a
/// stream of events that was a large share of the server's and the subscriber's CPU. Reads both
/// forms. Registered on the silo (<c>UseAgentOs</c>) and in the client SDK, ahead of Orleans' own.
/// </summary>
internal sealed class ByteSegmentCodec : IFieldCodec<ArraySegment<byte>>
{
    private static readonly Type SegmentType = typeof(ArraySegment<byte>);
    private readonly ArraySegmentCodec<byte> _elementWise = new(new ByteCodec());

    public void WriteField<TBufferWriter>(ref Writer<TBufferWriter> writer, uint fieldIdDelta, Type? expectedType, ArraySegment<byte> value)
        where TBufferWriter : IBufferWriter<byte>
    {
        ReferenceCodec.MarkValueField(writer.Session);
        writer.WriteFieldHeader(fieldIdDelta, expectedType, SegmentType, WireType.LengthPrefixed);
        writer.WriteVarUInt32((uint)value.Count);
        writer.Write(value.AsSpan());
    }

    public ArraySegment<byte> ReadValue<TInput>(ref Reader<TInput> reader, Field field)
    {
        if (field.WireType != WireType.LengthPrefixed)
        {
            return _elementWise.ReadValue(ref reader, field); // written by Orleans' element-wise codec
        }

        ReferenceCodec.MarkValueField(reader.Session);
        var length = reader.ReadVarUInt32();
        return new ArraySegment<byte>(reader.ReadBytes(length));
    }

    /// <summary>Registers the codec and Orleans' block copier for byte segments.</summary>
    [SuppressMessage("Performance", "CA1812", Justification = "Instantiated by dependency injection.")]
    public static void Register(IServiceCollection services)
    {
        services.AddSingleton<IFieldCodec<ArraySegment<byte>>, ByteSegmentCodec>();
        services.AddSingleton<IDeepCopier<ArraySegment<byte>>, ArraySegmentOfByteCopier>();
    }
}
