namespace AiSystem.Master.Serialization;

/// <summary>
/// Written to the journal or a snapshot. Every such type has a stable manifest in <see cref="Manifests"/> and is
/// serialized by <see cref="AiSerializer"/>, never by Akka's default (CLR type names in the journal).
/// </summary>
public interface IJournalRecord;

/// <summary>
/// May travel between masters (sessions, the dispatcher singleton and browser pushes live on any master). Bound to
/// <see cref="AiSerializer"/> like <see cref="IJournalRecord"/>.
/// </summary>
public interface IClusterMessage;
