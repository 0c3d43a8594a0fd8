// Package message holds the OpenWhisk wire types the invoker and the
// controller exchange over Kafka and store in CouchDB, with their exact JSON
// (shared/spec/openwhisk-invoker-wire.md §2–§6):
//
//   - ActivationMessage, read from invoker<N> (DecodeActivationMessage);
//   - the three acks on completed<C>: CompletionMessage, ResultMessage and
//     CombinedMessage (CombinedCompletionAndResultMessage), read back with
//     DecodeAck;
//   - PingMessage on health (DecodePing), with owinvoker's optional
//     lendableCpuMillis and lendableMemoryMB members;
//   - EventMessage on events (NewActivationEvent, DecodeEvent);
//   - WhiskActivation, as acks carry it, and ActivationRecord, its document
//     in the activations database;
//   - the parts: TransactionID, ActivationID, FQN, DocRevision,
//     ControllerInstanceID, InvokerInstanceID, ByteSize, Identity,
//     UserLimits, Parameters, ActivationResponse.
//
// # The JSON contract
//
// Every type encodes and decodes the way OpenWhisk's spray-json formats do,
// so a Scala controller or invoker reads what we write and we read what
// they write:
//
//   - A member that is an Option in Scala is omitted when empty (nil
//     pointer, nil map or slice, empty string or id) and null reads as
//     absent. A member that is not an Option is always written, as [] or {}
//     when empty, and DecodeX fails when it is missing.
//   - An unknown revision is written as "revision": null.
//   - Member order is irrelevant; unknown members are ignored on read.
//   - Values are normalised as OpenWhisk normalises them on read: entity
//     paths lose empty segments, versions become "x.y.z", subjects and
//     revisions are trimmed, privilege names upper-cased, sets de-duplicated.
//     userMemory and the other byte sizes are written in bytes ("N B").
//   - Two Option[Boolean] members are always written because the Scala
//     invoker always sets them: isSystemError of acks and isEnabled of
//     pings. Absent reads as false and true respectively.
//   - Arbitrary JSON (message content, results, parameter values, the
//     authkey's members) is kept as json.RawMessage and passed through.
//
// Use Marshal rather than json.Marshal to encode: it writes compact JSON
// without HTML escaping, as the Scala side does. Both produce JSON that
// parses to the same values.
//
// # Errors
//
// Decoding never panics. A malformed or partial message yields an error
// that names the path to the bad member, for example
//
//	activation message: field "user": field "namespace": field "uuid": missing
//
// The caller logs it (without the payload, which may hold secrets), skips
// the record and sends no ack, as OpenWhisk does. Two sentinels exist:
// ErrFPCMessage, wrapped when an invoker topic carries an FPC container
// message (log and drop it), and ErrNoEvent from NewActivationEvent.
//
// One deliberate leniency follows Scala: a transid of the wrong shape does
// not fail; it reads as TransactionUnknown ("sid_unknown") with start 0,
// and a malformed parent is dropped. A missing transid still fails.
//
// # What callers must do
//
// An invoker echoes TransID from the ActivationMessage unchanged in every
// ack (the controller recognises health activations by comparing the whole
// transid with Equal), sends each ack to m.CompletedTopic(prefix), sends
// exactly one slot-freeing ack (Completion or Combined) per parsed message,
// shrinks acks of non-blocking activations (Ack.Shrink), and sends the
// shrunk form when the full one exceeds MaxRecordBytes.
//
// Identity.AuthKey, ActivationMessage.Content, parameter values and
// activation results hold secrets and user data: never log them.
//
// The package uses only the standard library.
package message
