// Package devenv holds what the developer tools that start the backend's processes (cmd/load,
// cmd/bench) share: a clean child environment and line-prefixed output.
package devenv

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// dropped are the prefixes of variables a child must not inherit from a developer's shell: the
// tools point every child at their own private stack, never at the dev stack or AWS.
var dropped = []string{"AWS_ENDPOINT_URL", "TABLE_NAME", "OUTBOUND_QUEUE_URL", "INBOUND_QUEUE_URL",
	"GRAPH_API_", "WHATSAPP_", "DDB_PORT", "SQS_PORT", "GRAPH_FAKE_ADDR", "STACK_NAME",
	"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "WA_INTEGRATION"}

// CleanEnv returns this process's environment without the backend's and the SDK's settings,
// plus extra ("NAME=value").
func CleanEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		keep := true
		for _, p := range dropped {
			if strings.HasPrefix(kv, p) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// Prefixed returns a writer that writes each line to w with prefix before it.
func Prefixed(w io.Writer, prefix string) io.Writer { return &prefixWriter{w: w, prefix: prefix} }

type prefixWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}
