package controller

import "fmt"

// OpenWhisk's error texts, as its controller answers them (ErrorResponse.scala and the
// HTTP framework's default rejection messages). Clients and tests compare them.
const (
	textAuthMissing      = "The resource requires authentication, which was not supplied with the request"
	textAuthInvalid      = "The supplied authentication is invalid"
	textNotAuthorized    = "The supplied authentication is not authorized to access this resource."
	textNotFound         = "The requested resource does not exist."
	textRouteNotFound    = "The requested resource could not be found."
	textExists           = "resource already exists"
	textConflict         = "Concurrent modification to resource detected."
	textConformance      = "Resource by this name exists but is not in this collection."
	textEntityIllegal    = "The name of the entity contains illegal characters."
	textNamespaceIllegal = "The namespace contains illegal characters."
	textActivationID     = "The activation id is not valid."
	textExecUndefined    = "exec undefined"
	textParamsNotAllowed = "Request defines parameters that are not allowed (e.g., reserved properties)."
	textDocsWithCount    = "The parameter 'docs' is not permitted with 'count'."
	textInternal         = "There was an internal server error."
	textUnavailable      = "The server is currently unavailable (because it is overloaded or down for maintenance)."
	textTooLarge         = "The request is larger than the server is willing or able to process."
	textSequence         = "Sequence actions are not supported by this controller."
	textNotImplemented   = "This operation is not supported by this controller."
	textMalformedPrefix  = "The request content was malformed:\n"
)

func textMalformedQuery(name, detail string) string {
	return fmt.Sprintf("The query parameter '%s' was malformed:\n%s", name, detail)
}

func textMethodNotAllowed(allowed string) string {
	return "HTTP method not allowed, supported methods: " + allowed
}

func textNameTooLong(n, max int) string {
	return fmt.Sprintf("Name segement longer than allowed: %d > %d.", n, max)
}

func textActivationIDLength(n int) string {
	return fmt.Sprintf("Activation id length is %d but must be 32.", n)
}

func textTooManyRequests(count, allowed int) string {
	return fmt.Sprintf("Too many requests in the last minute (count: %d, allowed: %d).", count, allowed)
}

func textTooManyConcurrent(count, allowed int) string {
	return fmt.Sprintf("Too many concurrent requests in flight (count: %d, allowed: %d).", count, allowed)
}

func textEntityTooBig(field string, is, allowed int64) string {
	return fmt.Sprintf("%s larger than allowed: %d > %d bytes.", field, is, allowed)
}

func textInvalidTimeout(maxMS int64) string {
	return fmt.Sprintf("Timeout must be number of milliseconds up to %d.", maxMS)
}

func textListLimit(collection string, n, max int) string {
	return fmt.Sprintf("The value '%d' is not in the range of 0 to %d for %s.", n, max, collection)
}

func textListSkip(collection string, n int) string {
	return fmt.Sprintf("The value '%d' is not greater than or equal to 0 for %s.", n, collection)
}

func textNotInteger(collection, v string) string {
	return fmt.Sprintf("The value '%s' is not an integer for %s.", v, collection)
}

func textBadNameFilter(v string) string {
	return "Parameter may be a 'simple' name or 'package-name/simple' name: " + v
}

func textBadEpoch(v string) string {
	return "Parameter is not a valid value for epoch seconds: " + v
}

func textDeprecated(kind string) string {
	return fmt.Sprintf("The '%s' runtime is no longer supported. You may read and delete but not update or invoke this action.", kind)
}

func textInvalidRuntime(kind string, valid []string) string {
	s := ""
	for i, v := range valid {
		if i > 0 {
			s += ", "
		}
		s += "'" + v + "'"
	}
	return fmt.Sprintf("The specified runtime '%s' is not supported by this platform. Valid values are: %s.", kind, s)
}
