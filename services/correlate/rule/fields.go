package rule

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// fieldGetter copies one event field into an alert's Fields.
type fieldGetter struct {
	name string
	get  func(ev *event.Event) string
}

// fieldIndex maps every scalar event field, by its expr path (src_ip,
// dst.role, flow.violation, maint.allowed_ops, ...), to its struct index.
var fieldIndex = buildFieldIndex()

func buildFieldIndex() map[string][]int {
	idx := map[string][]int{}
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("expr")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			path := prefix + name
			fi := append(append([]int(nil), index...), i)
			switch {
			case f.Type == reflect.TypeFor[time.Time]():
				idx[path] = fi
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, path+".", fi)
			case f.Type.Kind() == reflect.Map:
				// fields.<key> is handled separately.
			default:
				idx[path] = fi
			}
		}
	}
	walk(reflect.TypeFor[event.Event](), "", nil)
	return idx
}

// newFieldGetter resolves a field name of a rule's `fields` list: an event
// field by its expr path, or fields.<key> for a parser-extracted field.
func newFieldGetter(name string) (fieldGetter, error) {
	if key, ok := strings.CutPrefix(name, "fields."); ok {
		if key == "" {
			return fieldGetter{}, fmt.Errorf("field %q: empty key after fields.", name)
		}
		return fieldGetter{name: name, get: func(ev *event.Event) string { return ev.Fields[key] }}, nil
	}
	index, ok := fieldIndex[name]
	if !ok {
		return fieldGetter{}, fmt.Errorf("field %q: no such event field (use an expr name like src_ip, dst.role or fields.<key>)", name)
	}
	if nf, ok := nativeFields[name]; ok {
		// Direct reads, formatted as formatValue does, without reflection.
		n := nf.expr()
		switch n.kind {
		case nStr:
			return fieldGetter{name: name, get: n.s}, nil
		case nBool:
			return fieldGetter{name: name, get: func(ev *event.Event) string { return strconv.FormatBool(n.b(ev)) }}, nil
		case nInt:
			return fieldGetter{name: name, get: func(ev *event.Event) string { return strconv.FormatInt(n.i(ev), 10) }}, nil
		case nFloat:
			return fieldGetter{name: name, get: func(ev *event.Event) string { return strconv.FormatFloat(n.f(ev), 'f', -1, 64) }}, nil
		case nStrs:
			return fieldGetter{name: name, get: func(ev *event.Event) string { return strings.Join(n.ss(ev), ",") }}, nil
		}
	}
	return fieldGetter{name: name, get: func(ev *event.Event) string {
		return formatValue(reflect.ValueOf(ev).Elem().FieldByIndex(index))
	}}, nil
}

// formatValue renders a scalar event field as text; zero strings stay empty
// so that absent values are not copied.
func formatValue(v reflect.Value) string {
	if t, ok := v.Interface().(time.Time); ok {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64)
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = formatValue(v.Index(i))
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}
