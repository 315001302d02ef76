// Package cli implements the c981 command line: it parses flags over the
// YAML configuration and hands the work to package pipeline (the services)
// or to the stage packages directly (parse, analyze, migrate).
package cli
