package message

import (
	"strconv"
)

// Standard error texts the invoker puts into result.error (§6.2). They
// must match OpenWhisk's byte for byte: clients and tests compare them.
const (
	// TextAbnormalInit: the container died during /init (status 2).
	TextAbnormalInit = "The action did not initialize and exited unexpectedly."
	// TextAbnormalRun: the container died or gave no valid response during /run (status 2).
	TextAbnormalRun = "The action did not produce a valid response and exited unexpectedly."
	// TextMemoryExhausted: the container was OOM-killed (status 2).
	TextMemoryExhausted = "The action exhausted its memory and was aborted."
	// TextActionRemoved: the action document does not exist (status 1).
	TextActionRemoved = "Action could not be found or may have been deleted."
	// TextActionMismatch: wrong document type or unreadable document (status 3).
	TextActionMismatch = "Action version is not compatible and cannot be invoked."
	// TextActionFetchError: any other fetch error, or a non-executable action (status 3).
	TextActionFetchError = "Action could not be fetched."
	// TextNamespaceBlacklisted: the invoking namespace is blocked (status 1).
	TextNamespaceBlacklisted = "The action was not invoked due to a blacklisted namespace."
	// TextResourceProvisionError: the container could not be created (status 3).
	TextResourceProvisionError = "Failed to provision resources to run the action."
	// TextLogFailure is the log marker line for a log collection problem.
	TextLogFailure = "There was an issue while collecting your logs. Data might be missing."
	// TextLogDeveloperError is the log marker line appended after a developer error.
	TextLogDeveloperError = "The action did not initialize or run as expected. Log data might be missing."
)

// TextTimedOut is the timeout text; init selects the variant for /init
// (status 2).
func TextTimedOut(timeoutMS int64, init bool) string {
	s := "The action exceeded its time limits of " + strconv.FormatInt(timeoutMS, 10) + " milliseconds"
	if init {
		return s + " during initialization."
	}
	return s + "."
}

// TextInvalidInit is the text for a failed /init whose body had no error
// member (status 2).
func TextInvalidInit(body string) string {
	if body == "" {
		return "The action failed during initialization."
	}
	return "The action failed during initialization: " + body
}

// TextInvalidRun is the text for a /run body that is not a JSON object or
// array (status 2).
func TextInvalidRun(body string) string {
	if body == "" {
		return "The action did not produce a valid JSON or JSON Array response."
	}
	return "The action did not produce a valid JSON or JSON Array response: " + body
}

// TextTruncated is the text for a response larger than allowed; truncated
// holds its first bytes (status 1 for /run, 2 for /init).
func TextTruncated(length, limit ByteSize, truncated string) string {
	return "The action produced a response that exceeded the allowed length: " +
		strconv.FormatInt(int64(length), 10) + " > " + strconv.FormatInt(int64(limit), 10) +
		" bytes. The truncated response was: " + truncated
}

// TextImagePullError is the text for a failed blackbox image pull (status 2).
func TextImagePullError(image string) string {
	return "Failed to pull container image '" + image + "'."
}

// TextCommandNotFound is the text for a blackbox image whose entry point is
// missing (docker run exit 127, status 2).
func TextCommandNotFound(image string) string {
	return "executable file not found in image " + image
}

// TextLogsTruncated is the log marker line for logs cut at the limit.
func TextLogsTruncated(limit ByteSize) string {
	return "Logs were truncated because the total bytes size exceeds the limit of " +
		strconv.FormatInt(int64(limit), 10) + " bytes."
}
