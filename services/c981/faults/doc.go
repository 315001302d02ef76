// Package faults is the automated fault matrix of issue #9 (`make faults`):
// it runs the C-981 stages as separate `c981 <stage>` processes against a
// real NATS JetStream (in-process, restartable on the same store) and a
// real ClickHouse, drives them with loadgen's sequence-numbered records,
// injects one fault per case while the load runs - a NATS restart, a
// SIGKILL of a stage mid-batch, a stalled (SIGSTOP) store, poison messages
// on every stage's input, rule and site-model reloads - and then asserts
// that no record is missing or duplicated, that the incidents equal those
// of a fault-free run of the same input, and that no playbook step was
// executed twice. A second fault-free case ("repeat without fault") checks
// that the baseline itself is deterministic. Incidents are compared only
// after every consumer upstream of them has drained (nothing pending,
// nothing awaiting acknowledgement): a message whose acknowledgement was
// lost comes back only after its consumer's AckWait. Rows re-inserted
// into ClickHouse after such a fault are collapsed by the
// ReplacingMergeTree tables and reported, not failed; duplicates are
// counted after FINAL.
//
// The tests run only when C981_FAULTS=1 (they take minutes); `make
// faults` sets it. The package holds only tests.
package faults
