package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func (a *app) initCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "init DIR",
		Short: "Scaffold a new catalog repository: folders, a blueprint, an entity, berth.yaml and the GitHub workflow",
		Long: `Init writes a small, valid catalog into DIR (created if missing; it must be empty):
the catalog folders, one blueprint (service), one entity, a scorecard, berth.yaml with
a sample quality gate, and .github/workflows/berth.yml, the workflow that runs the
berth GitHub Action on pull requests and pushes to main. Run 'berth validate DIR'
next, then commit and push.`,
		Example: `  berth init my-catalog && berth validate my-catalog`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			dir := argv[0]
			entries, err := os.ReadDir(dir)
			switch {
			case err == nil && len(entries) > 0:
				return usageError{fmt.Errorf("%s is not empty; init writes only into a new or empty directory", dir)}
			case err != nil && !errors.Is(err, fs.ErrNotExist):
				return err
			}
			for _, f := range scaffold {
				p := filepath.Join(dir, filepath.FromSlash(f.path))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(a.stdout, "initialised a catalog in %s (%d files)\nnext: berth validate %s\n", dir, len(scaffold), dir)
			return nil
		},
	}
}

// scaffold is what `berth init` writes. workflowYAML is a copy of
// catalog-example/.github/workflows/berth.yml (a test keeps them equal).
var scaffold = []struct{ path, content string }{
	{"berth.yaml", `# berth.yaml: settings for this catalog. Every key is optional.

# Pull-request quality gates, checked by ` + "`berth check`" + ` and the GitHub Action.
gates:
  # A production service may not merge below Bronze on production readiness.
  - scorecard: production_readiness
    minLevel: Bronze
    filter:
      combinator: and
      rules:
        - property: lifecycle
          operator: "="
          value: Production
    mode: block
  # Warn when a change lowers a service's level.
  - noRegression: [production_readiness]
    mode: warn
`},
	{"blueprints/service.yaml", `identifier: service
title: Service
icon: Service
schema:
  properties:
    description:
      title: Description
      type: string
    lifecycle:
      title: Lifecycle
      type: string
      enum: [Production, Staging, Development, Deprecated]
    repository:
      title: Repository
      type: string
      format: url
    has_readme:
      title: Has README
      type: boolean
    on_call:
      title: On-call rotation
      type: string
  required: [lifecycle]
`},
	{"entities/service/hello-world.yaml", `identifier: hello-world
title: Hello World
properties:
  description: The first service in this catalog; copy this file to add more.
  lifecycle: Production
  repository: https://github.com/acme/hello-world
  has_readme: true
`},
	{"scorecards/production_readiness.yaml", `identifier: production_readiness
title: Production Readiness
blueprint: service
rules:
  - identifier: has_readme
    title: Has README
    level: Bronze
    query:
      combinator: and
      rules:
        - property: has_readme
          operator: "="
          value: true
  - identifier: has_on_call
    title: Has an on-call rotation
    level: Silver
    query:
      combinator: and
      rules:
        - property: on_call
          operator: isNotEmpty
`},
	{"actions/.gitkeep", ""},
	{"pages/.gitkeep", ""},
	{"roles/.gitkeep", ""},
	{"policies/.gitkeep", ""},
	{".github/workflows/berth.yml", workflowYAML},
}

const workflowYAML = `# berth: validate catalog changes and report them on pull requests.
# Copy this file to .github/workflows/berth.yml in your catalog repository.
name: berth

on:
  pull_request:
  push:
    branches: [main]

# Least privilege: nothing by default, then exactly what berth needs.
permissions: {}

concurrency:
  group: berth-${{ github.event.pull_request.number || github.ref }}
  cancel-in-progress: true

jobs:
  catalog:
    # Not called "berth": that is the name of the check run the action posts.
    name: catalog
    runs-on: ubuntu-latest
    timeout-minutes: 10
    permissions:
      contents: read        # check out the catalog
      checks: write         # the "berth" check run with line annotations
      pull-requests: write  # the sticky report comment (comment: true)
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0           # berth compares the base and head commits
          persist-credentials: false
      - uses: berth-dev/berth/action@main
        with:
          dir: .                   # where berth.yaml lives in this repository
          comment: true
          fail-on: gate            # error | gate | never
`
