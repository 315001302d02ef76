package respond

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/respond/approval"
	"github.com/c981/c981/services/respond/audit"
	"github.com/c981/c981/services/respond/constraint"
	"github.com/c981/c981/services/respond/executor"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// Request states kept in the approvals bucket beyond approval.State*:
// StateSuperseded means a newer incident version has its own plan, so
// the request is closed without doing anything.
const StateSuperseded = "superseded"

// DefaultRenotify is the default interval between renotifications of a
// request still waiting for approval (or timed out).
const DefaultRenotify = 15 * time.Minute

// Request is the respond stage's record of one plan step that needs
// approval: the value of its key in the bus.KVApprovals bucket. It is
// created when the plan is published, collects the approvals as they
// arrive and records the outcome; every change is a compare-and-set on
// the key's revision, so concurrent writers never lose an approval.
type Request struct {
	// Plan is the whole plan; StepID names the step waiting for approval.
	Plan   event.Plan `json:"plan"`
	StepID string     `json:"step_id"`
	// Context is the constraint context the plan was decided with, and
	// SourceIP and TargetIP the incident's endpoints: what the executor
	// needs once the step is approved.
	Context  constraint.Context `json:"context"`
	SourceIP string             `json:"source_ip,omitempty"`
	TargetIP string             `json:"target_ip,omitempty"`
	// Approvals are the verdicts received, in arrival order, each once
	// (by id).
	Approvals []event.Approval `json:"approvals,omitempty"`
	// State is pending, approved, rejected, timed_out or superseded;
	// Reason says why in plain language.
	State  string `json:"state"`
	Reason string `json:"reason"`
	// Outcome is the executor's result once an approved step ran.
	Outcome *executor.Outcome `json:"outcome,omitempty"`
	// Notified counts the renotifications; LastNotifiedAt is the latest
	// (zero before the first).
	Notified       int       `json:"notified"`
	LastNotifiedAt time.Time `json:"last_notified_at"`
}

// open reports whether people must still be told about the request:
// pending or timed out (a timed-out step is never run, but the incident
// stays in front of them).
func (r *Request) open() bool {
	return r.State == approval.StatePending || r.State == approval.StateTimedOut
}

// RequestKey is the bus.KVApprovals key of an incident's plan step:
// <incident>.<plan>.<hex sha-256 of the step id>, so the requests of one
// incident are listed with the filter "<incident>.>".
func RequestKey(incidentID, planID, stepID string) string {
	h := sha256.Sum256([]byte(stepID))
	return kvToken(incidentID) + "." + kvToken(planID) + "." + hex.EncodeToString(h[:16])
}

// markerPrefix starts the key that indexes an incident's approval
// requests ("m.<incident>", a JSON array of their keys), so that a newer
// version of an incident costs one KV read - none when it never had a
// request - and never a key listing, which needs a watcher per call.
const markerPrefix = "m."

func markerKey(incidentID string) string { return markerPrefix + kvToken(incidentID) }

// kvToken keeps the characters KV keys allow in one token.
func kvToken(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '=' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}

// EnsureApprovalsBucket creates (or updates) the bus.KVApprovals bucket.
// Requests are kept for 30 days, well past any approval timeout; replicas
// copies (0 means 1).
func EnsureApprovalsBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bus.KVApprovals,
		Description: "C-981 respond: approval requests of plan steps and the approvals given",
		TTL:         30 * 24 * time.Hour,
		Storage:     jetstream.FileStorage,
		History:     1,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("kv bucket %s: %w", bus.KVApprovals, err)
	}
	return kv, nil
}

// openRequests records a pending request for every needs_approval step of
// a site's plans (a redelivered plan finds them already there) and closes
// the open requests of older versions of the same incidents as
// superseded. It returns the audit records of the superseded requests.
func (s *Service) openRequests(ctx context.Context, b siteBatch, now time.Time) ([]audit.Record, error) {
	var recs []audit.Record
	superseded := map[string]bool{} // incident id
	// The requests of each incident are indexed with one compare-and-set
	// (not one per step), then created.
	type newRequest struct {
		key, planID, stepID string
		data                []byte
	}
	requests := map[string][]newRequest{} // by incident id
	var incidents []string
	for i, p := range b.plans {
		inc := b.incs[i]
		// Version 1 has no older plans; later versions of an incident
		// with requests list them (a short KV watch).
		if !superseded[inc.ID] && inc.Version > 1 {
			superseded[inc.ID] = true
			r, err := s.supersede(ctx, inc.ID, inc.Version, now)
			if err != nil {
				return nil, err
			}
			recs = append(recs, r...)
		}
		for _, st := range p.Steps {
			if st.Decision != event.DecisionNeedsApproval {
				continue
			}
			req := Request{Plan: p, StepID: st.ID, Context: s.planner.Context(inc), SourceIP: inc.Source.IP, TargetIP: inc.Target.IP,
				State: approval.StatePending, Reason: "waiting for approval by " + strings.Join(st.Approvers, ", ")}
			data, err := json.Marshal(req)
			if err != nil {
				return nil, fmt.Errorf("approval request: %w", err)
			}
			if _, ok := requests[p.IncidentID]; !ok {
				incidents = append(incidents, p.IncidentID)
			}
			requests[p.IncidentID] = append(requests[p.IncidentID], newRequest{key: RequestKey(p.IncidentID, p.ID, st.ID), planID: p.ID, stepID: st.ID, data: data})
		}
	}
	for _, id := range incidents {
		reqs := requests[id]
		keys := make([]string, len(reqs))
		for i, r := range reqs {
			keys[i] = r.key
		}
		// Index first: a crash between the two leaves an index entry
		// without a request (skipped), never a request nobody finds.
		if err := s.indexRequests(ctx, id, keys); err != nil {
			return nil, err
		}
		for _, r := range reqs {
			if _, err := s.approvals.Create(ctx, r.key, r.data); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
				return nil, fmt.Errorf("approval request %s/%s: %w", r.planID, r.stepID, err)
			}
		}
	}
	return recs, nil
}

// supersede closes the open requests of incident versions older than
// version.
func (s *Service) supersede(ctx context.Context, incidentID string, version uint64, now time.Time) ([]audit.Record, error) {
	keys, rev, err := s.requestIndex(ctx, incidentID)
	if err != nil || len(keys) == 0 {
		return nil, err // none: the incident never had an approval request
	}
	var recs []audit.Record
	var keep []string // requests still open after this: the new index
	for _, key := range keys {
		var rec *audit.Record
		err := s.updateRequest(ctx, key, func(r *Request) (bool, error) {
			rec = nil
			if !r.open() {
				return false, nil
			}
			if r.Plan.IncidentVersion >= version {
				keep = append(keep, key)
				return false, nil
			}
			r.State = StateSuperseded
			r.Reason = fmt.Sprintf("incident version %d has a newer plan; nothing is done for version %d", version, r.Plan.IncidentVersion)
			a, err := audit.RequestState(r.Plan, r.StepID, r.State, r.Reason, now)
			if err != nil {
				return false, err
			}
			rec = &a
			return true, nil
		})
		if errors.Is(err, errNoRequest) {
			continue // indexed, but its creation did not happen (crash)
		}
		if err != nil {
			return nil, err
		}
		if rec != nil {
			s.m.requests.WithLabelValues(StateSuperseded).Inc()
			recs = append(recs, *rec)
		}
	}
	// Closed requests leave the index, so that an incident with many
	// versions does not re-read them all on every version. Best effort:
	// a concurrent change of the index keeps the longer one.
	if len(keep) < len(keys) {
		data, err := json.Marshal(keep)
		if err != nil {
			return nil, fmt.Errorf("approval requests of incident %s: %w", incidentID, err)
		}
		if _, err := s.approvals.Update(ctx, markerKey(incidentID), data, rev); err != nil &&
			!errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("approval requests of incident %s: %w", incidentID, err)
		}
	}
	return recs, nil
}

// requestIndex returns the request keys indexed for an incident and the
// index entry's revision (0 when there is none).
func (s *Service) requestIndex(ctx context.Context, incidentID string) ([]string, uint64, error) {
	e, err := s.approvals.Get(ctx, markerKey(incidentID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("approval requests of incident %s: %w", incidentID, err)
	}
	var keys []string
	if err := json.Unmarshal(e.Value(), &keys); err != nil {
		return nil, 0, fmt.Errorf("approval requests of incident %s (revision %d): %w", incidentID, e.Revision(), err)
	}
	return keys, e.Revision(), nil
}

// indexRequests adds add to the incident's request index in one
// compare-and-set (keys already there are fine).
func (s *Service) indexRequests(ctx context.Context, incidentID string, add []string) error {
	mk := markerKey(incidentID)
	for range maxCAS {
		keys, rev, err := s.requestIndex(ctx, incidentID)
		if err != nil {
			return err
		}
		n := len(keys)
		for _, k := range add {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		if len(keys) == n {
			return nil
		}
		data, err := json.Marshal(keys)
		if err != nil {
			return fmt.Errorf("approval requests of incident %s: %w", incidentID, err)
		}
		if rev == 0 {
			_, err = s.approvals.Create(ctx, mk, data)
		} else {
			_, err = s.approvals.Update(ctx, mk, data, rev)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("approval requests of incident %s: %w", incidentID, err)
		}
	}
	return fmt.Errorf("approval requests of incident %s: still changing after %d attempts", incidentID, maxCAS)
}

// requestKeys lists the keys of the approvals bucket matching filter.
func (s *Service) requestKeys(ctx context.Context, filter string) ([]string, error) {
	kl, err := s.approvals.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list approval requests %s: %w", filter, err)
	}
	// The lister stops its watcher itself once the current keys are read
	// (or ctx ends); a second Stop would only report that.
	var keys []string
	for k := range kl.Keys() {
		keys = append(keys, k)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list approval requests %s: %w", filter, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// errNoRequest: the key holds no approval request.
var errNoRequest = errors.New("no approval request")

// maxCAS bounds the compare-and-set retries of one request update.
const maxCAS = 20

// updateRequest reads the request at key, applies change and writes it
// back with compare-and-set, retrying on a concurrent change. change
// returns false to leave the request as it is.
func (s *Service) updateRequest(ctx context.Context, key string, change func(*Request) (bool, error)) error {
	for range maxCAS {
		e, err := s.approvals.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return errNoRequest
		}
		if err != nil {
			return fmt.Errorf("approval request %s: %w", key, err)
		}
		var r Request
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			return fmt.Errorf("approval request %s (revision %d): %w", key, e.Revision(), err)
		}
		ok, err := change(&r)
		if err != nil || !ok {
			return err
		}
		data, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("approval request %s: %w", key, err)
		}
		_, err = s.approvals.Update(ctx, key, data, e.Revision())
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("approval request %s: %w", key, err)
		}
	}
	return fmt.Errorf("approval request %s: still changing after %d attempts", key, maxCAS)
}

// handleApprovals processes one message of C981_APPROVALS: each approval
// is re-validated against the request respond recorded for the step,
// added to it (once, by id), evaluated, audited, and when the quorum is
// reached the step is executed exactly once. The message is acknowledged
// only after the request, the audit records and the execution result are
// durable.
func (s *Service) handleApprovals(ctx context.Context, msg jetstream.Msg) error {
	var batch event.ApprovalBatch
	if err := event.Unmarshal(msg.Data(), &batch); err != nil {
		s.m.approvals.WithLabelValues("undecodable").Inc()
		return bus.Poison(fmt.Errorf("decode approvals: %w", err))
	}
	var dls []event.DeadLetter
	for i := range batch {
		a := &batch[i]
		var err error
		if subj := bus.ApprovalsSubject(a.Site); msg.Subject() != subj {
			err = &badApproval{"invalid", fmt.Errorf("approval of site %q published on %s, not %s", a.Site, msg.Subject(), subj)}
		} else {
			err = s.applyApproval(ctx, a)
		}
		var bad *badApproval
		if errors.As(err, &bad) {
			s.m.approvals.WithLabelValues(bad.result).Inc()
			dls = append(dls, approvalDeadLetter(msg, i, a, bad, s.now()))
			if bad.result == "unknown_request" {
				// A well-formed verdict on a step respond never planned is
				// still someone's decision: it is audited as refused.
				rec, err := audit.Approval(a.Site, *a, approval.Status{State: "refused", Reason: bad.Error()})
				if err != nil {
					return err
				}
				if err := s.appendAudit(ctx, a.Site, []audit.Record{rec}); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	if err := bus.DeadLetter(ctx, s.js, bus.StageRespond, dls); err != nil {
		return fmt.Errorf("dead-letter approvals: %w", err)
	}
	return nil
}

// badApproval is an approval that can never count: dead-lettered with
// the reason, its neighbours processed.
type badApproval struct {
	result string // metric label: invalid, unknown_request
	err    error
}

func (b *badApproval) Error() string { return b.err.Error() }

// validateApproval checks the fields every approval must carry.
func validateApproval(a *event.Approval) error {
	var errs []error
	for _, f := range []struct{ name, v string }{
		{"id", a.ID}, {"site", a.Site}, {"plan_id", a.PlanID}, {"incident_id", a.IncidentID}, {"step_id", a.StepID},
		{"approver", a.Approver}, {"role", a.Role},
	} {
		if strings.TrimSpace(f.v) == "" {
			errs = append(errs, fmt.Errorf("%s is empty", f.name))
		}
	}
	if a.Verdict != event.VerdictApprove && a.Verdict != event.VerdictReject {
		errs = append(errs, fmt.Errorf("verdict %q is not approve or reject", a.Verdict))
	}
	if a.At.IsZero() || !a.ExpiresAt.After(a.At) {
		errs = append(errs, errors.New("at and expires_at must be set, expires_at after at"))
	}
	return errors.Join(errs...)
}

// applyApproval records one approval and acts on the request's new state.
func (s *Service) applyApproval(ctx context.Context, a *event.Approval) error {
	if err := validateApproval(a); err != nil {
		return &badApproval{"invalid", fmt.Errorf("invalid approval: %w", err)}
	}
	key := RequestKey(a.IncidentID, a.PlanID, a.StepID)
	now := s.now()
	var (
		st       approval.Status
		req      Request
		counted  bool
		newState string
	)
	err := s.updateRequest(ctx, key, func(r *Request) (bool, error) {
		changed := false
		if r.Plan.Site != a.Site {
			return false, &badApproval{"invalid", fmt.Errorf("approval for site %q; the plan is of site %q", a.Site, r.Plan.Site)}
		}
		if !slices.ContainsFunc(r.Approvals, func(x event.Approval) bool { return x.ID == a.ID }) {
			r.Approvals = append(r.Approvals, *a)
			changed = true
		}
		areq, err := approval.RequestFor(r.Plan, r.StepID)
		if err != nil {
			return false, &badApproval{"invalid", err}
		}
		st = approval.Evaluate(areq, r.Approvals, now)
		counted = areq.Check(*a, now) == nil
		newState = ""
		if r.open() && r.State != st.State {
			newState = st.State
		}
		if r.open() && (r.State != st.State || r.Reason != st.Reason) {
			r.State, r.Reason = st.State, st.Reason
			changed = true
		}
		req = *r
		return changed, nil
	})
	if errors.Is(err, errNoRequest) {
		return &badApproval{"unknown_request", fmt.Errorf("no approval request for plan %s step %s of incident %s (not planned by respond, or expired)", a.PlanID, a.StepID, a.IncidentID)}
	}
	if err != nil {
		return err
	}
	if counted {
		s.m.approvals.WithLabelValues("counted").Inc()
	} else {
		s.m.approvals.WithLabelValues("ignored").Inc()
	}
	if newState != "" {
		s.m.requests.WithLabelValues(newState).Inc()
	}
	// Evaluate's view of a closed request (superseded, or decided before)
	// is not what happened: audit the request's own state.
	if req.State != st.State {
		st = approval.Status{State: req.State, Reason: req.Reason}
	}
	if !counted {
		if cerr := s.checkApproval(req, *a, now); cerr != nil {
			st.Reason = "not counted: " + cerr.Error() + "; " + st.Reason
		}
	}
	rec, err := audit.Approval(req.Plan.Site, *a, st)
	if err != nil {
		return err
	}
	recs := []audit.Record{rec}
	if newState == approval.StateApproved || newState == approval.StateRejected {
		// The request's decision, so readers of the trail (the console's
		// list of waiting steps) see it closed even when nothing runs.
		r, err := audit.RequestState(req.Plan, req.StepID, newState, req.Reason, now)
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	if req.State == approval.StateApproved && req.Outcome == nil {
		o, err := s.executeApproved(ctx, key, req)
		if err != nil {
			return err
		}
		if o != nil {
			acts, err := audit.Actions(req.Plan, []executor.Outcome{*o})
			if err != nil {
				return err
			}
			recs = append(recs, acts...)
		}
	}
	return s.appendAudit(ctx, req.Plan.Site, recs)
}

// checkApproval explains why a did not count for the request.
func (s *Service) checkApproval(r Request, a event.Approval, now time.Time) error {
	areq, err := approval.RequestFor(r.Plan, r.StepID)
	if err != nil {
		return err
	}
	return areq.Check(a, now)
}

// executeApproved runs an approved step once and records the outcome in
// the request. The executor's idempotency key (and the outcome recorded
// here) make a redelivered approval find the step already run. It returns
// nil when another writer recorded the outcome first.
func (s *Service) executeApproved(ctx context.Context, key string, r Request) (*executor.Outcome, error) {
	var o executor.Outcome
	if s.runner == nil {
		o = executor.Outcome{StepID: r.StepID, Status: executor.StatusNoExecutor, At: s.now().UTC(),
			Detail: "approved; no executors configured, a person performs it"}
		if i := slices.IndexFunc(r.Plan.Steps, func(st event.Step) bool { return st.ID == r.StepID }); i >= 0 {
			o.Action = r.Plan.Steps[i].Action
		}
	} else {
		inc := event.Incident{ID: r.Plan.IncidentID, Version: r.Plan.IncidentVersion, Site: r.Plan.Site,
			Source: event.Endpoint{IP: r.SourceIP}, Target: event.Endpoint{IP: r.TargetIP}}
		var err error
		if o, err = s.runner.RunApproved(ctx, r.Plan, r.StepID, r.Context, inc); err != nil {
			return nil, fmt.Errorf("execute approved step %s/%s: %w", r.Plan.ID, r.StepID, err)
		}
	}
	recorded := false
	err := s.updateRequest(ctx, key, func(x *Request) (bool, error) {
		if x.Outcome != nil {
			recorded = false
			return false, nil
		}
		x.Outcome = &o
		x.Reason += "; " + o.Status + ": " + o.Detail
		recorded = true
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	s.m.executed.WithLabelValues(o.Status).Inc()
	if !recorded {
		return nil, nil
	}
	return &o, nil
}

// appendAudit appends recs to site's chain when auditing is on.
func (s *Service) appendAudit(ctx context.Context, site string, recs []audit.Record) error {
	if s.audit == nil || len(recs) == 0 {
		return nil
	}
	if _, err := s.audit.Append(ctx, site, recs); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// approvalDeadLetter is the dead letter of an approval that cannot count.
func approvalDeadLetter(msg jetstream.Msg, i int, a *event.Approval, cause error, now time.Time) event.DeadLetter {
	pos := msg.Subject()
	if md, err := msg.Metadata(); err == nil {
		pos = md.Stream + " seq " + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	pos += " record " + strconv.Itoa(i)
	payload, err := json.Marshal(a)
	if err != nil {
		payload = fmt.Appendf(nil, "%+v", *a)
	}
	return event.DeadLetter{
		ID: event.NewID("dlq-record", bus.StageRespond, pos), Time: now, Stage: bus.StageRespond, Site: a.Site,
		Source: msg.Subject(), Reason: cause.Error(), Payload: string(payload), Position: pos,
	}
}

// Renotify runs one round of the renotification loop at the service's
// clock: every open request (pending or timed out) whose last
// notification is at least the renotify interval old is notified again
// through the notify executor (dry run respected) and audited; a pending
// request past its deadline is first marked timed out (nothing is done to
// the process). Approved, rejected and superseded requests are left
// alone. It returns the number of notifications sent.
func (s *Service) Renotify(ctx context.Context) (int, error) {
	keys, err := s.requestKeys(ctx, ">")
	if err != nil {
		return 0, err
	}
	sent := 0
	var errs []error
	for _, key := range keys {
		if strings.HasPrefix(key, markerPrefix) {
			continue
		}
		ok, err := s.renotifyOne(ctx, key)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			sent++
		}
	}
	return sent, errors.Join(errs...)
}

// renotifyOne handles one request of Renotify.
func (s *Service) renotifyOne(ctx context.Context, key string) (bool, error) {
	now := s.now()
	var (
		req      Request
		timedOut bool
		due      bool
	)
	err := s.updateRequest(ctx, key, func(r *Request) (bool, error) {
		timedOut, due = false, false
		if !r.open() {
			return false, nil
		}
		changed := false
		if r.State == approval.StatePending {
			areq, err := approval.RequestFor(r.Plan, r.StepID)
			if err != nil {
				return false, err
			}
			if st := approval.Evaluate(areq, r.Approvals, now); st.State == approval.StateTimedOut {
				r.State, r.Reason = st.State, st.Reason
				timedOut, changed = true, true
			}
		}
		last := r.LastNotifiedAt
		if last.IsZero() {
			last = r.Plan.CreatedAt
		}
		if now.Sub(last) >= s.cfg.Renotify {
			r.Notified++
			r.LastNotifiedAt = now
			due, changed = true, true
		}
		req = *r
		return changed, nil
	})
	if errors.Is(err, errNoRequest) {
		return false, nil // expired between listing and reading
	}
	if err != nil {
		return false, err
	}
	var recs []audit.Record
	if timedOut {
		s.m.requests.WithLabelValues(approval.StateTimedOut).Inc()
		r, err := audit.RequestState(req.Plan, req.StepID, req.State, req.Reason, now)
		if err != nil {
			return false, err
		}
		recs = append(recs, r)
	}
	if due {
		o := s.notifyAgain(ctx, req, now)
		s.m.renotified.WithLabelValues(o.Status).Inc()
		r, err := audit.Renotify(req.Plan, req.StepID, req.Notified, req.State, o)
		if err != nil {
			return false, err
		}
		recs = append(recs, r)
	}
	if err := s.appendAudit(ctx, req.Plan.Site, recs); err != nil {
		return false, err
	}
	return due, nil
}

// notifyAgain sends one renotification of req through the notify
// executor; the outcome says what happened (no_executor without one).
func (s *Service) notifyAgain(ctx context.Context, req Request, now time.Time) executor.Outcome {
	o := executor.Outcome{StepID: req.StepID, Action: constraint.ActNotify, At: now.UTC()}
	var ex executor.Executor
	dry := false
	if s.runner != nil {
		ex, dry = s.runner.Notifier(), s.runner.DryRun()
	}
	if ex == nil {
		o.Status, o.Detail = executor.StatusNoExecutor, "no notify executor configured; the console lists the request"
		return o
	}
	o.Executor = ex.Name()
	st := event.Step{ID: req.StepID + "/renotify-" + strconv.Itoa(req.Notified), Kind: "notify", Action: constraint.ActNotify,
		Class: event.ClassPassive, Decision: event.DecisionAllowed, Automatic: true, Text: renotifyText(req)}
	if i := slices.IndexFunc(req.Plan.Steps, func(x event.Step) bool { return x.ID == req.StepID }); i >= 0 {
		st.Audience = req.Plan.Steps[i].Audience
	}
	job := executor.Job{
		Key:  executor.Key(req.Plan.IncidentID, st.ID, req.Plan.ID),
		Site: req.Plan.Site, PlanID: req.Plan.ID, PlaybookID: req.Plan.PlaybookID,
		IncidentID: req.Plan.IncidentID, IncidentVersion: req.Plan.IncidentVersion, Step: st, Context: req.Context,
		SourceIP: req.SourceIP, TargetIP: req.TargetIP, DryRun: dry,
	}
	res, err := ex.Execute(ctx, job)
	switch {
	case err != nil:
		o.Status, o.Detail = executor.StatusFailed, err.Error()
	case dry:
		o.Status, o.Detail = executor.StatusDryRun, res.Detail
	default:
		o.Status, o.Detail = executor.StatusDone, res.Detail
	}
	return o
}

// renotifyText is the plain-language reminder.
func renotifyText(r Request) string {
	var step event.Step
	if i := slices.IndexFunc(r.Plan.Steps, func(x event.Step) bool { return x.ID == r.StepID }); i >= 0 {
		step = r.Plan.Steps[i]
	}
	var people []string
	for _, a := range r.Approvals {
		if a.Verdict == event.VerdictApprove && !slices.Contains(people, a.Approver) {
			people = append(people, a.Approver)
		}
	}
	approved := "nobody has approved yet"
	if len(people) > 0 {
		approved = "approved so far by " + strings.Join(people, ", ")
	}
	what := fmt.Sprintf("Step %q of playbook %s (incident %s, version %d) ", r.StepID, r.Plan.PlaybookID, r.Plan.IncidentID, r.Plan.IncidentVersion)
	if r.State == approval.StateTimedOut {
		return what + "was not approved in time: nothing has been done to the process. " + approved + ". " + step.Text
	}
	return what + "is waiting for approval by " + strings.Join(step.Approvers, ", ") + "; " + approved + ". " + step.Text
}
