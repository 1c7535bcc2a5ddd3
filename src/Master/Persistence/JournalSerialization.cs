using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using AkkaSerialization = Akka.Serialization.Serialization;

namespace AiSystem.Master.Persistence;

/// <summary>
/// Payloads to rows and back through Akka's serializer registry, as Akka.Persistence.Sql stored them: the payload's
/// bytes, its serializer's id and manifest (not a wrapper around them).
/// </summary>
internal static class JournalSerialization
{
    public static (byte[] Bytes, string Manifest, int SerializerId) Serialize(ActorSystem system, object payload)
    {
        var serializer = system.Serialization.FindSerializerFor(payload);
        // With the transport set, actor refs inside a payload serialize with this node's address.
        var (bytes, manifest) = AkkaSerialization.WithTransport((ExtendedActorSystem)system, (serializer, payload),
            state => (state.serializer.ToBinary(state.payload), AkkaSerialization.ManifestFor(state.serializer, state.payload)));
        return (bytes, manifest, serializer.Identifier);
    }

    public static JournalRow ToRow(ActorSystem system, IPersistentRepresentation persistent, long nowTicks)
    {
        // We write no tags: a tagging adapter's wrapper is dropped, its payload stored.
        var payload = persistent.Payload is Tagged tagged ? tagged.Payload : persistent.Payload;
        var (bytes, manifest, serializerId) = Serialize(system, payload);
        return new JournalRow(persistent.PersistenceId, persistent.SequenceNr, persistent.Timestamp != 0 ? persistent.Timestamp : nowTicks,
            bytes, manifest, serializerId, persistent.WriterGuid);
    }

    public static object Deserialize(ActorSystem system, byte[] bytes, int? serializerId, string? manifest)
    {
        // Version 0.1.0 wrote its sessions with Akka's Newtonsoft JSON and CLR type names: read them as today's records.
        if (serializerId == Serialization.LegacyJournalFormat.NewtonsoftSerializerId && Serialization.LegacyJournalFormat.TryRead(bytes) is { } legacy)
            return legacy;
        if (serializerId is { } id) return system.Serialization.Deserialize(bytes, id, manifest ?? "");
        // Rows written without a serializer id name their CLR type in the manifest.
        var type = Type.GetType(manifest ?? "", throwOnError: false)
            ?? throw new System.Runtime.Serialization.SerializationException("A journal row has neither a serializer id nor a known type in its manifest.");
        return system.Serialization.FindSerializerForType(type).FromBinary(bytes, type);
    }

    public static Persistent ToPersistent(ActorSystem system, JournalRow row) => new(
        Deserialize(system, row.Message, row.Identifier, row.Manifest), row.SequenceNr, row.PersistenceId,
        row.Manifest ?? "", row.Deleted, ActorRefs.NoSender, row.WriterUuid, row.Created);
}
