package balancer

import "unicode/utf16"

// javaHashCode is Java's String.hashCode: the wrap-around sum h = 31·h + c over the
// string's UTF-16 code units.
func javaHashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			h = 31*h + hi
			h = 31*h + lo
			continue
		}
		h = 31*h + r
	}
	return h
}

// Hash is OpenWhisk's placement hash of an activation: the absolute value of the XOR
// of the Java hash codes of the invoking user's namespace name and of the action's
// fully qualified name without version ("ns/[pkg/]name").
//
// The result is never negative. Where Java's abs leaves -2³¹ negative (and upstream
// would then compute a negative index), Hash returns 2³¹.
func Hash(namespace, action string) int {
	x := int64(javaHashCode(namespace) ^ javaHashCode(action))
	if x < 0 {
		x = -x
	}
	return int(x)
}

// StepSizes returns the step sizes for a pool of n invokers: walking 1..n, each number
// coprime to n and to every number already kept. The first is always 1, and every step
// visits all n invokers before it repeats. StepSizes(n) for n < 1 is [1].
func StepSizes(n int) []int {
	steps := []int{}
	for cur := 1; cur <= n; cur++ {
		if gcd(cur, n) != 1 {
			continue
		}
		coprime := true
		for _, s := range steps {
			if gcd(s, cur) != 1 {
				coprime = false
				break
			}
		}
		if coprime {
			steps = append(steps, cur)
		}
	}
	if len(steps) == 0 {
		steps = append(steps, 1)
	}
	return steps
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
