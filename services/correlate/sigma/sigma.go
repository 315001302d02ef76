package sigma

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
)

// Field is how a Sigma field is read from a C-981 event.
type Field struct {
	// Expr is the expression reading the field (src_ip, fields["Image"]).
	Expr string
	// Alert is the name under which the field is copied into alerts
	// (src_ip, fields.Image).
	Alert string
	// Int marks an integer event field (ports): values must be integers.
	Int bool
	// Exact fields are compared as written, without lowering case (event
	// codes, addresses), which keeps them usable by the candidate index.
	Exact bool
}

func eventField(name string, exact bool) Field {
	return Field{Expr: name, Alert: name, Exact: exact}
}

// DefaultFields maps Sigma field names (lower case) of Windows event logs,
// Sysmon, ECS and common firewall taxonomies to the C-981 event fields.
// Any other field reads fields["<Name>"], the parser-extracted key/value
// fields of the event.
var DefaultFields = map[string]Field{
	"eventid":            eventField("event_code", true),
	"eventcode":          eventField("event_code", true),
	"event.code":         eventField("event_code", true),
	"computer":           eventField("host", false),
	"computername":       eventField("host", false),
	"hostname":           eventField("host", false),
	"host.name":          eventField("host", false),
	"dvchost":            eventField("host", false),
	"user":               eventField("user", false),
	"username":           eventField("user", false),
	"targetusername":     eventField("user", false),
	"user.name":          eventField("user", false),
	"accountname":        eventField("user", false),
	"sourceip":           eventField("src_ip", true),
	"sourceaddress":      eventField("src_ip", true),
	"source.ip":          eventField("src_ip", true),
	"src_ip":             eventField("src_ip", true),
	"ipaddress":          eventField("src_ip", true),
	"clientip":           eventField("src_ip", true),
	"destinationip":      eventField("dst_ip", true),
	"destinationaddress": eventField("dst_ip", true),
	"destination.ip":     eventField("dst_ip", true),
	"dst_ip":             eventField("dst_ip", true),
	"sourceport":         {Expr: "src_port", Alert: "src_port", Int: true, Exact: true},
	"source.port":        {Expr: "src_port", Alert: "src_port", Int: true, Exact: true},
	"src_port":           {Expr: "src_port", Alert: "src_port", Int: true, Exact: true},
	"ipport":             {Expr: "src_port", Alert: "src_port", Int: true, Exact: true},
	"destinationport":    {Expr: "dst_port", Alert: "dst_port", Int: true, Exact: true},
	"destination.port":   {Expr: "dst_port", Alert: "dst_port", Int: true, Exact: true},
	"dst_port":           {Expr: "dst_port", Alert: "dst_port", Int: true, Exact: true},
	"protocol":           eventField("proto", false),
	"network.transport":  eventField("proto", false),
	"network.protocol":   eventField("app_proto", false),
	"action":             eventField("action", false),
	"event.action":       eventField("action", false),
	"event.outcome":      eventField("outcome", false),
	"signature":          eventField("signature", false),
	"signatureid":        eventField("signature_id", true),
	"message":            eventField("message", false),
}

// Options tune a conversion.
type Options struct {
	// Prefix is put before the Sigma id to form the rule id (default
	// "SIGMA-").
	Prefix string
	// Fields maps lower-case Sigma field names (nil: DefaultFields).
	Fields map[string]Field
}

// Rule is a converted rule, in the layout of a rules/*.yaml entry.
type Rule struct {
	ID          string   `yaml:"id"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description,omitempty"`
	Severity    string   `yaml:"severity"`
	Attack      []string `yaml:"attack,omitempty"`
	Tags        []string `yaml:"tags,omitempty"`
	Kind        string   `yaml:"kind"`
	Condition   string   `yaml:"condition"`
	Fields      []string `yaml:"fields,omitempty"`
}

// doc is the part of a Sigma rule the converter reads (other keys are
// ignored).
type doc struct {
	Title          string        `yaml:"title"`
	ID             string        `yaml:"id"`
	Status         string        `yaml:"status"`
	Description    string        `yaml:"description"`
	References     []string      `yaml:"references"`
	Author         string        `yaml:"author"`
	Tags           []string      `yaml:"tags"`
	Logsource      yaml.MapSlice `yaml:"logsource"`
	Detection      yaml.MapSlice `yaml:"detection"`
	FalsePositives any           `yaml:"falsepositives"`
	Level          string        `yaml:"level"`
	Correlation    any           `yaml:"correlation"`
}

var levels = map[string]string{
	"informational": "info", "info": "info", "low": "low", "medium": "medium", "high": "high", "critical": "critical",
}

var (
	attackTag = regexp.MustCompile(`^attack\.(t[0-9]{4}(\.[0-9]{3})?)$`)
	idChars   = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
)

// Convert converts one Sigma rule file; name is used in errors and to
// derive the id of a rule without one.
func Convert(name string, data []byte, opts Options) (*Rule, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
	}
	var d doc
	if err := yaml.UnmarshalWithOptions(data, &d, yaml.UseOrderedMap()); err != nil {
		return nil, fail("not a Sigma rule: %v", err)
	}
	if d.Correlation != nil {
		return nil, fail("Sigma correlation rules are not supported (write a threshold, distinct or sequence rule)")
	}
	if strings.TrimSpace(d.Title) == "" {
		return nil, fail("no title")
	}
	if len(d.Detection) == 0 {
		return nil, fail("no detection")
	}
	if opts.Prefix == "" {
		opts.Prefix = "SIGMA-"
	}
	if opts.Fields == nil {
		opts.Fields = DefaultFields
	}
	c := &converter{opts: opts, searches: map[string]any{}}
	var conds []string
	for _, it := range d.Detection {
		key, ok := it.Key.(string)
		if !ok {
			return nil, fail("detection key %v is not a name", it.Key)
		}
		switch key {
		case "condition":
			switch v := it.Value.(type) {
			case string:
				conds = append(conds, v)
			case []any:
				for _, x := range v {
					s, ok := x.(string)
					if !ok {
						return nil, fail("condition list holds %T", x)
					}
					conds = append(conds, s)
				}
			default:
				return nil, fail("condition is %T, want a string", it.Value)
			}
		case "timeframe":
			return nil, fail("timeframe (aggregation) is not supported")
		default:
			c.names = append(c.names, key)
			c.searches[key] = it.Value
		}
	}
	if len(conds) == 0 {
		return nil, fail("detection has no condition")
	}
	var parts []string
	for _, src := range conds {
		e, err := c.condition(src)
		if err != nil {
			return nil, fail("condition %q: %v", src, err)
		}
		parts = append(parts, e)
	}
	cond := parts[0]
	if len(parts) > 1 {
		cond = "(" + strings.Join(parts, ") or (") + ")"
	}
	severity, ok := levels[strings.ToLower(d.Level)]
	if !ok {
		severity = "medium"
	}
	r := &Rule{
		Title:     strings.TrimSpace(d.Title),
		Severity:  severity,
		Kind:      "match",
		Condition: cond,
		Fields:    c.alertFields,
	}
	id := d.ID
	if id == "" {
		id = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	r.ID = opts.Prefix + strings.Trim(idChars.ReplaceAllString(id, "-"), "-")
	for _, t := range d.Tags {
		if m := attackTag.FindStringSubmatch(strings.ToLower(t)); m != nil {
			r.Attack = append(r.Attack, strings.ToUpper(m[1]))
			continue
		}
		r.Tags = append(r.Tags, t)
	}
	r.Tags = append(r.Tags, "sigma")
	r.Description = describe(name, &d)
	return r, nil
}

// describe keeps the provenance of the original rule (and the attribution
// its licence asks for).
func describe(name string, d *doc) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(d.Description))
	fmt.Fprintf(&b, "\n\nImported from Sigma rule %s", filepath.Base(name))
	if d.ID != "" {
		fmt.Fprintf(&b, " (id %s", d.ID)
		if d.Status != "" {
			fmt.Fprintf(&b, ", status %s", d.Status)
		}
		b.WriteString(")")
	}
	if d.Author != "" {
		fmt.Fprintf(&b, " by %s", strings.TrimSpace(d.Author))
	}
	b.WriteString(".")
	if len(d.Logsource) > 0 {
		var ls []string
		for _, it := range d.Logsource {
			ls = append(ls, fmt.Sprintf("%v=%v", it.Key, it.Value))
		}
		fmt.Fprintf(&b, " Log source: %s.", strings.Join(ls, ", "))
	}
	switch fp := d.FalsePositives.(type) {
	case string:
		fmt.Fprintf(&b, " False positives: %s.", strings.TrimSuffix(fp, "."))
	case []any:
		var s []string
		for _, x := range fp {
			s = append(s, strings.TrimSuffix(fmt.Sprint(x), "."))
		}
		if len(s) > 0 {
			fmt.Fprintf(&b, " False positives: %s.", strings.Join(s, "; "))
		}
	}
	if len(d.References) > 0 {
		fmt.Fprintf(&b, " References: %s", strings.Join(d.References, " "))
	}
	return strings.TrimSpace(b.String())
}

type converter struct {
	opts        Options
	names       []string // search identifiers in document order
	searches    map[string]any
	alertFields []string
}

// condition converts a Sigma condition expression.
func (c *converter) condition(src string) (string, error) {
	p := &condParser{toks: tokenize(src), c: c}
	if len(p.toks) == 0 {
		return "", errors.New("empty")
	}
	e, err := p.or()
	if err != nil {
		return "", err
	}
	if p.pos < len(p.toks) {
		if p.toks[p.pos] == "|" {
			return "", errors.New("aggregations (| count() ...) are not supported")
		}
		return "", fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return e, nil
}

func tokenize(src string) []string {
	var toks []string
	cur := strings.Builder{}
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for _, r := range src {
		switch {
		case r == '(' || r == ')' || r == '|':
			flush()
			toks = append(toks, string(r))
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return toks
}

type condParser struct {
	toks []string
	pos  int
	c    *converter
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return strings.ToLower(p.toks[p.pos])
	}
	return ""
}

func (p *condParser) or() (string, error) {
	left, err := p.and()
	if err != nil {
		return "", err
	}
	parts := []string{left}
	for p.peek() == "or" {
		p.pos++
		right, err := p.and()
		if err != nil {
			return "", err
		}
		parts = append(parts, right)
	}
	if len(parts) == 1 {
		return left, nil
	}
	return "(" + strings.Join(parts, " or ") + ")", nil
}

func (p *condParser) and() (string, error) {
	left, err := p.not()
	if err != nil {
		return "", err
	}
	parts := []string{left}
	for p.peek() == "and" {
		p.pos++
		right, err := p.not()
		if err != nil {
			return "", err
		}
		parts = append(parts, right)
	}
	if len(parts) == 1 {
		return left, nil
	}
	return strings.Join(parts, " and "), nil
}

func (p *condParser) not() (string, error) {
	if p.peek() == "not" {
		p.pos++
		e, err := p.not()
		if err != nil {
			return "", err
		}
		return "not " + paren(e), nil
	}
	return p.primary()
}

// paren wraps e in parentheses unless one pair already encloses all of it.
func paren(e string) string {
	if !strings.HasPrefix(e, "(") || !strings.HasSuffix(e, ")") {
		return "(" + e + ")"
	}
	depth, inStr, esc := 0, false, false
	for i := 0; i < len(e); i++ {
		ch := e[i]
		switch {
		case esc:
			esc = false
		case inStr && ch == '\\':
			esc = true
		case ch == '"':
			inStr = !inStr
		case inStr:
		case ch == '(':
			depth++
		case ch == ')':
			depth--
			if depth == 0 && i < len(e)-1 {
				return "(" + e + ")"
			}
		}
	}
	return e
}

func (p *condParser) primary() (string, error) {
	tok := p.peek()
	switch {
	case tok == "":
		return "", errors.New("unexpected end")
	case tok == "(":
		p.pos++
		e, err := p.or()
		if err != nil {
			return "", err
		}
		if p.peek() != ")" {
			return "", errors.New("missing )")
		}
		p.pos++
		return paren(e), nil
	case tok == ")" || tok == "|" || tok == "and" || tok == "or":
		return "", fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	if p.pos+1 < len(p.toks) && strings.ToLower(p.toks[p.pos+1]) == "of" {
		quant := tok
		if p.pos+2 >= len(p.toks) {
			return "", fmt.Errorf("%s of what?", quant)
		}
		pattern := p.toks[p.pos+2]
		p.pos += 3
		var joiner string
		switch quant {
		case "1", "any":
			joiner = " or "
		case "all":
			joiner = " and "
		default:
			return "", fmt.Errorf("%q of is not supported (only 1 of and all of)", quant)
		}
		names := p.c.match(pattern)
		if len(names) == 0 {
			return "", fmt.Errorf("no search identifier matches %q", pattern)
		}
		var parts []string
		for _, n := range names {
			e, err := p.c.search(n)
			if err != nil {
				return "", err
			}
			parts = append(parts, e)
		}
		if len(parts) == 1 {
			return parts[0], nil
		}
		return "(" + strings.Join(parts, joiner) + ")", nil
	}
	p.pos++
	return p.c.search(p.toks[p.pos-1])
}

// match returns the search identifiers matching a pattern with * (them:
// all but those starting with _), in document order.
func (c *converter) match(pattern string) []string {
	var out []string
	for _, n := range c.names {
		if pattern == "them" {
			if !strings.HasPrefix(n, "_") {
				out = append(out, n)
			}
			continue
		}
		if ok, _ := filepath.Match(pattern, n); ok && !strings.ContainsAny(pattern, "[]?\\") {
			out = append(out, n)
		}
	}
	return out
}

// search converts one search identifier.
func (c *converter) search(name string) (string, error) {
	v, ok := c.searches[name]
	if !ok {
		return "", fmt.Errorf("unknown search identifier %q", name)
	}
	e, err := c.searchValue(v)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return e, nil
}

func (c *converter) searchValue(v any) (string, error) {
	switch x := v.(type) {
	case yaml.MapSlice:
		return c.mapSearch(x)
	case []any:
		if len(x) == 0 {
			return "", errors.New("empty list")
		}
		if _, isMap := x[0].(yaml.MapSlice); isMap {
			var parts []string
			for _, el := range x {
				m, ok := el.(yaml.MapSlice)
				if !ok {
					return "", errors.New("a list mixes maps and values")
				}
				e, err := c.mapSearch(m)
				if err != nil {
					return "", err
				}
				parts = append(parts, e)
			}
			if len(parts) == 1 {
				return parts[0], nil
			}
			return "(" + strings.Join(parts, " or ") + ")", nil
		}
		// Keywords: full-text search of the message.
		return c.fieldTest(Field{Expr: "message", Alert: "message"}, []string{"contains"}, x)
	}
	return "", fmt.Errorf("a search is a map or a list, not %T", v)
}

func (c *converter) mapSearch(m yaml.MapSlice) (string, error) {
	if len(m) == 0 {
		return "", errors.New("empty map")
	}
	var parts []string
	for _, it := range m {
		key, ok := it.Key.(string)
		if !ok {
			return "", fmt.Errorf("field name %v is not a string", it.Key)
		}
		name, mods, _ := strings.Cut(key, "|")
		if name == "" {
			return "", fmt.Errorf("field %q has no name", key)
		}
		f, ok := c.opts.Fields[strings.ToLower(name)]
		if !ok {
			f = Field{Expr: `fields[` + quote(name) + `]`, Alert: "fields." + name}
		}
		var modList []string
		if mods != "" {
			modList = strings.Split(mods, "|")
		}
		vals, ok := it.Value.([]any)
		if !ok {
			vals = []any{it.Value}
		}
		if len(vals) == 0 {
			return "", fmt.Errorf("%s: empty value list", key)
		}
		e, err := c.fieldTest(f, modList, vals)
		if err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		if !slices.Contains(c.alertFields, f.Alert) {
			c.alertFields = append(c.alertFields, f.Alert)
		}
		parts = append(parts, e)
	}
	return strings.Join(parts, " and "), nil
}

// fieldTest converts the values (ORed, or ANDed with |all) of one field.
func (c *converter) fieldTest(f Field, mods []string, vals []any) (string, error) {
	var op string
	var all, cased, exists, isRe, isCIDR bool
	for _, m := range mods {
		switch strings.ToLower(m) {
		case "contains", "startswith", "endswith":
			if op != "" {
				return "", fmt.Errorf("modifiers %s and %s together", op, m)
			}
			op = strings.ToLower(m)
		case "all":
			all = true
		case "cased":
			cased = true
		case "exists":
			exists = true
		case "re":
			isRe = true
		case "cidr":
			isCIDR = true
		case "i", "m", "s":
			// Regular expression flags are handled with re.
			if !slices.Contains(mods, "re") {
				return "", fmt.Errorf("modifier %s needs re", m)
			}
		default:
			return "", fmt.Errorf("modifier %q is not supported", m)
		}
	}
	if exists {
		if len(vals) != 1 {
			return "", errors.New("exists takes true or false")
		}
		b, ok := vals[0].(bool)
		if !ok {
			return "", errors.New("exists takes true or false")
		}
		zero := `""`
		if f.Int {
			zero = "0"
		}
		if b {
			return f.Expr + " != " + zero, nil
		}
		return f.Expr + " == " + zero, nil
	}
	lowered := !cased && !f.Exact && !isRe && !isCIDR
	subject := f.Expr
	if lowered {
		subject = "lower(" + f.Expr + ")"
	}
	// Plain values without wildcards on one field: one `in` test (what the
	// candidate index reads for event_code).
	if op == "" && !all && !isRe && !isCIDR && len(vals) > 1 {
		var lits []string
		for _, v := range vals {
			lit, ok, err := c.plainLiteral(f, v, lowered)
			if err != nil {
				return "", err
			}
			if !ok {
				lits = nil
				break
			}
			lits = append(lits, lit)
		}
		if lits != nil {
			return subject + " in [" + strings.Join(lits, ", ") + "]", nil
		}
	}
	var parts []string
	for _, v := range vals {
		e, err := c.valueTest(f, subject, op, v, lowered, isRe, isCIDR)
		if err != nil {
			return "", err
		}
		parts = append(parts, e)
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	joiner := " or "
	if all {
		joiner = " and "
	}
	return "(" + strings.Join(parts, joiner) + ")", nil
}

// plainLiteral returns the literal of a value compared for equality, or
// false when the value needs more than equality (wildcards, null).
func (c *converter) plainLiteral(f Field, v any, lowered bool) (string, bool, error) {
	if v == nil {
		return "", false, nil
	}
	if f.Int {
		n, err := intValue(v)
		if err != nil {
			return "", false, err
		}
		return strconv.FormatInt(n, 10), true, nil
	}
	s := scalar(v)
	segs := parseWildcards(s)
	if len(segs) != 1 || segs[0].wild != 0 {
		return "", false, nil
	}
	lit := segs[0].text
	if lowered {
		lit = strings.ToLower(lit)
	}
	return quote(lit), true, nil
}

func (c *converter) valueTest(f Field, subject, op string, v any, lowered, isRe, isCIDR bool) (string, error) {
	if v == nil {
		if f.Int {
			return f.Expr + " == 0", nil
		}
		return f.Expr + ` == ""`, nil
	}
	if f.Int {
		if op != "" || isRe || isCIDR {
			return "", fmt.Errorf("%s is an integer field: only equality is supported", f.Expr)
		}
		n, err := intValue(v)
		if err != nil {
			return "", err
		}
		return f.Expr + " == " + strconv.FormatInt(n, 10), nil
	}
	s := scalar(v)
	switch {
	case isRe:
		if _, err := regexp.Compile(s); err != nil {
			return "", fmt.Errorf("regular expression %q: %v (Go RE2 syntax)", s, err)
		}
		return f.Expr + " matches " + quote(s), nil
	case isCIDR:
		if _, err := netip.ParsePrefix(s); err != nil {
			return "", fmt.Errorf("invalid CIDR %q", s)
		}
		return "in_cidr(" + f.Expr + ", " + quote(s) + ")", nil
	}
	segs := parseWildcards(s)
	if lowered {
		for i := range segs {
			segs[i].text = strings.ToLower(segs[i].text)
		}
	}
	// Leading and trailing * turn into the modifier they mean.
	if op == "" && len(segs) > 1 && segs[0].wild == '*' {
		segs, op = segs[1:], "endswith"
	}
	if len(segs) > 1 && segs[len(segs)-1].wild == '*' {
		segs = segs[:len(segs)-1]
		switch op {
		case "":
			op = "startswith"
		case "endswith":
			op = "contains"
		}
	}
	if len(segs) == 0 { // "*": any value
		return "true", nil
	}
	if len(segs) == 1 && segs[0].wild == 0 {
		lit := quote(segs[0].text)
		switch op {
		case "contains":
			return subject + " contains " + lit, nil
		case "startswith":
			return subject + " startsWith " + lit, nil
		case "endswith":
			return subject + " endsWith " + lit, nil
		}
		return subject + " == " + lit, nil
	}
	// Inner wildcards: a regular expression.
	var re strings.Builder
	if op == "" || op == "startswith" {
		re.WriteString("^")
	}
	for _, sg := range segs {
		switch sg.wild {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(sg.text))
		}
	}
	if op == "" || op == "endswith" {
		re.WriteString("$")
	}
	return subject + " matches " + quote("(?s)"+re.String()), nil
}

// segment is literal text or one wildcard (* or ?).
type segment struct {
	text string
	wild rune
}

// parseWildcards splits a Sigma value into literal text and wildcards,
// resolving the escapes \*, \? and \\ (any other backslash is literal).
func parseWildcards(s string) []segment {
	var segs []segment
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			segs = append(segs, segment{text: cur.String()})
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			cur.WriteByte(s[i+1])
			i++
		case ch == '*' || ch == '?':
			flush()
			segs = append(segs, segment{wild: rune(ch)})
		default:
			cur.WriteByte(ch)
		}
	}
	flush()
	if len(segs) == 0 {
		segs = []segment{{text: ""}}
	}
	return segs
}

// scalar renders a YAML scalar value as Sigma compares it: as text.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func intValue(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), nil
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), nil
		}
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%v is not an integer", v)
}

// quote renders s as an expr string literal.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Marshal renders converted rules as a rules/*.yaml file.
func Marshal(rules []*Rule) ([]byte, error) {
	out, err := yaml.MarshalWithOptions(struct {
		Rules []*Rule `yaml:"rules"`
	}{rules}, yaml.IndentSequence(true), yaml.UseLiteralStyleIfMultiline(true), yaml.UseSingleQuote(true))
	if err != nil {
		return nil, fmt.Errorf("encode rules: %w", err)
	}
	return out, nil
}
