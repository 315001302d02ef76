package natsconf

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/c981/c981/services/correlate/correlate"
	"github.com/c981/c981/services/respond/audit"
	"github.com/c981/c981/services/respond/executor"
	"github.com/c981/c981/services/shared/bus"
)

// Account is the NATS account every C-981 user belongs to: the streams are
// shared between the stages, so they live in one JetStream-enabled account
// and the users are separated by subject permissions.
const Account = "C981"

// ProvisionUser is the user that creates and updates the streams
// (`c981 nats-provision`). It has no permission to publish data or to delete
// or purge anything.
const ProvisionUser = "c981-provision"

// jsAPI is the JetStream API subject prefix; jsAck prefixes ack subjects.
const (
	jsAPI = "$JS.API."
	jsAck = "$JS.ACK."
)

// Denied is the list of subjects no generated user may publish to, whatever
// its allow list: deleting or purging a stream, deleting a consumer,
// deleting or erasing stored messages, and the server/account system API.
var Denied = []string{
	jsAPI + "STREAM.DELETE.>",
	jsAPI + "STREAM.PURGE.>",
	jsAPI + "STREAM.MSG.DELETE.>",
	jsAPI + "CONSUMER.DELETE.>",
	jsAPI + "META.>",
	jsAPI + "SERVER.>",
	jsAPI + "ACCOUNT.>",
	"$SYS.>",
}

// Options are the deployment facts the generated configuration depends on.
type Options struct {
	// KVBucket is the correlator's incident-state bucket
	// (correlate.store.bucket); empty means correlate.DefaultBucket.
	KVBucket string
	// Sites get one leaf-node user each (site-<site>); sorted on output.
	Sites []string
}

// User is one NATS user with its subject permissions.
type User struct {
	// Name is the NATS user name (c981-<service>, c981-provision, site-<site>).
	Name string
	// Comment says what the user is for; written above it in the file.
	Comment string
	// Publish lists the subjects the user may publish to (wildcards allowed).
	Publish []string
	// Subscribe lists the subjects the user may subscribe to.
	Subscribe []string
	// Leaf marks a site's leaf-node user. nats-server applies no subject
	// permissions to leaf users: the user is bound to its own site account
	// (Account) whose imports from the C981 account are exactly Publish
	// (service imports, so JetStream PubAcks come back) and Subscribe
	// (stream imports).
	Leaf bool
	// Account is the account a leaf user is bound to (SiteAccount).
	Account string
}

// SiteAccount is the NATS account of a site's leaf node.
func SiteAccount(site string) string {
	return "SITE_" + strings.ToUpper(nonAlnum.ReplaceAllString(bus.Token(site), "_"))
}

// PasswordVar is the environment variable the NATS server reads the user's
// password from: C981_NATS_PASSWORD_ + the user name upper-cased with every
// non-alphanumeric character as '_'.
func (u User) PasswordVar() string {
	return "C981_NATS_PASSWORD_" + strings.ToUpper(nonAlnum.ReplaceAllString(u.Name, "_"))
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]`)

// ServiceUser is the NATS user name of a runtime service.
func ServiceUser(stage string) string { return "c981-" + stage }

// SiteUser is the NATS leaf-node user name of a site.
func SiteUser(site string) string { return "site-" + bus.Token(site) }

// consumer is one durable pull consumer a service owns.
type consumer struct{ stream, durable string }

// service is what one runtime stage does on the bus, taken from the
// contract (docs/ARCHITECTURE.md, "The bus contract").
type service struct {
	stage     string
	comment   string
	publishes []string // subject patterns
	consumes  []consumer
	kv        bool // owns the correlator's KV bucket
	// buckets are other JetStream KV buckets the service creates, reads
	// and writes (and lists: a watch on the bucket).
	buckets []string
	// streams are streams outside bus.StreamConfigs the service creates
	// and owns (respond: C981_AUDIT), reading their last message per
	// subject.
	streams []string
}

// ConsoleUser is the stage name of the console's NATS user (c981-console):
// the console is not a bus stage (it has no dead letters) but writes
// approvals.
const ConsoleUser = "console"

// all is the subject pattern covering every value of a one-argument
// subject function: "c981.events.>" for bus.EventsSubject.
func all(f func(string) string) string {
	return strings.TrimSuffix(f("x"), "x") + ">"
}

// allRaw covers every site and source of bus.RawSubject.
func allRaw() string { return strings.TrimSuffix(bus.RawSubject("x", "y"), "x.y") + ">" }

// siteRaw covers every source of one site.
func siteRaw(site string) string {
	return strings.TrimSuffix(bus.RawSubject(site, "y"), "y") + ">"
}

func services() []service {
	return []service{
		{
			stage: bus.StageIngest, comment: "syslog listeners: publish parsed events of every site",
			publishes: []string{allRaw(), bus.DLQSubject(bus.StageIngest)},
		},
		{
			stage: bus.StageEnrich, comment: "raw events -> enriched events",
			publishes: []string{all(bus.EventsSubject), bus.DLQSubject(bus.StageEnrich)},
			consumes:  []consumer{{bus.StreamRaw, bus.ConsumerEnrich}},
		},
		{
			stage: bus.StageCorrelate, comment: "enriched events -> alerts and incidents; incident state in its KV bucket",
			publishes: []string{all(bus.AlertsSubject), all(bus.IncidentsSubject), bus.DLQSubject(bus.StageCorrelate)},
			consumes:  []consumer{{bus.StreamEvents, bus.ConsumerCorrelate}},
			kv:        true,
		},
		{
			stage: bus.StageRespond, comment: "incidents -> response plans and audit chains; approvals -> approved steps; gateway requests",
			publishes: []string{all(bus.ActionsSubject), bus.DLQSubject(bus.StageRespond), all(bus.AuditSubject), all(executor.GatewaySubject)},
			consumes:  []consumer{{bus.StreamIncidents, bus.ConsumerRespond}, {bus.StreamApprovals, bus.ConsumerRespondApprovals}},
			buckets:   []string{bus.KVApprovals, executor.IdempotencyBucket},
			streams:   []string{audit.Stream},
		},
		{
			stage: bus.StageStore, comment: "every stream -> ClickHouse",
			publishes: []string{bus.DLQSubject(bus.StageStore)},
			consumes: []consumer{
				{bus.StreamEvents, bus.ConsumerStoreEvents},
				{bus.StreamAlerts, bus.ConsumerStoreAlerts},
				{bus.StreamIncidents, bus.ConsumerStoreIncidents},
				{bus.StreamActions, bus.ConsumerStoreActions},
				{bus.StreamDLQ, bus.ConsumerStoreDLQ},
				{bus.StreamAudit, bus.ConsumerStoreAudit},
				{bus.KVTriageStream, bus.ConsumerStoreTriage},
			},
		},
		{
			stage: ConsoleUser, comment: "console API: publishes the approvals of authenticated approvers",
			publishes: []string{all(bus.ApprovalsSubject)},
			buckets:   []string{bus.KVTriage}, // incident triage writes (compare-and-set)
		},
	}
}

// streamNames are the C-981 stream names from the contract.
func streamNames() []string {
	var names []string
	for _, c := range bus.StreamConfigs(bus.DefaultStreamOptions()) {
		names = append(names, c.Name)
	}
	return names
}

// kvPublish is what a service publishes to use the KV bucket b: create or
// update it (CreateOrUpdateKeyValue reads the account's JetStream limits
// first), get and put keys, and with watch list keys (a short-lived
// ordered consumer).
func kvPublish(b string, watch bool) []string {
	kvStream := "KV_" + b
	p := []string{
		jsAPI + "INFO",
		jsAPI + "STREAM.CREATE." + kvStream,
		jsAPI + "STREAM.UPDATE." + kvStream,
		jsAPI + "STREAM.INFO." + kvStream,
		jsAPI + "STREAM.MSG.GET." + kvStream,
		jsAPI + "DIRECT.GET." + kvStream,
		jsAPI + "DIRECT.GET." + kvStream + ".>",
	}
	if watch {
		p = append(p, jsAPI+"CONSUMER.CREATE."+kvStream+".>", "$JS.FC."+kvStream+".>")
	}
	return append(p, "$KV."+b+".>")
}

// Users returns every generated user: the runtime services in pipeline
// order, the provisioning user, then one leaf user per site.
func Users(o Options) []User {
	bucket := o.KVBucket
	if bucket == "" {
		bucket = correlate.DefaultBucket
	}
	// Every stage started alone runs bus.EnsureStreams, which updates each
	// stream to the configured settings (STREAM.UPDATE; creation is left to
	// the provisioning user) and reads stream info.
	var ensure []string
	for _, s := range streamNames() {
		ensure = append(ensure, jsAPI+"STREAM.UPDATE."+s, jsAPI+"STREAM.INFO."+s)
	}
	var users []User
	for _, svc := range services() {
		u := User{Name: ServiceUser(svc.stage), Comment: svc.comment}
		u.Publish = append(u.Publish, svc.publishes...)
		u.Publish = append(u.Publish, ensure...)
		for _, c := range svc.consumes {
			u.Publish = append(u.Publish,
				jsAPI+"CONSUMER.CREATE."+c.stream+"."+c.durable,
				jsAPI+"CONSUMER.CREATE."+c.stream+"."+c.durable+".>",
				jsAPI+"CONSUMER.INFO."+c.stream+"."+c.durable,
				jsAPI+"CONSUMER.MSG.NEXT."+c.stream+"."+c.durable,
				jsAck+c.stream+"."+c.durable+".>",
			)
		}
		for _, st := range svc.streams {
			u.Publish = append(u.Publish,
				jsAPI+"STREAM.CREATE."+st,
				jsAPI+"STREAM.UPDATE."+st,
				jsAPI+"STREAM.INFO."+st,
				jsAPI+"STREAM.MSG.GET."+st,
			)
		}
		for _, b := range svc.buckets {
			u.Publish = append(u.Publish, kvPublish(b, true)...)
		}
		if svc.kv {
			u.Publish = append(u.Publish, kvPublish(bucket, false)...)
		}
		u.Publish = dedupe(u.Publish)
		u.Subscribe = []string{"_INBOX.>"}
		users = append(users, u)
	}

	prov := User{Name: ProvisionUser, Comment: "creates and updates the C-981 streams (c981 nats-provision); no data, no delete or purge",
		Publish: []string{jsAPI + "INFO", jsAPI + "STREAM.NAMES", jsAPI + "STREAM.LIST"}, Subscribe: []string{"_INBOX.>"}}
	for _, s := range streamNames() {
		prov.Publish = append(prov.Publish, jsAPI+"STREAM.CREATE."+s, jsAPI+"STREAM.UPDATE."+s, jsAPI+"STREAM.INFO."+s)
	}
	// The contract's KV buckets (bus.EnsureBuckets) are streams KV_<bucket>.
	for _, b := range bus.BucketConfigs(bus.DefaultStreamOptions()) {
		s := "KV_" + b.Bucket
		prov.Publish = append(prov.Publish, jsAPI+"STREAM.CREATE."+s, jsAPI+"STREAM.UPDATE."+s, jsAPI+"STREAM.INFO."+s)
	}
	users = append(users, prov)

	sites := slices.Clone(o.Sites)
	slices.Sort(sites)
	sites = slices.Compact(sites)
	for _, site := range sites {
		users = append(users, User{
			Name:    SiteUser(site),
			Comment: "leaf node of site " + site + ": sends only its raw events and ingest dead letters, receives only its actions",
			Leaf:    true,
			Account: SiteAccount(site),
			// Sent to central as JetStream publishes (service imports:
			// the PubAck comes back to the site's own inbox).
			Publish: []string{siteRaw(site), bus.DLQSubject(bus.StageIngest)},
			// Its actions, for the site-local gateway.
			Subscribe: []string{bus.ActionsSubject(site)},
		})
	}
	return users
}

// Generate returns the accounts.conf text: an `accounts` block with the C981
// account (JetStream enabled) and every user of Users, each password an
// environment variable reference.
func Generate(o Options) []byte {
	var b bytes.Buffer
	b.WriteString("# GENERATED by services/c981/natsconf from the bus contract (services/shared/bus).\n")
	b.WriteString("# Do not edit: run `cd services/c981 && go test ./natsconf/ -update`.\n")
	b.WriteString("# Include it from nats-server.conf. Each password is read from the environment\n")
	b.WriteString("# variable named here (fill them from a Secret); leaf users go in leafnodes.authorization.\n\n")
	users := Users(o)
	b.WriteString("accounts {\n")
	fmt.Fprintf(&b, "  %s {\n", Account)
	b.WriteString("    jetstream: enabled\n")
	b.WriteString("    users: [\n")
	for _, u := range users {
		if !u.Leaf {
			writeUser(&b, "      ", u)
		}
	}
	b.WriteString("    ]\n")
	// One export per subject, naming every site account that may import it
	// (a second export of the same subject would replace the first).
	type export struct{ kind, subject string }
	var exports []export
	importers := map[export][]string{}
	for _, u := range users {
		if !u.Leaf {
			continue
		}
		for kind, subjects := range map[string][]string{"service": u.Publish, "stream": u.Subscribe} {
			for _, s := range subjects {
				e := export{kind, s}
				if importers[e] == nil {
					exports = append(exports, e)
				}
				importers[e] = append(importers[e], u.Account)
			}
		}
	}
	slices.SortFunc(exports, func(a, b export) int { return strings.Compare(a.kind+a.subject, b.kind+b.subject) })
	if len(exports) > 0 {
		b.WriteString("    # what each site account may import, and nothing else\n")
		b.WriteString("    exports: [\n")
		for _, e := range exports {
			fmt.Fprintf(&b, "      {%s: %s, accounts: [%s]}\n", e.kind, strconv.Quote(e.subject), strings.Join(importers[e], ", "))
		}
		b.WriteString("    ]\n")
	}
	b.WriteString("  }\n")
	for _, u := range users {
		if !u.Leaf {
			continue
		}
		fmt.Fprintf(&b, "  # %s\n", u.Comment)
		fmt.Fprintf(&b, "  %s {\n    imports: [\n", u.Account)
		for _, s := range u.Publish {
			fmt.Fprintf(&b, "      {service: {account: %s, subject: %s}}\n", Account, strconv.Quote(s))
		}
		for _, s := range u.Subscribe {
			fmt.Fprintf(&b, "      {stream: {account: %s, subject: %s}}\n", Account, strconv.Quote(s))
		}
		b.WriteString("    ]\n  }\n")
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// GenerateLeaf returns the leafnode authorization block for the hub
// (deploy/nats/leafnodes.conf): one user per site bound to its site
// account.
func GenerateLeaf(o Options) []byte {
	var b bytes.Buffer
	b.WriteString("# GENERATED by services/c981/natsconf from the bus contract (services/shared/bus).\n")
	b.WriteString("# Do not edit: run `cd services/c981 && go test ./natsconf/ -update`.\n")
	b.WriteString("# Include it inside the hub's `leafnodes { }` block.\n\n")
	b.WriteString("authorization {\n  users: [\n")
	for _, u := range Users(o) {
		if !u.Leaf {
			continue
		}
		writeUser(&b, "    ", u)
	}
	b.WriteString("  ]\n}\n")
	return b.Bytes()
}

func writeUser(b *bytes.Buffer, ind string, u User) {
	fmt.Fprintf(b, "%s# %s\n", ind, u.Comment)
	fmt.Fprintf(b, "%s{\n", ind)
	fmt.Fprintf(b, "%s  user: %s\n", ind, strconv.Quote(u.Name))
	fmt.Fprintf(b, "%s  password: $%s\n", ind, u.PasswordVar())
	if u.Leaf {
		fmt.Fprintf(b, "%s  account: %s\n", ind, u.Account)
		fmt.Fprintf(b, "%s}\n", ind)
		return
	}
	fmt.Fprintf(b, "%s  permissions: {\n", ind)
	fmt.Fprintf(b, "%s    publish: { allow: %s, deny: %s }\n", ind, list(u.Publish), list(Denied))
	fmt.Fprintf(b, "%s    subscribe: { allow: %s }\n", ind, list(u.Subscribe))
	fmt.Fprintf(b, "%s  }\n", ind)
	fmt.Fprintf(b, "%s}\n", ind)
}

// dedupe drops repeated entries, keeping the first of each.
func dedupe(ss []string) []string {
	var out []string
	for _, v := range ss {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func list(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
