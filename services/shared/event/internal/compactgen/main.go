// Command compactgen writes event_compact_gen.go: the compact (positional)
// encoder and decoders of Event and the structs it embeds, generated from
// their definitions in event.go and the field order in compact.go
// (compactOrder). Run by `go generate ./event` (the go:generate line is in
// compact.go); it fails when a struct field has no place in the order.
//
//	go run ./internal/compactgen [-types event.go] [-order compact.go] [-out event_compact_gen.go]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/c981/c981/services/shared/event/internal/compactgen/gen"
)

func main() {
	types := flag.String("types", "event.go", "the file defining Event and its parts")
	order := flag.String("order", "compact.go", "the file defining compactOrder")
	out := flag.String("out", "event_compact_gen.go", "the file to write")
	flag.Parse()
	if err := run(*types, *order, *out); err != nil {
		fmt.Fprintln(os.Stderr, "compactgen:", err)
		os.Exit(1)
	}
}

// run generates out from the types and order files.
func run(types, order, out string) error {
	typeSrc, err := os.ReadFile(types)
	if err != nil {
		return fmt.Errorf("read types: %w", err)
	}
	orderSrc, err := os.ReadFile(order)
	if err != nil {
		return fmt.Errorf("read order: %w", err)
	}
	code, err := gen.Compact(typeSrc, orderSrc)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if err := os.WriteFile(out, code, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}
