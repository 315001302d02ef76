// Command sharedgen writes event_shared_gen.go: the shared-string decoders
// of Event and its parts, derived from the msgp-generated UnmarshalMsg
// methods in event_gen.go. Every string is read with
// (*sharedText).readString, which returns a substring of the
// whole message instead of allocating a string per field; the rest of the
// decoding (field order, unknown fields skipped, errors) is the generated
// code's, verbatim. Run by `go generate ./event` after msgp.
//
//	go run ./internal/sharedgen [-in event_gen.go] [-out event_shared_gen.go]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/c981/c981/services/shared/event/internal/sharedgen/transform"
)

func main() {
	in := flag.String("in", "event_gen.go", "the msgp-generated code of event.go")
	out := flag.String("out", "event_shared_gen.go", "the file to write")
	flag.Parse()
	src, err := os.ReadFile(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sharedgen:", err)
		os.Exit(1)
	}
	code, err := transform.Shared(src)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sharedgen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, code, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "sharedgen:", err)
		os.Exit(1)
	}
}
