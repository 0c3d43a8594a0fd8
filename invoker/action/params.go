package action

import "github.com/owinvoker/owinvoker/invoker/message"

// Parameter and Parameters are the parameters and annotations arrays of an action
// document: the same wire form as in messages and activation records (§2.9), so they are
// message's types.
type (
	Parameter  = message.Parameter
	Parameters = message.Parameters
)
