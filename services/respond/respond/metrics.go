package respond

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the respond stage's Prometheus metrics.
type metrics struct {
	incidents  *prometheus.CounterVec
	plans      *prometheus.CounterVec
	decisions  *prometheus.CounterVec
	poison     prometheus.Counter
	evalErrors prometheus.Counter
	executed   *prometheus.CounterVec
	approvals  *prometheus.CounterVec
	requests   *prometheus.CounterVec
	renotified *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		incidents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_respond_incidents_total",
			Help: "Incident versions processed, by result (planned; unchanged = not planned again: no plan input changed since the last version planned; invalid = dead-lettered).",
		}, []string{"result"}),
		plans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_respond_plans_total",
			Help: "Response plans published, by playbook.",
		}, []string{"playbook"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_respond_step_decisions_total",
			Help: "Plan steps published, by constraint decision (allowed, needs_approval, forbidden).",
		}, []string{"decision"}),
		poison: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_respond_poison_messages_total",
			Help: "Incident messages that could not be decoded and were dead-lettered.",
		}),
		evalErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "c981_respond_playbook_eval_errors_total",
			Help: "Incidents for which some playbook's applies_to failed to evaluate (the playbook was left out).",
		}),
		executed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_respond_step_executions_total",
			Help: "Plan steps handed to the executors, by outcome (done, dry_run, duplicate, failed, no_executor, not_automatic).",
		}, []string{"status"}),
		approvals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_respond_approvals_total",
			Help: "Approvals and rejections received, by result (counted, ignored = recorded but not valid for the request, invalid and unknown_request = dead-lettered, undecodable).",
		}, []string{"result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_respond_approval_requests_total",
			Help: "Approval request state changes, by new state (approved, rejected, timed_out, superseded).",
		}, []string{"state"}),
		renotified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "c981_respond_renotifications_total",
			Help: "Renotifications of open approval requests, by outcome (done, dry_run, failed, no_executor).",
		}, []string{"status"}),
	}
	for _, c := range []prometheus.Collector{m.incidents, m.plans, m.decisions, m.poison, m.evalErrors, m.executed, m.approvals, m.requests, m.renotified} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}
