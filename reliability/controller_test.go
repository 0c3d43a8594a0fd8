package reliability_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/owinvoker/owinvoker/reliability"
)

// sleepyAction is the API document of an action running reliability.SinkAction.
func sleepyAction() map[string]any {
	return map[string]any{"exec": map[string]any{"kind": "python:3", "code": reliability.SinkAction},
		"limits": map[string]any{"memory": 128, "timeout": 60000}}
}

type answer struct {
	code int
	body []byte
	err  error
	at   time.Time // when it arrived
}

// invokeAsync starts a blocking invoke and returns where its answer will arrive.
func invokeAsync(ctl *reliability.Controller, action string, payload map[string]any) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		code, body, _, err := ctl.DoErr(http.MethodPost, "/api/v1/namespaces/_/actions/"+action+"?blocking=true", reliability.GuestAuthKey, payload)
		ch <- answer{code, body, err, time.Now()}
	}()
	return ch
}

// waitActivation polls GET /activations/{id} until the record is there.
func waitActivation(t *testing.T, ctl *reliability.Controller, auth, id string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body, _ := ctl.Do(http.MethodGet, "/api/v1/namespaces/_/activations/"+id, auth, nil)
		if code == http.StatusOK {
			var act map[string]any
			if err := json.Unmarshal(body, &act); err != nil {
				t.Fatal(err)
			}
			return act
		}
		if time.Now().After(deadline) {
			t.Fatalf("activation %s: %d %s after %v", id, code, body, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestControllerRestartWhileBlockingInvokesWait stops owcontroller (SIGTERM, then SIGKILL)
// while blocking invokes wait for their results.
//
// SIGTERM: every waiting client gets 202 with its activation id at once (without that, the
// clients would hang until the shutdown grace ran out and then lose the connection), and the
// activations, which keep running on the invoker, can be fetched by id once the controller
// is back. SIGKILL: the clients' connections drop at once (no client hangs), and the
// activations are still recorded.
func TestControllerRestartWhileBlockingInvokesWait(t *testing.T) {
	t.Parallel()
	sys := reliability.NewSystem(t, bins, reliability.SystemConfig{})
	sys.StartInvoker(reliability.InvokerConfig{})
	ctl := sys.StartController(reliability.ControllerConfig{})
	ctl.WaitInvokers(1, 2*time.Minute)
	ctl.PutAction(reliability.GuestAuthKey, "slow", sleepyAction())
	payload := map[string]any{"sink": sys.Sink.URL, "sleep": 6}

	t.Run("SIGTERM", func(t *testing.T) {
		var waits []<-chan answer
		for range 3 {
			waits = append(waits, invokeAsync(ctl, "slow", payload))
		}
		sys.Sink.WaitStarted(t, 3, 2*time.Minute)
		stopped := time.Now()
		if err := ctl.Stop(30 * time.Second); err != nil {
			t.Errorf("stop: %v", err)
		}
		var idsAccepted []string
		for _, w := range waits {
			a := <-w
			if late := a.at.Sub(stopped); late > 5*time.Second {
				t.Errorf("a waiting client was answered %v after the stop began", late)
			}
			var body struct {
				ActivationID string `json:"activationId"`
			}
			_ = json.Unmarshal(a.body, &body)
			if a.err != nil || a.code != http.StatusAccepted || body.ActivationID == "" {
				t.Errorf("blocking invoke during a controller stop: %d %s %v, want 202 with the activation id", a.code, a.body, a.err)
				continue
			}
			idsAccepted = append(idsAccepted, body.ActivationID)
		}
		ctl.Start()
		ctl.WaitReady(time.Minute)
		for _, id := range idsAccepted {
			act := waitActivation(t, ctl, reliability.GuestAuthKey, id, 2*time.Minute)
			if resp, _ := act["response"].(map[string]any); resp["success"] != true {
				t.Errorf("activation %s after the restart: %v", id, act["response"])
			}
		}
	})

	t.Run("SIGKILL", func(t *testing.T) {
		ctl.WaitInvokers(1, 2*time.Minute)
		before := len(sys.Sink.Started())
		var waits []<-chan answer
		for range 2 {
			waits = append(waits, invokeAsync(ctl, "slow", payload))
		}
		sys.Sink.WaitStarted(t, before+2, 2*time.Minute)
		ctl.Kill()
		for _, w := range waits {
			select {
			case a := <-w:
				if a.err == nil {
					t.Errorf("blocking invoke across a controller crash: %d %s, want a dropped connection", a.code, a.body)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a client still waits 10 s after the controller died")
			}
		}
		ctl.Start()
		ctl.WaitReady(time.Minute)
		// The activations ran on: all five are listed once recorded.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			_, body, _ := ctl.Do(http.MethodGet, "/api/v1/namespaces/_/activations?name=slow&limit=50", reliability.GuestAuthKey, nil)
			var acts []map[string]any
			_ = json.Unmarshal(body, &acts)
			if len(acts) >= 5 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d activations of slow listed after the crash, want 5", len(acts))
			}
			time.Sleep(500 * time.Millisecond)
		}
		ctl.WaitInvokers(1, 2*time.Minute)
		code, body, _ := ctl.Do(http.MethodPost, "/api/v1/namespaces/_/actions/slow?blocking=true", reliability.GuestAuthKey, map[string]any{})
		if code != http.StatusOK {
			t.Errorf("blocking invoke after the restart: %d %s", code, body)
		}
	})
}

// TestNamespaceThrottles429 checks the per-namespace limits of a real owcontroller process:
// concurrent invocations beyond LIMITS_ACTIONS_INVOKES_CONCURRENT and invocations beyond
// LIMITS_ACTIONS_INVOKES_PERMINUTE are answered 429 with OpenWhisk's texts.
func TestNamespaceThrottles429(t *testing.T) {
	t.Parallel()
	sys := reliability.NewSystem(t, bins, reliability.SystemConfig{})
	sys.StartInvoker(reliability.InvokerConfig{})
	ctl := sys.StartController(reliability.ControllerConfig{Env: []string{
		"LIMITS_ACTIONS_INVOKES_PERMINUTE=4", "LIMITS_ACTIONS_INVOKES_CONCURRENT=2",
	}})
	ctl.WaitInvokers(1, 2*time.Minute)
	ctl.PutAction(reliability.GuestAuthKey, "slow", sleepyAction())
	invoke := func() (int, string) {
		code, body, _ := ctl.Do(http.MethodPost, "/api/v1/namespaces/_/actions/slow", reliability.GuestAuthKey,
			map[string]any{"sink": sys.Sink.URL, "sleep": 5})
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return code, e.Error
	}
	for i, want := range []struct {
		code int
		text string
	}{
		{http.StatusAccepted, ""},
		{http.StatusAccepted, ""},
		{http.StatusTooManyRequests, "Too many concurrent requests in flight (count: 2, allowed: 2)."},
		{http.StatusTooManyRequests, "Too many concurrent requests in flight (count: 2, allowed: 2)."},
		{http.StatusTooManyRequests, "Too many requests in the last minute (count: 5, allowed: 4)."},
	} {
		code, text := invoke()
		if code != want.code || text != want.text {
			t.Errorf("invoke %d: %d %q, want %d %q", i+1, code, text, want.code, want.text)
		}
	}
}

// TestNoSecretsInLogs runs activations that carry marker secrets in every place a secret can
// be (the namespace key, a wrong key, default and init parameters, the payload, the
// environment, the result, an error, user log lines, a malformed request body, malformed
// activation messages) through an owcontroller and owinvoker pair logging at DEBUG, checks
// that the markers reached the records, and then that no log line of either process holds
// one.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	sys := reliability.NewSystem(t, bins, reliability.SystemConfig{})
	marker := strings.ReplaceAll(reliability.UniqueMarker(), "-", "")
	key := (marker + strings.Repeat("k", 64))[:64]
	uuid := "5e3b9a1c-7f2d-4c8e-9b1a-" + marker[len(marker)-12:]
	sys.PutSubject("leaky", uuid, key)
	auth := uuid + ":" + key
	inv := sys.StartInvoker(reliability.InvokerConfig{})
	ctl := sys.StartController(reliability.ControllerConfig{})
	ctl.WaitInvokers(1, 2*time.Minute)

	ctl.PutAction(auth, "leaky", map[string]any{
		"exec": map[string]any{"kind": "python:3", "code": reliability.LeakyAction},
		"parameters": []map[string]any{
			{"key": "token", "value": "PARAM-" + marker},
			{"key": "INITSECRET", "value": "INIT-" + marker, "init": true},
		},
		"annotations": []map[string]any{{"key": "provide-api-key", "value": true}},
	})
	payload := map[string]any{"password": "PAYLOAD-" + marker, "marker": marker}

	code, body, _ := ctl.Do(http.MethodPost, "/api/v1/namespaces/_/actions/leaky?blocking=true", auth, payload)
	if code != http.StatusOK || !strings.Contains(string(body), "RESULT-"+marker) || !strings.Contains(string(body), "PARAM-"+marker) ||
		!strings.Contains(string(body), key) || !strings.Contains(string(body), "INIT-"+marker) {
		t.Fatalf("blocking invoke: %d %s; want the markers in the result (else this test proves nothing)", code, body)
	}
	failing := map[string]any{"marker": marker, "fail": true}
	if code, body, _ = ctl.Do(http.MethodPost, "/api/v1/namespaces/_/actions/leaky?blocking=true&result=true", auth, failing); code != http.StatusBadGateway ||
		!strings.Contains(string(body), "ERROR-"+marker) {
		t.Errorf("failing invoke: %d %s", code, body)
	}
	code, body, _ = ctl.Do(http.MethodPost, "/api/v1/namespaces/_/actions/leaky", auth, payload)
	var accepted struct {
		ActivationID string `json:"activationId"`
	}
	if err := json.Unmarshal(body, &accepted); code != http.StatusAccepted || err != nil {
		t.Fatalf("non-blocking invoke: %d %s", code, body)
	}
	act := waitActivation(t, ctl, auth, accepted.ActivationID, 2*time.Minute)
	if logs, _ := json.Marshal(act["logs"]); !strings.Contains(string(logs), "LOG-"+marker) {
		t.Errorf("the user log lines of %s do not hold the marker: %s", accepted.ActivationID, logs)
	}
	// Requests that fail: a malformed body, a wrong key, a key for no one.
	if code, _, _ = ctl.Do(http.MethodPost, "/api/v1/namespaces/_/actions/leaky", auth, []byte(`{"password":"BODY-`+marker+`"`)); code != http.StatusBadRequest {
		t.Errorf("malformed body: %d, want 400", code)
	}
	if code, _, _ = ctl.Do(http.MethodGet, "/api/v1/namespaces/_/actions", uuid+":"+strings.Repeat("w", 64-len(marker))+marker, nil); code != http.StatusUnauthorized {
		t.Errorf("wrong key: %d, want 401", code)
	}
	// Activation messages the invoker cannot parse, with the marker in their members.
	sys.SendRaw(0, []byte(`{"activationId":"MSG-`+marker+`","user":{"authkey":{"api_key":"`+auth+`"}},"content":{"password":"MSGCONTENT-`+marker+`"}}`))
	sys.SendRaw(0, []byte(`{"transid":["x",1],"action":{"path":"guest","name":"leaky"},"revision":null,"user":{"subject":"s","namespace":{"name":"guest","uuid":"`+uuid+`"},"authkey":{"api_key":"`+auth+`"},"rights":[],"limits":{}},"activationId":"not-an-id-`+marker+`","rootControllerIndex":{"asString":"0"},"blocking":false,"content":{"password":"MSGCONTENT-`+marker+`"}}`))
	sys.SendRaw(0, []byte(`{"password":"TRUNCATED-`+marker))
	deadline := time.Now().Add(time.Minute)
	for inv.Metric("owinvoker_malformed_messages_total") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the invoker counted %v malformed messages, want 3", inv.Metric("owinvoker_malformed_messages_total"))
		}
		time.Sleep(200 * time.Millisecond)
	}

	if err := ctl.Stop(30 * time.Second); err != nil {
		t.Errorf("controller stop: %v", err)
	}
	if err := inv.Stop(time.Minute); err != nil {
		t.Errorf("invoker stop: %v", err)
	}
	// The processes did log the events these secrets travelled with.
	if n := strings.Count(ctl.Logs(), `"msg":"activation posted"`); n < 3 {
		t.Errorf("the controller logged %d postings, want 3", n)
	}
	if n := strings.Count(inv.Logs(), `"msg":"malformed activation message skipped"`); n != 3 {
		t.Errorf("the invoker logged %d skipped messages, want 3", n)
	}
	for _, p := range []*reliability.Process{ctl.Process, inv.Process} {
		logs := p.Logs()
		for _, secret := range reliability.SecretForms(marker, auth) {
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(strings.ToLower(line), strings.ToLower(secret)) {
					t.Errorf("%s logged a secret (%q): %s", p.Name, secret, line)
				}
			}
		}
	}
}
