package reliability

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/owinvoker/owinvoker/deploy/dev/testenv"
)

// LabelTest marks the containers and networks the tests create themselves.
const LabelTest = "owinvoker.test"

// Network creates a bridge network with a subnet of its own (10.231.x.0/24), so that a test
// can place containers at chosen addresses, and removes it when the test ends (register it
// before anything that puts containers on it).
func Network(tb testing.TB, d *client.Client) string {
	tb.Helper()
	name := testenv.UniqueName("relnet")
	var last error
	for range 10 {
		b := make([]byte, 1)
		_, _ = rand.Read(b)
		subnet := fmt.Sprintf("10.231.%d.0/24", b[0])
		_, err := d.NetworkCreate(context.Background(), name, network.CreateOptions{
			Driver: "bridge",
			IPAM:   &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet}}},
			Labels: map[string]string{LabelTest: "reliability"},
		})
		if err == nil {
			tb.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := d.NetworkRemove(ctx, name); err != nil {
					tb.Logf("remove network %s: %v", name, err)
				}
			})
			return name
		}
		last = err
		if !strings.Contains(err.Error(), "overlap") {
			break
		}
	}
	tb.Fatalf("create network: %v", last)
	return ""
}

// DecoyCode is the action a decoy container runs: it shows whatever reaches it.
const DecoyCode = "def main(args):\n    return {\"decoy\": True, \"got\": args}\n"

// Decoy starts a runtime container that is not the invoker's at address ip of network
// netName and initializes it with DecoyCode, as another tenant's warm container would be.
// It is removed when the test ends.
func Decoy(tb testing.TB, d *client.Client, netName, ip, image string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	created, err := d.ContainerCreate(ctx,
		&container.Config{Image: image, Labels: map[string]string{LabelTest: "decoy"}},
		&container.HostConfig{NetworkMode: container.NetworkMode(netName)},
		&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			netName: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip}},
		}}, nil, testenv.UniqueName("decoy"))
	if err != nil {
		tb.Fatalf("create decoy at %s: %v", ip, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = d.ContainerRemove(ctx, created.ID, container.RemoveOptions{Force: true})
	})
	if err := d.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		tb.Fatalf("start decoy: %v", err)
	}
	body, _ := json.Marshal(map[string]any{"value": map[string]any{"name": "decoy", "main": "main", "code": DecoyCode}})
	c := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := c.Post("http://"+ip+":8080/init", "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				tb.Fatalf("init decoy: HTTP %d", resp.StatusCode)
			}
			return
		}
		if ctx.Err() != nil {
			tb.Fatalf("init decoy at %s: %v", ip, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PythonImage is the image of kind python:3 in deploy/runtimes.json.
const PythonImage = "openwhisk/action-python-v3.11:nightly"
