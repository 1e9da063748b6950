// Command infra is the CDK app that synthesizes the wa-senders stack: the same resources as the
// repository's template.yaml (SAM), kept identical by the drift test in infra/drift.
//
// Function code is built by the repository Makefile (`make build-<LogicalId>`, the targets that
// `sam build` runs too), so both deployments ship the same binaries. The context value
// buildFunctions=false skips that build for template-only synths (`make synth`, the drift test).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// StackID is the construct id (and default CloudFormation name) of the one stack of the app.
const StackID = "WaSenders"

func main() {
	defer jsii.Close()

	repo, err := repoDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}

	app := awscdk.NewApp(nil)
	if isFalse(app.Node().TryGetContext(jsii.String("buildFunctions"))) {
		// No stack needs bundling: assets keep a stable placeholder hash and nothing is built.
		app.Node().SetContext(jsii.String("aws:cdk:bundling-stacks"), &[]*string{})
	}
	NewSendersStack(app, StackID, &SendersStackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String("WhatsApp Business senders backend (CDK twin of template.yaml)."),
			// No AWS::CDK::Metadata resource: the template stays comparable with template.yaml.
			AnalyticsReporting: jsii.Bool(false),
		},
		RepoDir: repo,
	})
	app.Synth(nil)
}

// repoDir finds the repository root: the parent of this app's folder, which the CDK CLI runs
// from (cdk.json sits beside go.mod), or REPO_DIR when set.
func repoDir() (string, error) {
	if d := os.Getenv("REPO_DIR"); d != "" {
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	root := filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(root, "template.yaml")); err != nil {
		return "", fmt.Errorf("repository root %s has no template.yaml (run from infra/ or set REPO_DIR): %w", root, err)
	}
	return root, nil
}

// isFalse reports whether a context value is false (CLI -c values arrive as strings).
func isFalse(v any) bool {
	switch v := v.(type) {
	case bool:
		return !v
	case *bool:
		return v != nil && !*v
	case string:
		return v == "false"
	case *string:
		return v != nil && *v == "false"
	}
	return false
}
