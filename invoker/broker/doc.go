// Package broker is the invoker's Kafka edge: it consumes the activation topic
// (`invoker<N>`) under OpenWhisk's consumer group, with commits that give either OpenWhisk's
// at-most-once delivery or our at-least-once delivery, and it produces acknowledgements,
// health pings and events.
//
// It moves bytes, not messages: decoding is the caller's job (package message), so a record
// that cannot be parsed is still a record whose offset the caller can skip and commit.
//
// Flow control is the caller's: Consumer.Fetch returns one record at a time, and the invoker
// calls it again only when the memory in use plus the next action fits. The reader's own
// prefetch queue is bounded by Config.QueueCapacity, so nothing here grows without bound.
package broker
