// Package e2e holds the end-to-end tests of the lean controller driving real owinvokers over
// real Kafka, a CouchDB-API server and Docker, through the client library wsk is built on.
package e2e
