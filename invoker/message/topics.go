package message

import "strconv"

// Topic names (§1.1). prefix is whisk.kafka.topics.prefix (usually empty);
// the events topic uses whisk.kafka.topics.user-event.prefix instead.

// InvokerTopic returns "<prefix>invoker<N>", invoker N's activation topic
// and also its consumer group id.
func InvokerTopic(prefix string, instance int) string {
	return prefix + "invoker" + strconv.Itoa(instance)
}

// CompletedTopic returns "<prefix>completed<C>", controller C's ack topic.
func CompletedTopic(prefix string, controller ControllerInstanceID) string {
	return prefix + "completed" + string(controller)
}

// HealthTopic returns "<prefix>health", where invokers ping.
func HealthTopic(prefix string) string { return prefix + "health" }

// HealthGroup returns "<prefix>health<C>", controller C's consumer group on
// the health topic (one group per controller, so each sees every ping).
func HealthGroup(prefix string, controller ControllerInstanceID) string {
	return prefix + "health" + string(controller)
}

// EventsTopic returns "<userEventPrefix>events", the user events topic.
func EventsTopic(userEventPrefix string) string { return userEventPrefix + "events" }

// MaxRecordBytes is max.message.bytes of the invoker and completed topics
// and max.request.size of the ack producer: whisk.activation.payload.max
// (1 MiB) plus whisk.activation.serdes-overhead (6068 bytes), §1.2. An ack
// larger than this must be sent shrunk (§5.3).
const MaxRecordBytes = 1048576 + 6068
