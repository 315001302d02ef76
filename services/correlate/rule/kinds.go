package rule

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/c981/c981/services/shared/event"
)

// MaxSteps bounds the steps of one sequence rule.
const MaxSteps = 8

// MaxGroupBy bounds the key expressions of one rule or step.
const MaxGroupBy = 4

// Step is one step of a sequence rule.
type Step struct {
	// Name labels the step in alerts and explanations (default "step<N>").
	Name string
	// Condition is the source of the step's boolean condition.
	Condition string
	// By are the sources of the step's key expressions; the values must be
	// equal across steps for them to join (step 2's dst_ip against step 1's
	// src_ip). Default: the rule's group_by.
	By []string
	// Count is how many events must satisfy the step before the sequence
	// moves to the next one (default 1).
	Count int

	cond  *vm.Program
	by    []*vm.Program
	ncond func(*event.Event) bool           // native form of cond (nil: interpreted)
	nby   func(uint64, *event.Event) uint64 // native form of by (nil: interpreted)
	// condFields and byFields say whether the condition and the by
	// expressions read the event's Fields (see fielduse.go).
	condFields bool
	byFields   bool
}

type stepDoc struct {
	Name      string   `yaml:"name"`
	Condition string   `yaml:"condition"`
	By        []string `yaml:"by"`
	Count     int      `yaml:"count"`
}

// compileKind validates the kind-specific attributes of r and compiles its
// condition, key, distinct and step expressions.
func compileKind(r *Rule, d ruleDoc, fail func(string, error) error) error {
	notFor := func(attr string, set bool) error {
		if set {
			return fail(attr, fmt.Errorf("%s does not apply to kind %s", attr, r.Kind))
		}
		return nil
	}
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if d.Suppress < 0 {
		check(fail("suppress", errors.New("suppress must not be negative")))
	}
	if d.MaxKeys < 0 {
		check(fail("max_keys", errors.New("max_keys must not be negative")))
	}
	if len(d.GroupBy) > MaxGroupBy {
		check(fail("group_by", fmt.Errorf("at most %d key expressions", MaxGroupBy)))
	}
	switch r.Kind {
	case KindMatch:
		check(notFor("group_by", len(d.GroupBy) > 0))
		check(notFor("window", d.Window != 0))
		check(notFor("threshold", d.Threshold != 0))
		check(notFor("distinct", d.Distinct != ""))
		check(notFor("within", d.Within != 0))
		check(notFor("steps", len(d.Steps) > 0))
		check(notFor("interval", d.Interval != 0))
		check(notFor("max_keys", d.MaxKeys != 0 && d.Suppress == 0))
	case KindThreshold, KindDistinct:
		if d.Window <= 0 {
			check(fail("window", errors.New("window must be a positive duration (5m)")))
		}
		min := 1
		if r.Kind == KindDistinct {
			min = 2
		}
		if d.Threshold < min {
			check(fail("threshold", fmt.Errorf("threshold must be at least %d", min)))
		}
		if d.Threshold > 10000 {
			check(fail("threshold", errors.New("threshold must be at most 10000")))
		}
		if r.Kind == KindDistinct && strings.TrimSpace(d.Distinct) == "" {
			check(fail("distinct", errors.New("distinct (the expression whose distinct values are counted) is required")))
		}
		if r.Kind == KindThreshold {
			check(notFor("distinct", d.Distinct != ""))
		}
		check(notFor("within", d.Within != 0))
		check(notFor("steps", len(d.Steps) > 0))
		check(notFor("interval", d.Interval != 0))
		if r.Suppress == 0 {
			r.Suppress = d.Window
		}
	case KindSequence:
		check(notFor("condition", strings.TrimSpace(d.Condition) != ""))
		check(notFor("window", d.Window != 0))
		check(notFor("threshold", d.Threshold != 0))
		check(notFor("distinct", d.Distinct != ""))
		check(notFor("interval", d.Interval != 0))
		if d.Within <= 0 {
			check(fail("within", errors.New("within must be a positive duration (15m)")))
		}
		if len(d.Steps) < 2 || len(d.Steps) > MaxSteps {
			check(fail("steps", fmt.Errorf("a sequence needs 2 to %d steps, not %d", MaxSteps, len(d.Steps))))
		}
		if r.Suppress == 0 {
			r.Suppress = d.Within
		}
	case KindAbsence:
		check(notFor("window", d.Window != 0))
		check(notFor("threshold", d.Threshold != 0))
		check(notFor("distinct", d.Distinct != ""))
		check(notFor("within", d.Within != 0))
		check(notFor("steps", len(d.Steps) > 0))
		if d.Interval <= 0 {
			check(fail("interval", errors.New("interval must be a positive duration (15m)")))
		}
		if len(d.GroupBy) == 0 {
			check(fail("group_by", errors.New("group_by is required: absence is tracked per key")))
		}
		if r.Suppress == 0 {
			r.Suppress = d.Interval
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	var err error
	if r.Kind != KindSequence {
		if r.cond, err = compileExpr(d.Condition, expr.AsBool()); err != nil {
			return fail("condition", err)
		}
		r.ncond = nativeBool(d.Condition)
	}
	for _, src := range d.GroupBy {
		p, err := compileKeyExpr(src)
		if err != nil {
			return fail("group_by", err)
		}
		r.groupBy = append(r.groupBy, p)
	}
	r.nkey = nativeKeys(d.GroupBy)
	if r.Kind == KindDistinct {
		if r.distinct, err = compileKeyExpr(d.Distinct); err != nil {
			return fail("distinct", err)
		}
		r.ndistinct = nativeKeys([]string{d.Distinct})
	}
	for i, sd := range d.Steps {
		attr := fmt.Sprintf("steps[%d]", i)
		st := &Step{Name: sd.Name, Condition: sd.Condition, By: sd.By, Count: sd.Count}
		if st.Name == "" {
			st.Name = "step" + strconv.Itoa(i+1)
		}
		if st.Count == 0 {
			st.Count = 1
		}
		if st.Count < 0 || st.Count > 1000 {
			return fail(attr+".count", fmt.Errorf("count %d must be 1..1000", sd.Count))
		}
		if strings.TrimSpace(sd.Condition) == "" {
			return fail(attr, errors.New("condition is required"))
		}
		if st.cond, err = compileExpr(sd.Condition, expr.AsBool()); err != nil {
			return fail(attr+".condition", err)
		}
		st.ncond = nativeBool(sd.Condition)
		by := sd.By
		if len(by) == 0 {
			by = d.GroupBy
			st.By = d.GroupBy
		}
		if len(by) == 0 {
			return fail(attr, errors.New("a sequence step needs a key: set the rule's group_by or the step's by"))
		}
		if len(by) > MaxGroupBy {
			return fail(attr+".by", fmt.Errorf("at most %d key expressions", MaxGroupBy))
		}
		if len(r.Steps) > 0 && len(by) != len(r.Steps[0].By) {
			return fail(attr+".by", fmt.Errorf("%d key expressions, but step 1 has %d: steps join on equal keys", len(by), len(r.Steps[0].By)))
		}
		for _, src := range by {
			p, err := compileKeyExpr(src)
			if err != nil {
				return fail(attr+".by", err)
			}
			st.by = append(st.by, p)
		}
		st.nby = nativeKeys(by)
		r.Steps = append(r.Steps, st)
	}
	return nil
}

// compileKeyExpr compiles a key expression: any scalar (string, number,
// bool) is allowed.
func compileKeyExpr(src string) (*vm.Program, error) {
	p, err := compileExpr(src)
	if err != nil {
		return nil, err
	}
	switch k := p.Node().Type(); {
	case k == nil:
	case k.Kind() == reflect.Interface, k.Kind() == reflect.String, k.Kind() == reflect.Bool,
		k.Kind() >= reflect.Int && k.Kind() <= reflect.Float64:
	default:
		return nil, fmt.Errorf("key expression %q is of type %s; use a string, number or bool", src, k)
	}
	return p, nil
}

// FNV-1a, 64 bit: key hashes are stable across processes and versions, so
// that checkpointed state stays addressable after a restart.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// hashUint folds the 8 bytes of v, least significant first (unrolled: it
// runs for every key value of every hit).
func hashUint(h uint64, v uint64) uint64 {
	h = (h ^ v&0xff) * fnvPrime
	h = (h ^ v>>8&0xff) * fnvPrime
	h = (h ^ v>>16&0xff) * fnvPrime
	h = (h ^ v>>24&0xff) * fnvPrime
	h = (h ^ v>>32&0xff) * fnvPrime
	h = (h ^ v>>40&0xff) * fnvPrime
	h = (h ^ v>>48&0xff) * fnvPrime
	return (h ^ v>>56) * fnvPrime
}

// hashValue folds one key value into h, with a type tag so that "1" and 1
// differ and a separator so that ("ab","c") and ("a","bc") differ.
func hashValue(h uint64, v any) uint64 {
	switch x := v.(type) {
	case nil:
		h = hashUint(h, 0)
	case string:
		h = hashUint(h, 1)
		h = hashString(h, x)
		h = hashUint(h, uint64(len(x)))
	case int:
		h = hashUint(hashUint(h, 2), uint64(x))
	case int64:
		h = hashUint(hashUint(h, 2), uint64(x))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			h = hashUint(hashUint(h, 2), uint64(int64(x)))
		} else {
			h = hashUint(hashUint(h, 3), math.Float64bits(x))
		}
	case bool:
		b := uint64(0)
		if x {
			b = 1
		}
		h = hashUint(hashUint(h, 4), b)
	default:
		h = hashUint(h, 5)
		h = hashString(h, valueText(x))
	}
	return h
}

// valueText renders a key value for key texts and alerts.
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}
