package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Sentinel is the line runtimes write to stdout and stderr after every activation.
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

const (
	textTruncated    = "Logs were truncated because the total bytes size exceeds the limit of %d bytes."
	textLogFailure   = "There was an issue while collecting your logs. Data might be missing."
	textDeveloperErr = "The action did not initialize or run as expected. Log data might be missing."
	logPoll          = 5 * time.Millisecond
	logIdle          = 2 * time.Second
)

// logCursor reads one container's json-file log, remembering where the last activation's
// logs ended.
type logCursor struct {
	mu     sync.Mutex
	path   string
	offset int64
}

var errFraming = errors.New("log line longer than the limit")

// collect reads lines from the cursor's offset. With waitSentinels it tails the file until two
// sentinel lines (any streams) have been read, with an idle timeout of 2 s and an overall one of
// max(limit MB, 5) × 2 s; without, it reads to the current end of the file. Lines are
// formatted as OpenWhisk does: time padded to 30 characters, stream, text.
func (c *logCursor) collect(ctx context.Context, now func() time.Time, limit int64, waitSentinels, developerError bool) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var lines []string
	ok := true
	marker := func(text string) {
		lines = append(lines, formatLine(now().UTC().Format(time.RFC3339Nano), "stderr", text))
	}
	truncated, err := c.read(ctx, limit, waitSentinels, &lines)
	switch {
	case truncated:
		marker(fmt.Sprintf(textTruncated, limit))
	case err != nil:
		marker(textLogFailure)
		ok = false
	}
	if developerError {
		marker(textDeveloperErr)
	}
	return lines, ok
}

func (c *logCursor) read(ctx context.Context, limit int64, waitSentinels bool, out *[]string) (truncated bool, err error) {
	f, err := os.Open(c.path)
	if err != nil {
		return false, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(c.offset, io.SeekStart); err != nil {
		return false, fmt.Errorf("seek log: %w", err)
	}
	maxWait := time.Duration(max(limit>>20, 5)) * 2 * time.Second
	deadline := time.Now().Add(maxWait)
	lastLine := time.Now()
	r := bufio.NewReaderSize(f, 64<<10)
	var partial []byte
	var used int64
	sentinels := 0
	for {
		chunk, rerr := r.ReadBytes('\n')
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			line := append(partial, chunk[:len(chunk)-1]...)
			partial = nil
			c.offset += int64(len(line)) + 1
			lastLine = time.Now()
			size := int64(len(line)) + 1
			if size > limit {
				return false, errFraming
			}
			if used+size > limit {
				// Over the limit: the rest of this activation's lines are skipped up to the
				// sentinels, so the next activation starts clean.
				truncated = true
			}
			used += size
			if strings.Contains(string(line), Sentinel) {
				sentinels++
				if sentinels == 2 {
					return truncated, nil
				}
				continue
			}
			if !truncated {
				var l struct {
					Log    string `json:"log"`
					Stream string `json:"stream"`
					Time   string `json:"time"`
				}
				if json.Unmarshal(line, &l) == nil {
					*out = append(*out, formatLine(l.Time, l.Stream, strings.TrimSuffix(l.Log, "\n")))
				}
			}
			continue
		}
		partial = append(partial, chunk...)
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return truncated, fmt.Errorf("read log: %w", rerr)
		}
		if !waitSentinels {
			// Not waiting: an unfinished last line stays for next time.
			return truncated, nil
		}
		if time.Now().After(deadline) || time.Since(lastLine) > logIdle {
			return truncated, errors.New("log sentinels not found in time")
		}
		select {
		case <-ctx.Done():
			return truncated, ctx.Err()
		case <-time.After(logPoll):
		}
		// Re-read from where the partial line started.
		if len(partial) > 0 {
			if _, err := f.Seek(c.offset, io.SeekStart); err != nil {
				return truncated, err
			}
			partial = nil
		}
		r.Reset(f)
	}
}

func formatLine(t, stream, text string) string {
	return fmt.Sprintf("%-30s %s: %s", t, stream, text)
}
