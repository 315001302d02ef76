package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// Who may write what (issue #8). Auditors never write; every write is
// limited to the caller's sites (another site's incident answers 404).
var (
	// triageRoles may change an incident's status and assignee and add
	// notes. An operator among them may only acknowledge a new incident
	// (operatorStatuses) and add notes: the plant operator confirms they
	// have seen it; assignment and the investigation workflow are the
	// SOC's and engineers'.
	triageRoles = []string{RoleAnalyst, RoleControlEngineer, RoleSafetyEngineer, RoleManager, RoleISMSOwner, RoleAdmin, RoleOperator}
	// ismsRoles may change the ISMS record.
	ismsRoles = []string{RoleISMSOwner, RoleAdmin}
	// operatorStatuses are the statuses an operator may set.
	operatorStatuses = []string{event.StatusAcknowledged}
)

// Limits of the write routes' contents (the body as a whole is limited to
// MaxBodyBytes).
const (
	// MaxNoteBytes bounds one note's text.
	MaxNoteBytes = 4 << 10
	// MaxNotes bounds the notes of one incident.
	MaxNotes = 500
	// MaxHistory bounds the recorded changes of one incident.
	MaxHistory = 5000
	// MaxUserBytes bounds an assignee name.
	MaxUserBytes = 128
	// MaxLessonsBytes bounds the lessons-learned text.
	MaxLessonsBytes = 16 << 10
	// MaxEvidence bounds the evidence references, MaxEvidenceBytes each.
	MaxEvidence      = 100
	MaxEvidenceBytes = 1 << 10
	// ClockSkew is how far in the future an ISMS time may lie (clock skew
	// between the reporter's machine and the server).
	ClockSkew = 5 * time.Minute
	// triageTimeout bounds one write's bus and ClickHouse round trips.
	triageTimeout = 10 * time.Second
)

// earliestISMSTime is the earliest accepted ISMS time (ClickHouse DateTime
// starts at 1970; nothing C-981 reports on predates 2000).
var earliestISMSTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ISMSClassifications, ISMSCategories and ImpactLevels are the accepted
// values of the ISMS record's enumerations ("" = not assessed yet).
var (
	ISMSClassifications = []string{"event", "incident"}
	ISMSCategories      = []string{"malware", "ransomware", "unauthorized_access", "unauthorized_change", "denial_of_service",
		"availability", "safety", "data_breach", "misuse", "reconnaissance", "physical", "other"}
	ImpactLevels = []string{"none", "low", "medium", "high"}
)

// opt is an optional JSON member: Set when present, Null when it was
// null (clear the field), else V.
type opt[T any] struct {
	Set, Null bool
	V         T
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// TriagePatch is the body of PATCH /api/incidents/{id}: the version the
// change is based on (or If-Match) and the members to change.
type TriagePatch struct {
	Version  opt[uint64] `json:"version"`
	Status   opt[string] `json:"status"`
	Assignee opt[string] `json:"assignee"`
}

// NoteRequest is the body of POST /api/incidents/{id}/notes.
type NoteRequest struct {
	Version opt[uint64] `json:"version"`
	Text    string      `json:"text"`
}

// ImpactPatch changes some of an incident's impact ratings.
type ImpactPatch struct {
	Confidentiality opt[string] `json:"confidentiality"`
	Integrity       opt[string] `json:"integrity"`
	Availability    opt[string] `json:"availability"`
	Safety          opt[string] `json:"safety"`
	Operations      opt[string] `json:"operations"`
}

// ISMSPatch is the body of PATCH /api/incidents/{id}/isms: members present
// are set, null clears them.
type ISMSPatch struct {
	Version        opt[uint64]      `json:"version"`
	Classification opt[string]      `json:"classification"`
	Category       opt[string]      `json:"category"`
	Significant    opt[bool]        `json:"significant"`
	BecameAwareAt  opt[time.Time]   `json:"became_aware_at"`
	EarlyWarningAt opt[time.Time]   `json:"early_warning_at"`
	NotificationAt opt[time.Time]   `json:"notification_at"`
	FinalReportAt  opt[time.Time]   `json:"final_report_at"`
	Impact         opt[ImpactPatch] `json:"impact"`
	LessonsLearned opt[string]      `json:"lessons_learned"`
	Evidence       opt[[]string]    `json:"evidence"`
}

// writeError is a refused write with its HTTP status.
type writeError struct {
	code   int
	detail string
	// current is the stored triage version, reported with 409.
	current uint64
}

func (e *writeError) Error() string { return e.detail }

func refuse(code int, format string, args ...any) *writeError {
	return &writeError{code: code, detail: fmt.Sprintf(format, args...)}
}

// ConflictProblem is the 409 problem of a write based on a stale version.
type ConflictProblem struct {
	Problem
	// CurrentVersion is the incident's triage version now: re-read the
	// incident (GET /api/incidents/{id}) and retry on top of it.
	CurrentVersion uint64 `json:"current_version"`
}

// change computes one write: given the current triage, it returns the
// changes to record (Field, From, To; Version, At, Actor and Role are
// filled in by applyTriage) or a refusal (*writeError).
type change func(id Identity, cur *event.Triage) ([]event.TriageChange, error)

// patchIncident serves PATCH /api/incidents/{id}.
func (s *Service) patchIncident(w http.ResponseWriter, r *http.Request) {
	var p TriagePatch
	s.write(w, r, &p, func() opt[uint64] { return p.Version }, func(id Identity, cur *event.Triage) ([]event.TriageChange, error) {
		if !p.Status.Set && !p.Assignee.Set {
			return nil, refuse(http.StatusBadRequest, "nothing to change: give status and/or assignee")
		}
		var out []event.TriageChange
		if p.Status.Set {
			if p.Status.Null {
				return nil, refuse(http.StatusBadRequest, "status cannot be null")
			}
			if err := event.CheckTransition(cur.Status, p.Status.V); err != nil {
				return nil, refuse(http.StatusUnprocessableEntity, "status: %v", err)
			}
			if onlyOperator(id) && !slices.Contains(operatorStatuses, p.Status.V) {
				return nil, refuse(http.StatusForbidden, "an operator may only set the status to %s", strings.Join(operatorStatuses, " or "))
			}
			out = append(out, event.TriageChange{Field: "status", From: cur.Status, To: p.Status.V})
		}
		if p.Assignee.Set {
			if onlyOperator(id) {
				return nil, refuse(http.StatusForbidden, "an operator may not assign incidents")
			}
			to := strings.TrimSpace(p.Assignee.V) // null (or "") unassigns
			if err := checkText("assignee", to, MaxUserBytes, false); err != nil {
				return nil, err
			}
			if to == cur.Assignee {
				if len(out) == 0 {
					return nil, refuse(http.StatusUnprocessableEntity, "assignee: the incident is already assigned to %q", to)
				}
			} else {
				out = append(out, event.TriageChange{Field: "assignee", From: cur.Assignee, To: to})
			}
		}
		return out, nil
	})
}

// addNote serves POST /api/incidents/{id}/notes.
func (s *Service) addNote(w http.ResponseWriter, r *http.Request) {
	var n NoteRequest
	s.write(w, r, &n, func() opt[uint64] { return n.Version }, func(_ Identity, cur *event.Triage) ([]event.TriageChange, error) {
		text := strings.TrimSpace(n.Text)
		if text == "" {
			return nil, refuse(http.StatusBadRequest, "text: a note needs text")
		}
		if err := checkText("text", text, MaxNoteBytes, true); err != nil {
			return nil, err
		}
		if len(cur.Notes) >= MaxNotes {
			return nil, refuse(http.StatusUnprocessableEntity, "the incident has the maximum of %d notes", MaxNotes)
		}
		return []event.TriageChange{{Field: "note", To: text}}, nil
	})
}

// patchISMS serves PATCH /api/incidents/{id}/isms.
func (s *Service) patchISMS(w http.ResponseWriter, r *http.Request) {
	var p ISMSPatch
	s.write(w, r, &p, func() opt[uint64] { return p.Version }, func(_ Identity, cur *event.Triage) ([]event.TriageChange, error) {
		next := cur.ISMS
		next.Evidence = slices.Clone(cur.ISMS.Evidence)
		if err := p.applyTo(&next, time.Now()); err != nil {
			return nil, err
		}
		out := ismsChanges(cur.ISMS, next)
		if len(out) == 0 {
			return nil, refuse(http.StatusUnprocessableEntity, "nothing changes: the ISMS record already has these values")
		}
		return out, nil
	})
}

// write runs one triage write: decode body strictly into dst, authorize the
// incident's site, read the current triage from the bus, check the version,
// compute the changes with c and store the next version with
// compare-and-set. It answers 200 with the new triage, or a problem.
func (s *Service) write(w http.ResponseWriter, r *http.Request, dst any, version func() opt[uint64], c change) {
	if !noQuery(s, w, r) {
		return
	}
	if s.js == nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "the console runs without a bus: incident writes are disabled", nil)
		return
	}
	if err := decodeStrict(r, dst); err != nil {
		s.writeFail(w, r, err)
		return
	}
	want, err := wantVersion(r, version())
	if err != nil {
		s.writeFail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), triageTimeout)
	defer cancel()
	incident := strings.ToLower(r.PathValue("id"))
	site, err := s.db.IncidentSite(ctx, incident)
	id, _ := IdentityFrom(r.Context())
	if err == nil && !id.CanSee(site) {
		// Another site's incident is answered like an unknown one.
		err = query.ErrNotFound
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	kv, err := s.triageBucket(ctx)
	if err != nil {
		s.log.Error("triage bucket unavailable", "bucket", bus.KVTriage, "err", err)
		writeProblem(w, r, http.StatusServiceUnavailable, "the triage store is not available; retry later", nil)
		return
	}
	tr, err := applyTriage(ctx, kv, incident, site, want, id, time.Now(), c)
	if err != nil {
		s.writeFail(w, r, err)
		return
	}
	s.log.Info("incident triage changed", "incident", incident, "site", site, "version", tr.Version, "user", id.User,
		"fields", changedFields(tr.History, tr.Version))
	w.Header().Set("ETag", etag(tr.Version))
	writeJSON(w, http.StatusOK, tr)
}

// triageBucket returns the triage bucket, creating it (bus.EnsureBuckets,
// idempotent) when it does not exist yet: the console is the bucket's only
// writer and owns it, as the correlator and respond own theirs; its NATS
// user may create and update that one stream (natsconf). The pipeline may
// create it earlier; the store's consumer waits for it.
func (s *Service) triageBucket(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := s.js.KeyValue(ctx, bus.KVTriage)
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return kv, err
	}
	if err := bus.EnsureBuckets(ctx, s.js, bus.DefaultStreamOptions()); err != nil {
		return nil, err
	}
	s.log.Info("created the triage bucket", "bucket", bus.KVTriage)
	return s.js.KeyValue(ctx, bus.KVTriage)
}

// applyTriage reads the triage of incident, checks want against its
// version, applies c and writes the next version with compare-and-set on
// the key's revision (Create when there is none yet), so that of two
// concurrent writers based on the same version exactly one wins; the other
// gets 409 with the version now stored.
func applyTriage(ctx context.Context, kv jetstream.KeyValue, incident, site string, want uint64, id Identity, now time.Time, c change) (event.Triage, error) {
	cur, rev, err := readTriage(ctx, kv, incident, site)
	if err != nil {
		return event.Triage{}, err
	}
	if want != cur.Version {
		return event.Triage{}, &writeError{code: http.StatusConflict, current: cur.Version,
			detail: fmt.Sprintf("the incident changed: your version is %d, the current version is %d; reload and retry", want, cur.Version)}
	}
	changes, err := c(id, &cur)
	if err != nil {
		return event.Triage{}, err
	}
	if len(cur.History)+len(changes) > MaxHistory {
		return event.Triage{}, refuse(http.StatusUnprocessableEntity, "the incident has the maximum of %d recorded changes", MaxHistory)
	}
	next := cur
	next.Notes = slices.Clone(cur.Notes)
	next.History = slices.Clone(cur.History)
	next.ISMS.Evidence = slices.Clone(cur.ISMS.Evidence)
	next.Site = site
	next.Version = cur.Version + 1
	now = now.UTC()
	next.UpdatedAt, next.UpdatedBy = now, id.User
	for _, ch := range changes {
		ch.Version, ch.At, ch.Actor, ch.Role = next.Version, now, id.User, actingRole(id, ch.Field)
		switch {
		case ch.Field == "status":
			next.Status = ch.To
		case ch.Field == "assignee":
			next.Assignee = ch.To
		case ch.Field == "note":
			next.Notes = append(next.Notes, event.Note{At: now, Author: id.User, Role: ch.Role, Text: ch.To})
		case strings.HasPrefix(ch.Field, "isms."):
			if err := setISMS(&next.ISMS, ch); err != nil {
				return event.Triage{}, err
			}
		}
		next.History = append(next.History, ch)
	}
	data, err := json.Marshal(next)
	if err != nil {
		return event.Triage{}, fmt.Errorf("encode triage of %s: %w", incident, err)
	}
	if len(data) > bus.TriageMaxValueSize {
		return event.Triage{}, refuse(http.StatusUnprocessableEntity, "the incident's triage record would exceed %d bytes", bus.TriageMaxValueSize)
	}
	if rev == 0 {
		_, err = kv.Create(ctx, incident, data)
	} else {
		_, err = kv.Update(ctx, incident, data, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		// Another writer won the race: report the version it stored.
		now, _, rerr := readTriage(ctx, kv, incident, site)
		if rerr != nil {
			return event.Triage{}, rerr
		}
		return event.Triage{}, &writeError{code: http.StatusConflict, current: now.Version,
			detail: fmt.Sprintf("the incident changed: your version is %d, the current version is %d; reload and retry", want, now.Version)}
	}
	if err != nil {
		return event.Triage{}, fmt.Errorf("store triage of %s: %w", incident, err)
	}
	return next, nil
}

// readTriage returns the current triage of incident and its KV revision;
// an incident without a key is event.NewTriage at revision 0.
func readTriage(ctx context.Context, kv jetstream.KeyValue, incident, site string) (event.Triage, uint64, error) {
	e, err := kv.Get(ctx, incident)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		tr := event.NewTriage(incident, site)
		tr.History = []event.TriageChange{}
		return tr, 0, nil
	}
	if err != nil {
		return event.Triage{}, 0, fmt.Errorf("read triage of %s: %w", incident, err)
	}
	var tr event.Triage
	if err := json.Unmarshal(e.Value(), &tr); err != nil {
		return event.Triage{}, 0, fmt.Errorf("read triage of %s: revision %d: %w", incident, e.Revision(), err)
	}
	return tr, e.Revision(), nil
}

// decodeStrict decodes the request's JSON body into dst: exactly one
// object, no unknown members (so version, history, actor or updated_* can
// never be set by mass assignment), within MaxBodyBytes.
func decodeStrict(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return refuse(http.StatusUnsupportedMediaType, "the body must be application/json")
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return refuse(http.StatusRequestEntityTooLarge, "request bodies are limited to %d bytes", MaxBodyBytes)
		}
		return refuse(http.StatusBadRequest, "read body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return refuse(http.StatusBadRequest, "body: %v", err)
	}
	if dec.More() {
		return refuse(http.StatusBadRequest, "body: one JSON object expected")
	}
	return nil
}

// wantVersion returns the version a write is based on: the body's version
// or the If-Match header's (an ETag of GET /api/incidents/{id}); one of
// them is required, and both must agree.
func wantVersion(r *http.Request, body opt[uint64]) (uint64, error) {
	var header *uint64
	if h := strings.TrimSpace(r.Header.Get("If-Match")); h != "" {
		v, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
		if err != nil {
			return 0, refuse(http.StatusBadRequest, "If-Match: want the incident's ETag (its triage version), such as \"3\"")
		}
		header = &v
	}
	switch {
	case body.Set && body.Null:
		return 0, refuse(http.StatusBadRequest, "version cannot be null")
	case body.Set && header != nil && *header != body.V:
		return 0, refuse(http.StatusBadRequest, "version %d and If-Match %d disagree", body.V, *header)
	case body.Set:
		return body.V, nil
	case header != nil:
		return *header, nil
	default:
		return 0, refuse(http.StatusPreconditionRequired, "give the version your change is based on (version in the body or If-Match); GET the incident for it")
	}
}

// writeFail answers a write error: a refusal with its status (409 with the
// current version), anything else as fail does.
func (s *Service) writeFail(w http.ResponseWriter, r *http.Request, err error) {
	var we *writeError
	if !errors.As(err, &we) {
		s.fail(w, r, err)
		return
	}
	if we.code == http.StatusConflict {
		w.Header().Set("ETag", etag(we.current))
		writeBody(w, we.code, "application/problem+json", ConflictProblem{
			Problem:        Problem{Type: "about:blank", Title: http.StatusText(we.code), Status: we.code, Detail: we.detail, Instance: r.URL.Path},
			CurrentVersion: we.current,
		})
		return
	}
	writeProblem(w, r, we.code, we.detail, nil)
}

func etag(version uint64) string { return `"` + strconv.FormatUint(version, 10) + `"` }

// onlyOperator reports whether the caller writes triage only as an
// operator (no other triage role).
func onlyOperator(id Identity) bool {
	return id.HasRole(RoleOperator) && !id.HasRole(slices.DeleteFunc(slices.Clone(triageRoles), func(r string) bool { return r == RoleOperator })...)
}

// actingRole is the role recorded for a change of field: the caller's
// first role, in the order of the roles allowed to make it (isms.* fields
// ismsRoles, others triageRoles).
func actingRole(id Identity, field string) string {
	allowed := triageRoles
	if strings.HasPrefix(field, "isms.") {
		allowed = ismsRoles
	}
	for _, r := range allowed {
		if id.HasRole(r) {
			return r
		}
	}
	return ""
}

// checkText validates a user-supplied text: valid UTF-8, at most max
// bytes, no control characters (newlines and tabs allowed when multiline).
func checkText(name, s string, max int, multiline bool) error {
	if len(s) > max {
		return refuse(http.StatusUnprocessableEntity, "%s: at most %d bytes", name, max)
	}
	if !utf8.ValidString(s) {
		return refuse(http.StatusUnprocessableEntity, "%s: not valid UTF-8", name)
	}
	for _, c := range s {
		if unicode.IsControl(c) && !(multiline && (c == '\n' || c == '\t' || c == '\r')) {
			return refuse(http.StatusUnprocessableEntity, "%s: control character %U not allowed", name, c)
		}
	}
	return nil
}

// changedFields lists the fields of the changes of version v.
func changedFields(history []event.TriageChange, v uint64) []string {
	var out []string
	for _, c := range history {
		if c.Version == v {
			out = append(out, c.Field)
		}
	}
	return out
}

// getIncidentDetail serves GET /api/incidents/{id}: the incident with its
// triage and an ETag of the triage version (for If-Match). The detail is
// read from ClickHouse; when the console has the bus, the triage is taken
// from the triage bucket if it is newer than the stored copy (the store
// persists it within a second or so), so that an ETag is never stale right
// after a write.
func (s *Service) getIncidentDetail(w http.ResponseWriter, r *http.Request) {
	if !noQuery(s, w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	d, err := s.db.GetIncident(ctx, r.PathValue("id"))
	if err == nil {
		// Another site's incident is answered like an unknown one, so its
		// existence is not disclosed.
		if id, _ := IdentityFrom(r.Context()); !id.CanSee(d.Incident.Site) {
			err = query.ErrNotFound
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.js != nil {
		if kv, err := s.js.KeyValue(ctx, bus.KVTriage); err == nil {
			tr, _, err := readTriage(ctx, kv, d.Incident.ID, d.Incident.Site)
			switch {
			case err != nil:
				s.log.Warn("read triage from the bus; answering the stored copy", "incident", d.Incident.ID, "err", err)
			case tr.Version > d.Triage.Version:
				d.Triage = tr
				d.Incident.Status = tr.Status
			}
		}
	}
	w.Header().Set("ETag", etag(d.Triage.Version))
	writeJSON(w, http.StatusOK, d)
}

// applyTo validates p and applies it to rec (a copy of the current
// record); now bounds the times.
func (p *ISMSPatch) applyTo(rec *event.ISMSRecord, now time.Time) error {
	var bad []string
	enum := func(name string, o opt[string], allowed []string, dst *string) {
		switch {
		case !o.Set:
		case o.Null || o.V == "":
			*dst = ""
		case !slices.Contains(allowed, o.V):
			bad = append(bad, fmt.Sprintf("%s: %q is not one of %s", name, o.V, strings.Join(allowed, ", ")))
		default:
			*dst = o.V
		}
	}
	enum("classification", p.Classification, ISMSClassifications, &rec.Classification)
	enum("category", p.Category, ISMSCategories, &rec.Category)
	if p.Significant.Set {
		rec.Significant = !p.Significant.Null && p.Significant.V
	}
	for _, f := range []struct {
		name string
		o    opt[time.Time]
		dst  **time.Time
	}{
		{"became_aware_at", p.BecameAwareAt, &rec.BecameAwareAt},
		{"early_warning_at", p.EarlyWarningAt, &rec.EarlyWarningAt},
		{"notification_at", p.NotificationAt, &rec.NotificationAt},
		{"final_report_at", p.FinalReportAt, &rec.FinalReportAt},
	} {
		switch {
		case !f.o.Set:
		case f.o.Null:
			*f.dst = nil
		case f.o.V.After(now.Add(ClockSkew)):
			bad = append(bad, fmt.Sprintf("%s: %s is in the future", f.name, f.o.V.Format(time.RFC3339)))
		case f.o.V.Before(earliestISMSTime):
			bad = append(bad, fmt.Sprintf("%s: %s is before %s", f.name, f.o.V.Format(time.RFC3339), earliestISMSTime.Format(time.RFC3339)))
		default:
			t := f.o.V.UTC().Truncate(time.Millisecond)
			*f.dst = &t
		}
	}
	if p.Impact.Set {
		ip := p.Impact.V
		if p.Impact.Null {
			rec.Impact = event.Impact{}
		}
		enum("impact.confidentiality", ip.Confidentiality, ImpactLevels, &rec.Impact.Confidentiality)
		enum("impact.integrity", ip.Integrity, ImpactLevels, &rec.Impact.Integrity)
		enum("impact.availability", ip.Availability, ImpactLevels, &rec.Impact.Availability)
		enum("impact.safety", ip.Safety, ImpactLevels, &rec.Impact.Safety)
		enum("impact.operations", ip.Operations, ImpactLevels, &rec.Impact.Operations)
	}
	if p.LessonsLearned.Set {
		rec.LessonsLearned = p.LessonsLearned.V
		if err := checkText("lessons_learned", rec.LessonsLearned, MaxLessonsBytes, true); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if p.Evidence.Set {
		rec.Evidence = nil
		if len(p.Evidence.V) > MaxEvidence {
			bad = append(bad, fmt.Sprintf("evidence: at most %d references", MaxEvidence))
		}
		for i, e := range p.Evidence.V {
			e = strings.TrimSpace(e)
			if e == "" {
				bad = append(bad, fmt.Sprintf("evidence[%d]: empty reference", i))
			} else if err := checkText(fmt.Sprintf("evidence[%d]", i), e, MaxEvidenceBytes, false); err != nil {
				bad = append(bad, err.Error())
			}
			rec.Evidence = append(rec.Evidence, e)
		}
	}
	// The NIS2 submissions follow each other (Art. 23(4)).
	submitted := rec.EarlyWarningAt != nil || rec.NotificationAt != nil || rec.FinalReportAt != nil
	switch {
	case submitted && !rec.Significant:
		bad = append(bad, "NIS2 submissions (early_warning_at, notification_at, final_report_at) are for significant incidents: set significant")
	case submitted && rec.BecameAwareAt == nil:
		bad = append(bad, "NIS2 submissions need became_aware_at (the clocks start there)")
	}
	for _, t := range []struct {
		name string
		t    *time.Time
	}{{"early_warning_at", rec.EarlyWarningAt}, {"notification_at", rec.NotificationAt}, {"final_report_at", rec.FinalReportAt}} {
		if t.t != nil && rec.BecameAwareAt != nil && t.t.Before(*rec.BecameAwareAt) {
			bad = append(bad, fmt.Sprintf("%s is before became_aware_at", t.name))
		}
	}
	if rec.FinalReportAt != nil && (rec.NotificationAt == nil || rec.FinalReportAt.Before(*rec.NotificationAt)) {
		bad = append(bad, "final_report_at: the final report comes after the notification (set notification_at first)")
	}
	if len(bad) > 0 {
		return refuse(http.StatusUnprocessableEntity, "%s", strings.Join(bad, "; "))
	}
	return nil
}

// ismsValues lists the record's fields as the text recorded in a change.
func ismsValues(r event.ISMSRecord) [][2]string {
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	ev := ""
	if len(r.Evidence) > 0 {
		b, _ := json.Marshal(r.Evidence) // []string always encodes
		ev = string(b)
	}
	return [][2]string{
		{"classification", r.Classification},
		{"category", r.Category},
		{"significant", strconv.FormatBool(r.Significant)},
		{"became_aware_at", ts(r.BecameAwareAt)},
		{"early_warning_at", ts(r.EarlyWarningAt)},
		{"notification_at", ts(r.NotificationAt)},
		{"final_report_at", ts(r.FinalReportAt)},
		{"impact.confidentiality", r.Impact.Confidentiality},
		{"impact.integrity", r.Impact.Integrity},
		{"impact.availability", r.Impact.Availability},
		{"impact.safety", r.Impact.Safety},
		{"impact.operations", r.Impact.Operations},
		{"lessons_learned", r.LessonsLearned},
		{"evidence", ev},
	}
}

// ismsChanges returns one change per ISMS field that differs (field
// "isms.<name>").
func ismsChanges(from, to event.ISMSRecord) []event.TriageChange {
	a, b := ismsValues(from), ismsValues(to)
	var out []event.TriageChange
	for i := range a {
		if a[i][1] != b[i][1] {
			out = append(out, event.TriageChange{Field: "isms." + a[i][0], From: a[i][1], To: b[i][1]})
		}
	}
	return out
}

// setISMS applies one recorded isms.* change to rec (the inverse of
// ismsValues).
func setISMS(rec *event.ISMSRecord, c event.TriageChange) error {
	tm := func() (*time.Time, error) {
		if c.To == "" {
			return nil, nil
		}
		t, err := time.Parse(time.RFC3339Nano, c.To)
		return &t, err
	}
	var err error
	switch strings.TrimPrefix(c.Field, "isms.") {
	case "classification":
		rec.Classification = c.To
	case "category":
		rec.Category = c.To
	case "significant":
		rec.Significant = c.To == "true"
	case "became_aware_at":
		rec.BecameAwareAt, err = tm()
	case "early_warning_at":
		rec.EarlyWarningAt, err = tm()
	case "notification_at":
		rec.NotificationAt, err = tm()
	case "final_report_at":
		rec.FinalReportAt, err = tm()
	case "impact.confidentiality":
		rec.Impact.Confidentiality = c.To
	case "impact.integrity":
		rec.Impact.Integrity = c.To
	case "impact.availability":
		rec.Impact.Availability = c.To
	case "impact.safety":
		rec.Impact.Safety = c.To
	case "impact.operations":
		rec.Impact.Operations = c.To
	case "lessons_learned":
		rec.LessonsLearned = c.To
	case "evidence":
		rec.Evidence = nil
		if c.To != "" {
			err = json.Unmarshal([]byte(c.To), &rec.Evidence)
		}
	default:
		err = errors.New("unknown field")
	}
	if err != nil {
		return fmt.Errorf("apply %s: %w", c.Field, err)
	}
	return nil
}
