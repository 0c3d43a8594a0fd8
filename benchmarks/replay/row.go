package replay

import (
	"encoding/csv"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// Row is one invocation of a replay: what was asked, what happened. The csv
// tags name its columns.
type Row struct {
	Seq        int     `csv:"seq"`
	Function   string  `csv:"function"`
	Class      string  `csv:"class"`       // over, under, right
	DeclaredMB int     `csv:"declared_mb"` // the action's memory limit
	CPU        float64 `csv:"cpu"`         // busy fraction asked for
	RunMS      int     `csv:"run_ms"`      // run time asked for
	MB         int     `csv:"mb"`          // memory asked for, on top of the runtime's

	ScheduledMS float64 `csv:"scheduled_ms"`
	SubmitMS    float64 `csv:"submit_ms"`
	ResponseMS  float64 `csv:"response_ms"`
	LatencyMS   float64 `csv:"latency_ms"` // ResponseMS - SubmitMS

	ActivationID string  `csv:"activation_id"`
	HTTPStatus   int     `csv:"http_status"` // of the invoke request (202 when the record was polled)
	Status       string  `csv:"status"`      // the activation's response status, or client-error
	StartMS      float64 `csv:"start_ms"`
	EndMS        float64 `csv:"end_ms"`
	WaitMS       int64   `csv:"wait_ms"`
	InitMS       int64   `csv:"init_ms"`
	DurationMS   int64   `csv:"duration_ms"`
	Cold         bool    `csv:"cold"`
	Timeout      bool    `csv:"timeout"`
	OOM          bool    `csv:"oom"`
	Invoker      string  `csv:"invoker"`

	CPUMs          int64 `csv:"cpu_ms"` // CPU the action measured itself
	PeakMemMB      int   `csv:"peak_mem_mb"`
	PeakCPUMillis  int   `csv:"peak_cpu_millis"`
	AllocCPUMillis int   `csv:"alloc_cpu_millis"`
	LentMemMB      int   `csv:"lent_mem_mb"`
	BorrowedMemMB  int   `csv:"borrowed_mem_mb"`
	LentCPUMillis  int   `csv:"lent_cpu_millis"`
	BorrowedCPU    int   `csv:"borrowed_cpu_millis"`

	Error string `csv:"error"` // client-side error or the activation's error text
}

// Statuses beyond OpenWhisk's four.
const (
	StatusClientError = "client error" // no activation: the request failed or was refused
)

var columns = func() []string {
	t := reflect.TypeFor[Row]()
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = t.Field(i).Tag.Get("csv")
	}
	return out
}()

// Columns are the CSV header.
func Columns() []string { return append([]string(nil), columns...) }

// WriteCSV writes rows with a header.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(columns); err != nil {
		return err
	}
	rec := make([]string, len(columns))
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		for k := range columns {
			f := v.Field(k)
			switch f.Kind() {
			case reflect.String:
				rec[k] = f.String()
			case reflect.Int, reflect.Int64:
				rec[k] = strconv.FormatInt(f.Int(), 10)
			case reflect.Float64:
				rec[k] = strconv.FormatFloat(f.Float(), 'f', -1, 64)
			case reflect.Bool:
				rec[k] = strconv.FormatBool(f.Bool())
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadCSV reads what WriteCSV wrote; name is used in errors.
func ReadCSV(name string, r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(columns)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	if strings.Join(head, ",") != strings.Join(columns, ",") {
		return nil, fmt.Errorf("%s: header %q is not a replay CSV header", name, strings.Join(head, ","))
	}
	var rows []Row
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var row Row
		v := reflect.ValueOf(&row).Elem()
		for k, s := range rec {
			f := v.Field(k)
			var err error
			switch f.Kind() {
			case reflect.String:
				f.SetString(s)
			case reflect.Int, reflect.Int64:
				var n int64
				n, err = strconv.ParseInt(s, 10, 64)
				f.SetInt(n)
			case reflect.Float64:
				var x float64
				x, err = strconv.ParseFloat(s, 64)
				f.SetFloat(x)
			case reflect.Bool:
				var b bool
				b, err = strconv.ParseBool(s)
				f.SetBool(b)
			}
			if err != nil {
				return nil, fmt.Errorf("%s:%d: column %d (%s) %q: %w", name, line, k+1, columns[k], s, err)
			}
		}
		rows = append(rows, row)
	}
}
