// Package config turns an invoker's command line and environment, under the names OpenWhisk's
// ansible role already passes (--id, --uniqueName, KAFKA_HOSTS, CONFIG_whisk_*, DB_*,
// WHISK_API_HOST_*, RUNTIMES_MANIFEST, PORT), into a validated Config. It is pure: the
// caller hands in os.Args and os.Environ().
package config

import (
	"fmt"
	"strings"
	"unicode"
)

// Keys maps environment variables named CONFIG_<path> to HOCON paths the way OpenWhisk's
// transformEnvironment.sh does: `_` separates segments, camelCase segments become
// kebab-case, segments starting with an upper-case letter are kept verbatim. Empty values are
// skipped; a value "$NAME" is read from the variable NAME.
//
//	CONFIG_whisk_containerPool_userMemory=2048m → whisk.container-pool.user-memory = 2048m
func Keys(environ []string) map[string]string {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			env[k] = v
		}
	}
	keys := map[string]string{}
	for k, v := range env {
		path, ok := strings.CutPrefix(k, "CONFIG_")
		if !ok || v == "" {
			continue
		}
		if ref, ok := strings.CutPrefix(v, "$"); ok {
			if v = env[ref]; v == "" {
				continue
			}
		}
		segs := strings.Split(path, "_")
		for i, s := range segs {
			segs[i] = kebab(s)
		}
		keys[strings.Join(segs, ".")] = v
	}
	return keys
}

func kebab(seg string) string {
	if seg == "" || unicode.IsUpper(rune(seg[0])) {
		return seg
	}
	var b strings.Builder
	for _, r := range seg {
		if unicode.IsUpper(r) {
			b.WriteByte('-')
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// list collects indexed keys prefix.0, prefix.1, ... (ansible's `_<i>` lists) in order.
func list(keys map[string]string, prefix string) []string {
	var out []string
	for i := 0; ; i++ {
		v, ok := keys[fmt.Sprintf("%s.%d", prefix, i)]
		if !ok {
			return out
		}
		out = append(out, v)
	}
}
