package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestLoadTrace(t *testing.T) {
	root := "../../benchmarks/trace/testdata/"
	tr, err := loadTrace("libra:"+root+"freyr-60min/exp_openwhisk", false)
	if err != nil || len(tr.Functions) != 10 {
		t.Fatalf("libra: %v", err)
	}
	d := root + "invitro-azure2019-10fn-fullday/"
	tr, err = loadTrace("azure2019:"+d+"invocations.csv,"+d+"durations.csv,"+d+"memory.csv", false)
	if err != nil || len(tr.Functions) == 0 {
		t.Fatalf("azure2019: %v", err)
	}
	for _, bad := range []string{"nokind", "azure2019:a,b", "libra:/nonexistent/x", "other:x"} {
		if _, err := loadTrace(bad, false); err == nil {
			t.Errorf("loadTrace(%q) succeeded", bad)
		}
	}
}

func TestRunRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--spread", "sideways"},
		{"--spread", "exact"},
		{"--functions", "99"},
		{"--auth", "nocolon"},
		{"extra"},
	} {
		var out, errw bytes.Buffer
		err := run(context.Background(), append([]string{"--trace", "libra:../../benchmarks/trace/testdata/freyr-60min/exp_openwhisk", "--wait-invokers", "0"}, args...), &out, &errw)
		if err == nil {
			t.Errorf("run(%v) succeeded", args)
		}
		if strings.Contains(out.String(), "invocations,") {
			t.Errorf("run(%v) printed a summary", args)
		}
	}
}
