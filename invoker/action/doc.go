// Package action reads and writes OpenWhisk action documents of the whisks
// database (shared/spec/openwhisk-invoker-wire.md §7.2–§7.6) and prepares
// what the invoker sends to a runtime's /init and /run (§8.2, §8.3).
//
// # Reading an action
//
//	a, err := action.Decode(doc)              // errors wrap ErrIncompatible
//	err = a.Resolve(lookup)                   // the runtimes manifest: kind, main, code form
//	err = a.Limits.Check(action.Allowed(system, nsDefault, user))  // *LimitError
//	err = a.Executable()                      // ErrNotExecutable for sequences
//
// The caller maps the errors to activation responses (§7.7):
// ErrIncompatible to status 3 "Action version is not compatible and cannot
// be invoked.", ErrNotExecutable to status 3 "Action could not be
// fetched.", a *LimitError to status 1 with its Message. OpenWhisk checks
// limits before executability.
//
// Decode follows OpenWhisk's reader: every member of the document is
// required except _id, _rev, _attachments and entityType (which, when
// present, must be "action"); limits.logs and limits.concurrency default to
// the standard values; the kind is trimmed and lower-cased; for code given
// as a string, binary is derived from the code (IsBinaryCode) whatever the
// document says, while for an attachment the stored flag counts.
//
// # Code
//
// Exec.Code is text stored in the document or an Attachment. An attachment
// named mem:<base64url> carries its bytes in its name (InlineBytes);
// couch:<name> and legacy relative names are CouchDB attachments of the
// same document (CouchName) that the store fetches. Binary bytes are sent
// to /init as standard base64 (InitValue does that).
//
// # /init and /run
//
// SplitArgs separates the message content into init parameters and the run
// value, after Unlock has decrypted the locked arguments (§7.6). InitEnv
// adds the __OW_ context to the init parameters, InitValue builds the /init
// value and RunBody the /run body.
//
// Parameters, the context's API key and decrypted values are secrets and
// user data: never log them. The package uses only the standard library.
package action
