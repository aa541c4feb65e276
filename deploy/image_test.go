// Package deploy_test builds the container image the way the README's
// "Deploying" section does and runs it.
package deploy_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// docker runs the docker CLI and returns its trimmed output.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestImageServesHealthz builds the image with deploy/build-image.sh (a
// static binary FROM scratch: no base image is pulled), runs it with a
// volume for its data, and checks that it answers /healthz on loopback,
// runs as the unprivileged user, and that its own health check passes.
// It needs a Docker daemon; without one (CI has none) it says so and
// skips.
func TestImageServesHealthz(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker CLI: the image is not built here")
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Skip("no Docker daemon answers: the image is not built here")
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	tag := "refunddesk-test:" + hex.EncodeToString(suffix)
	name := "refunddesk-test-" + hex.EncodeToString(suffix)

	build := exec.Command("sh", "build-image.sh")
	build.Env = append(build.Environ(), "IMAGE="+tag)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })

	if user := docker(t, "image", "inspect", "-f", "{{.Config.User}}", tag); user != "10001:10001" {
		t.Errorf("image runs as %q, want the unprivileged 10001:10001", user)
	}
	docker(t, "run", "-d", "--name", name, "-p", "127.0.0.1::8080", "-v", name+":/data", tag)
	t.Cleanup(func() {
		exec.Command("docker", "rm", "-f", name).Run()
		exec.Command("docker", "volume", "rm", "-f", name).Run()
	})
	addr := docker(t, "port", name, "8080/tcp") // 127.0.0.1:PORT
	if i := strings.IndexByte(addr, '\n'); i >= 0 {
		addr = addr[:i]
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "ok" {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("GET /healthz never answered ok: %v\n%s", err, docker(t, "logs", name))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out := docker(t, "exec", name, "/refunddesk", "healthcheck"); !strings.Contains(out, "ok") {
		t.Errorf("refunddesk healthcheck in the container: %q", out)
	}
}
