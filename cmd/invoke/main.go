// Command invoke runs a function's bootstrap under the AWS Lambda Runtime Interface Emulator and
// posts events to it, the way Lambda would.
//
//	invoke -fn WebhookFunction -event events/webhook/verify.json
//	invoke -all events            (expectations from events/<folder>/expect.json)
//
// The function is built for this machine (not the arm64 deployment build) into
// build/host/<folder>/bootstrap. Its environment is, from weakest to strongest:
//
//  1. the function's variables in template.yaml (Globals merged),
//  2. .local/env.json (written by `make up`): Parameters, then the function's section,
//  3. this process's environment, for the names the first two define; `make invoke
//     TABLE_NAME=x` works because make exports command-line variables to recipes,
//
// plus what Lambda itself sets (AWS_LAMBDA_FUNCTION_NAME, timeout, memory, log format, TZ).
//
// With -fn the response is printed to stdout as indented JSON and the function's and emulator's
// logs go to stderr; the exit status is 1 when the function returned an error. With -all every
// event file under the directory must be listed in its folder's expect.json (or the one file
// given with -expect), a JSON object mapping its name to the expected outcome:
//
//	200                       statusCode of an HTTP response (or batchItemFailures count when the
//	                          event is an SQS batch)
//	"ok"                      the function returned without error
//	{"statusCode": 200}       explicit forms of the above
//	{"batchItemFailures": 0}
//
// An event's function is the one whose code folder is the event's first directory
// (events/webhook/*.json → WebhookFunction). One emulator runs per function.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/aloro/wa-senders/shared/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		if errors.As(err, new(usageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// options are the parsed flags.
type options struct {
	root      string // repository root
	template  string
	envFile   string
	functions string // directory holding one folder per function
	buildDir  string
	rie       string
	fn        string
	event     string
	all       string
	expect    string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.root, "root", "", "repository root (default: found from the working directory via go.mod)")
	fs.StringVar(&o.template, "template", "template.yaml", "SAM template (defaults are relative to the root)")
	fs.StringVar(&o.envFile, "env", ".local/env.json", "env file in sam --env-vars format (optional)")
	fs.StringVar(&o.functions, "functions", "functions", "directory with one folder per function")
	fs.StringVar(&o.buildDir, "build", "build/host", "where host builds go")
	fs.StringVar(&o.rie, "rie", ".tools/bin/aws-lambda-rie", "emulator binary (built from go.mod's tool directive when missing)")
	fs.StringVar(&o.fn, "fn", "", "logical id of the function to invoke (with -event)")
	fs.StringVar(&o.event, "event", "", "event file to post (with -fn)")
	fs.StringVar(&o.all, "all", "", "directory of events to invoke, each checked against -expect")
	fs.StringVar(&o.expect, "expect", "", "one expectations file for -all (default: every <all>/<folder>/expect.json)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	switch {
	case o.all != "" && (o.fn != "" || o.event != ""):
		return usageError{"use either -fn/-event or -all, not both"}
	case o.all == "" && (o.fn == "" || o.event == ""):
		return usageError{"need -fn LogicalId -event file, or -all dir"}
	}
	if o.root == "" {
		root, err := stack.RepoRoot(".")
		if err != nil {
			return err
		}
		o.root = root
	}
	// Paths given on the command line are relative to where the user stands; defaults are
	// relative to the repository root.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, p := range map[string]*string{
		"event": &o.event, "all": &o.all, "expect": &o.expect, "template": &o.template,
		"env": &o.envFile, "functions": &o.functions, "build": &o.buildDir, "rie": &o.rie,
	} {
		switch {
		case *p == "" || filepath.IsAbs(*p):
		case set[name]:
			abs, err := filepath.Abs(*p)
			if err != nil {
				return err
			}
			*p = abs
		default:
			*p = filepath.Join(o.root, *p)
		}
	}
	if o.all != "" {
		return runAll(ctx, o, stdout, stderr)
	}
	return runOne(ctx, o, stdout, stderr)
}
