package trace

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseError reports bad input with its position. Every parser in this
// package returns a *ParseError for malformed content (use errors.As); read
// errors from the underlying io.Reader are wrapped as they come.
type ParseError struct {
	File   string // the name handed to the parser
	Line   int    // 1-based; the header is line 1
	Column int    // 1-based field number; 0 when the whole line is at fault
	Value  string // the offending field, when Column > 0
	Err    error  // what is wrong, e.g. "not an integer"
}

// Error formats as `file:line: column N "value": what`, or `file:line: what`.
func (e *ParseError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%s:%d: column %d %q: %v", e.File, e.Line, e.Column, clip(e.Value), e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// clip keeps error messages short when a fuzzer or a broken file hands us a
// huge field.
func clip(s string) string {
	const maxLen = 40
	if len(s) <= maxLen {
		return s
	}
	cut := maxLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

var (
	errNotInteger = errors.New("not an integer")
	errNotNumber  = errors.New("not a number")
	errNegative   = errors.New("negative")
	errOutOfRange = errors.New("out of range")
	errEmptyField = errors.New("empty")
	errBadID      = errors.New("identifier contains a quote, a control character or invalid UTF-8")
	errEmptyLine  = errors.New("empty line before more data")
	errNoHeader   = errors.New("empty file, want a header line")
	errBelowPrev  = errors.New("percentile below the previous one")
	errBadTrigger = errors.New("unknown trigger (want http, timer, event, queue, storage, orchestration or others)")
)

// table reads a comma-separated file line by line. It accepts LF and CRLF
// line ends and ignores empty lines at the end of the file; an empty line
// followed by more data is an error. Fields are split on every comma: the
// Azure files never quote, so a quote is rejected where it would matter.
type table struct {
	name   string
	br     *bufio.Reader
	line   int // number of the line last returned
	blank  int // first empty line seen since the last data line, 0 if none
	header []string
}

func newTable(name string, r io.Reader) *table {
	return &table{name: name, br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the fields of the next data line, or io.EOF.
func (t *table) next() ([]string, error) {
	for {
		s, err := t.br.ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read %s: %w", t.name, err)
		}
		if s == "" && err == io.EOF {
			return nil, io.EOF
		}
		t.line++
		s = strings.TrimSuffix(s, "\n")
		s = strings.TrimSuffix(s, "\r")
		if s == "" {
			if t.blank == 0 {
				t.blank = t.line
			}
			if err == io.EOF {
				return nil, io.EOF
			}
			continue
		}
		if t.blank != 0 {
			return nil, t.lineErr(t.blank, errEmptyLine)
		}
		return strings.Split(s, ","), nil
	}
}

// readHeader reads line 1.
func (t *table) readHeader() ([]string, error) {
	h, err := t.next()
	if err == io.EOF {
		return nil, t.lineErr(1, errNoHeader)
	}
	if err != nil {
		return nil, err
	}
	t.header = h
	return h, nil
}

func (t *table) lineErr(line int, err error) *ParseError {
	return &ParseError{File: t.name, Line: line, Err: err}
}

// fieldErr reports field i (0-based) of the current line.
func (t *table) fieldErr(i int, value string, err error) *ParseError {
	return &ParseError{File: t.name, Line: t.line, Column: i + 1, Value: value, Err: err}
}

// expectFields checks the column count of a data line against the header.
func (t *table) expectFields(fields []string) error {
	if len(fields) != len(t.header) {
		return t.lineErr(t.line, fmt.Errorf("%d columns, want %d as in the header", len(fields), len(t.header)))
	}
	return nil
}

// expectHeader checks that header starts with exactly want (and, when exact,
// has nothing else).
func (t *table) expectHeader(header, want []string, exact bool) error {
	for i, w := range want {
		if i >= len(header) {
			return t.lineErr(1, fmt.Errorf("%d columns, want %d (%s)", len(header), len(want), strings.Join(want, ",")))
		}
		if header[i] != w {
			return t.fieldErr(i, header[i], fmt.Errorf("want %q", w))
		}
	}
	if exact && len(header) != len(want) {
		return t.lineErr(1, fmt.Errorf("%d columns, want %d (%s)", len(header), len(want), strings.Join(want, ",")))
	}
	return nil
}

// minuteColumns parses header[from:] as consecutive minute labels (at least
// one, starting at 1 or above, or exactly at 1 when first1 is set) and
// returns the first label.
func (t *table) minuteColumns(header []string, from int, first1 bool) (int, error) {
	return t.labelColumns(header, from, first1, "minute")
}

// labelColumns is minuteColumns for labels of any kind (what).
func (t *table) labelColumns(header []string, from int, first1 bool, what string) (int, error) {
	if len(header) <= from {
		return 0, t.lineErr(1, fmt.Errorf("no %s columns after column %d", what, from))
	}
	start := 0
	for i := from; i < len(header); i++ {
		n, err := parseCount(header[i])
		if err != nil {
			return 0, t.fieldErr(i, header[i], fmt.Errorf("%s label: %w", what, err))
		}
		if i == from {
			start = n
			if first1 && n != 1 {
				return 0, t.fieldErr(i, header[i], fmt.Errorf("%s labels must start at 1", what))
			}
			if n < 1 {
				return 0, t.fieldErr(i, header[i], fmt.Errorf("%s labels start at 1 or above", what))
			}
			continue
		}
		if n != start+(i-from) {
			return 0, t.fieldErr(i, header[i], fmt.Errorf("%s labels must be consecutive: want %d", what, start+(i-from)))
		}
	}
	return start, nil
}

// id checks an identifier field (hash, app name, trigger).
func (t *table) id(fields []string, i int) (string, error) {
	s := fields[i]
	if s == "" {
		return "", t.fieldErr(i, s, errEmptyField)
	}
	if !utf8.ValidString(s) {
		return "", t.fieldErr(i, s, errBadID)
	}
	for _, r := range s {
		if r == '"' || r < 0x20 || r == 0x7f {
			return "", t.fieldErr(i, s, errBadID)
		}
	}
	return s, nil
}

func (t *table) trigger(fields []string, i int) (Trigger, error) {
	s := fields[i]
	tr := Trigger(s)
	if !tr.Known() {
		return "", t.fieldErr(i, s, errBadTrigger)
	}
	return tr, nil
}

// count parses a non-negative decimal integer field.
func (t *table) count(fields []string, i int) (int, error) {
	n, err := parseCount(fields[i])
	if err != nil {
		return 0, t.fieldErr(i, fields[i], err)
	}
	return n, nil
}

// number parses a non-negative, finite decimal number field.
func (t *table) number(fields []string, i int) (float64, error) {
	v, err := parseNumber(fields[i])
	if err != nil {
		return 0, t.fieldErr(i, fields[i], err)
	}
	return v, nil
}

// percentiles parses fields[from:from+len(qs)] as non-decreasing values.
func (t *table) percentiles(fields []string, from int, qs []float64) (Percentiles, error) {
	p := make(Percentiles, len(qs))
	for k, q := range qs {
		v, err := t.number(fields, from+k)
		if err != nil {
			return nil, err
		}
		if k > 0 && v < p[k-1].Value {
			return nil, t.fieldErr(from+k, fields[from+k], fmt.Errorf("%w (%s)", errBelowPrev, fields[from+k-1]))
		}
		p[k] = Point{Q: q, Value: v}
	}
	return p, nil
}

// maxCount bounds every count field. No real per-minute or per-day count
// comes near 2^40, and the bound keeps sums over days far from overflow.
const maxCount = 1 << 40

func parseCount(s string) (int, error) {
	if s == "" {
		return 0, errEmptyField
	}
	if s[0] == '-' && len(s) > 1 && isDigits(s[1:]) {
		return 0, errNegative
	}
	if !isDigits(s) {
		return 0, errNotInteger
	}
	if len(s) <= 12 { // fast path: below maxCount, no overflow possible
		n := 0
		for i := 0; i < len(s); i++ {
			n = n*10 + int(s[i]-'0')
		}
		return n, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxCount {
		return 0, errOutOfRange
	}
	return int(n), nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseNumber accepts plain decimal notation with an optional fraction and
// exponent ("12", "0.5", ".5", "3.", "1e3", "2.5E-2"); no sign, no hex, no
// underscores, no NaN or infinity.
func parseNumber(s string) (float64, error) {
	if s == "" {
		return 0, errEmptyField
	}
	if s[0] == '-' {
		if _, err := parseNumber(s[1:]); err == nil {
			return 0, errNegative
		}
		return 0, errNotNumber
	}
	if !isDecimal(s) {
		return 0, errNotNumber
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, errOutOfRange
	}
	return v, nil
}

func isDecimal(s string) bool {
	i, digits := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}
