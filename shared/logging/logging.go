// Package logging sets up JSON logs with log/slog.
//
// Nothing here knows about message bodies or tokens: callers never pass them. The redaction
// below is a second line of defence for attribute names that must never carry a value.
package logging

import (
	"io"
	"log/slog"
	"os"
	"strings"
)

// sensitive attribute keys whose values are dropped whatever a caller passes.
var sensitive = map[string]bool{
	"token": true, "access_token": true, "authorization": true, "secret": true, "app_secret": true,
	"pin": true, "code": true, "body": true, "text": true, "caption": true, "password": true,
}

// New returns a JSON logger at level ("DEBUG", "INFO", "WARN", "ERROR"; INFO otherwise).
func New(w io.Writer, level string) *slog.Logger {
	if w == nil {
		w = os.Stdout
	}
	var lvl slog.Level
	switch strings.ToUpper(level) {
	case "DEBUG":
		lvl = slog.LevelDebug
	case "WARN":
		lvl = slog.LevelWarn
	case "ERROR":
		lvl = slog.LevelError
	default:
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: lvl,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if sensitive[strings.ToLower(a.Key)] {
				return slog.String(a.Key, "[redacted]")
			}
			return a
		},
	}))
}

// Fatal logs one clear line and exits: for cold-start failures only (a missing setting).
func Fatal(log *slog.Logger, msg string, err error) {
	log.Error(msg, "error", err.Error())
	os.Exit(1)
}
