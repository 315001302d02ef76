package transform

import (
	"os"
	"strings"
	"testing"
)

// TestShared checks the rewrite of the real generated code and that what
// it does not know is refused rather than passed through.
func TestShared(t *testing.T) {
	src, err := os.ReadFile("../../../event_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	code, err := Shared(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"func (z *Event) unmarshalShared(bts []byte, d *sharedText) (o []byte, err error) {",
		"z.ID, bts, err = d.readString(bts)",
		"bts, err = z.Src.unmarshalShared(bts, d)",
		"if int64(zb0001) > int64(len(bts)) {",
	} {
		if !strings.Contains(string(code), want) {
			t.Errorf("generated code lacks %q", want)
		}
	}
	for _, bad := range []string{"msgp.ReadStringBytes", ".UnmarshalMsg("} {
		if strings.Contains(string(code), bad) {
			t.Errorf("generated code still has %q", bad)
		}
	}

	tests := []struct {
		name, src, want string
	}{
		{"missing method", "package event\n", "no UnmarshalMsg method of Event"},
		{"unknown string reader", "package event\n" + method("Event", "z.ID, bts, err = msgp.ReadStringAsBytes(bts, nil)\n") + others("Event"),
			"ReadString left after the rewrite"},
		{"header without error check", "package event\n" + method("Event", "zb0001, bts, err = msgp.ReadMapHeaderBytes(bts)\n_ = zb0001\n") + others("Event"),
			"header read without the expected error check"},
		{"not Go", "package event\nfunc (", "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Shared([]byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// method returns a generated-style UnmarshalMsg of typ with body.
func method(typ, body string) string {
	return "func (z *" + typ + ") UnmarshalMsg(bts []byte) (o []byte, err error) {\n" + body + "o = bts\nreturn\n}\n"
}

// others returns trivial UnmarshalMsg methods of the Types but skip.
func others(skip string) string {
	var b strings.Builder
	for _, t := range Types {
		if t != skip {
			b.WriteString(method(t, ""))
		}
	}
	return b.String()
}
