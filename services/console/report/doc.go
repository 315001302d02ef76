// Package report builds C-981's ISMS incident reports: the record of one
// incident that an ISMS owner hands to auditors and, for significant
// incidents, to the CSIRT or competent authority. It is pure: it takes the
// incident, its triage, alerts, response plans, audit records and site
// model as values and does no I/O.
//
// Build assembles a Report for one incident: classification (event or
// incident, category, ATT&CK ids), timeline (first observed, detected,
// reported, became aware, classified, acknowledged, contained, recovered,
// closed; derived from the incident and the triage history), scope (site,
// legal entity, NIS2 class and sector, affected assets with zone, Purdue
// level, safety and SL-T), impact, response actions with their decisions,
// states and approvers, evidence references, lessons learned, the NIS2
// clocks, and the controls each field evidences (ISO/IEC 27001:2022 A.5.24
// to A.5.28 and A.6.8, the ISO/IEC 27035-1 phases, NIS2 Article 23).
// Report.Markdown renders it for people; its JSON encoding (the field names
// are stable and documented in docs/ISMS-REPORTING.md) is the machine form.
//
// NIS2Clocks computes the three NIS2 Article 23(4) deadlines of a
// significant incident: early warning 24 h and incident notification 72 h
// after the entity became aware, final report one calendar month after the
// notification, evaluated in the site's time zone. Each clock is pending,
// overdue, done (on time) or done_late at a given instant.
//
// Summarize computes a site's period summary: incidents by category and
// severity, opened and closed in the period, mean and median time to
// acknowledge and to resolve from the triage history, and the NIS2
// submissions due and overdue in the period.
package report
