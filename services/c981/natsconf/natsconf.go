package natsconf

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

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
	// (service imports, so JetStream PubAcks come back; none today: central
	// sources the site's streams instead) and Subscribe (stream imports),
	// and whose exports to C981 are exactly Serves and Delivers.
	Leaf bool
	// Account is the account a leaf user is bound to (SiteAccount).
	Account string
	// Serves lists the subjects a leaf user's site account exports to the
	// C981 account as services (requests from central into the site: the
	// consumer-create API of the site's JetStream domain for stream
	// sourcing, flow-control replies, and the site's action gateway). C981
	// imports each one.
	Serves []string
	// Delivers lists the subjects a leaf user's site account exports to
	// the C981 account as streams: the deliver prefix of the site streams
	// the hub sources (SiteDeliverPrefix).
	Delivers []string
}

// SiteDomain is the JetStream domain of a site's leaf node: its store
// buffers the site's events while the link to central is down.
func SiteDomain(site string) string { return "site-" + bus.Token(site) }

// SiteAPIPrefix is the JetStream API prefix of a site's domain as seen from
// central (the StreamSource.External.APIPrefix of its sources).
func SiteAPIPrefix(site string) string { return "$JS." + SiteDomain(site) + ".API" }

// SiteDeliverPrefix is the subject prefix the site's JetStream delivers
// sourced messages to (StreamSource.External.DeliverPrefix); it crosses the
// leaf connection into the C981 account and nowhere else.
func SiteDeliverPrefix(site string) string { return "c981.deliver." + bus.Token(site) }

// SiteSourced names the contract streams a site's leaf node holds in its
// own domain and that central's stream of the same name sources from, each
// with the subjects of that site it takes: raw events of the site only (a
// site cannot send another site's events: the filter is central's), and
// the ingest dead letters of the site's listeners.
func SiteSourced(site string) map[string]string {
	return map[string]string{
		bus.StreamRaw: siteRaw(site),
		bus.StreamDLQ: bus.DLQSubject(bus.StageIngest),
	}
}

// SiteSources returns the stream sources central's stream adds for the
// sites: for every site that holds stream (SiteSourced), the same-named
// stream in the site's JetStream domain, filtered to the site's subjects.
// The hub creates the sourcing consumer at the site through the leaf
// connection, with flow control and heartbeats; it resumes after a link
// outage from the last sequence it stored, so every message arrives once
// and in the site's order. Sorted by site.
func SiteSources(stream string, sites []string) []*jetstream.StreamSource {
	var out []*jetstream.StreamSource
	for _, site := range sortedSites(sites) {
		filter, ok := SiteSourced(site)[stream]
		if !ok {
			continue
		}
		out = append(out, &jetstream.StreamSource{
			Name:          stream,
			FilterSubject: filter,
			External:      &jetstream.ExternalStream{APIPrefix: SiteAPIPrefix(site), DeliverPrefix: SiteDeliverPrefix(site)},
		})
	}
	return out
}

// WithSiteSources returns cfgs with SiteSources added to each stream the
// sites hold (C981_RAW and C981_DLQ): what `c981 nats-provision --sites`
// creates at central.
func WithSiteSources(cfgs []jetstream.StreamConfig, sites []string) []jetstream.StreamConfig {
	out := slices.Clone(cfgs)
	for i := range out {
		out[i].Sources = append(slices.Clone(out[i].Sources), SiteSources(out[i].Name, sites)...)
	}
	return out
}

func sortedSites(sites []string) []string {
	s := slices.Clone(sites)
	slices.Sort(s)
	return slices.Compact(s)
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
type consumer struct {
	stream, durable string
	// reset: the service resets its durable to the first unacknowledged
	// message on start (the correlator, to resume in stream order at once).
	reset bool
}

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
			consumes:  []consumer{{stream: bus.StreamRaw, durable: bus.ConsumerEnrich}},
		},
		{
			stage: bus.StageCorrelate, comment: "enriched events -> alerts and incidents; incident state in its KV bucket",
			publishes: []string{all(bus.AlertsSubject), all(bus.IncidentsSubject), bus.DLQSubject(bus.StageCorrelate)},
			consumes:  []consumer{{stream: bus.StreamEvents, durable: bus.ConsumerCorrelate, reset: true}},
			kv:        true,
			buckets:   []string{correlate.DefaultStateBucket}, // rule state checkpoints, read back with a watch
		},
		{
			stage: bus.StageRespond, comment: "incidents -> response plans and audit chains; approvals -> approved steps; gateway requests",
			publishes: []string{all(bus.ActionsSubject), bus.DLQSubject(bus.StageRespond), all(bus.AuditSubject), all(executor.GatewaySubject)},
			consumes:  []consumer{{stream: bus.StreamIncidents, durable: bus.ConsumerRespond}, {stream: bus.StreamApprovals, durable: bus.ConsumerRespondApprovals}},
			buckets:   []string{bus.KVApprovals, executor.IdempotencyBucket},
			streams:   []string{audit.Stream},
		},
		{
			stage: bus.StageStore, comment: "every stream -> ClickHouse",
			publishes: []string{bus.DLQSubject(bus.StageStore)},
			consumes: []consumer{
				{stream: bus.StreamEvents, durable: bus.ConsumerStoreEvents},
				{stream: bus.StreamAlerts, durable: bus.ConsumerStoreAlerts},
				{stream: bus.StreamIncidents, durable: bus.ConsumerStoreIncidents},
				{stream: bus.StreamActions, durable: bus.ConsumerStoreActions},
				{stream: bus.StreamDLQ, durable: bus.ConsumerStoreDLQ},
				{stream: bus.StreamAudit, durable: bus.ConsumerStoreAudit},
				{stream: bus.KVTriageStream, durable: bus.ConsumerStoreTriage},
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
			if c.reset {
				u.Publish = append(u.Publish, jsAPI+"CONSUMER.RESET."+c.stream+"."+c.durable)
			}
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

	for _, site := range sortedSites(o.Sites) {
		u := User{
			Name:    SiteUser(site),
			Comment: "leaf node of site " + site + ": central sources its raw events and ingest dead letters from the site's JetStream domain; it receives only its actions and its gateway requests",
			Leaf:    true,
			Account: SiteAccount(site),
			// Its actions, for the site-local gateway.
			Subscribe: []string{bus.ActionsSubject(site)},
			// Nothing is published from the site into central: central
			// pulls (sources) the site's streams, so a site's events
			// flow plant -> central only through its own buffer.
			Delivers: []string{SiteDeliverPrefix(site) + ".>"},
		}
		streams := slices.Sorted(maps.Keys(SiteSourced(site)))
		for _, st := range streams {
			u.Serves = append(u.Serves, SiteAPIPrefix(site)+".CONSUMER.CREATE."+st+".>")
		}
		// Flow-control replies of the sourcing consumers: the v1 subject
		// names the site's stream, the v2 subject (server feature flag
		// js_ack_fc_v2) the site's domain.
		for _, st := range streams {
			u.Serves = append(u.Serves, "$JS.FC."+st+".>")
		}
		u.Serves = append(u.Serves, "$JS.FC."+SiteDomain(site)+".>", executor.GatewaySubject(site))
		users = append(users, u)
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
	// What central takes from each site: the sourcing of its streams and
	// its gateway.
	var imports []string
	for _, u := range users {
		if !u.Leaf {
			continue
		}
		for _, s := range u.Serves {
			imports = append(imports, fmt.Sprintf("{service: {account: %s, subject: %s}}", u.Account, strconv.Quote(s)))
		}
		for _, s := range u.Delivers {
			imports = append(imports, fmt.Sprintf("{stream: {account: %s, subject: %s}}", u.Account, strconv.Quote(s)))
		}
	}
	if len(imports) > 0 {
		b.WriteString("    # what central takes from each site account: its JetStream domain's sourcing consumers and its gateway\n")
		b.WriteString("    imports: [\n")
		for _, im := range imports {
			fmt.Fprintf(&b, "      %s\n", im)
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
		b.WriteString("    ]\n")
		if len(u.Serves)+len(u.Delivers) > 0 {
			b.WriteString("    exports: [\n")
			for _, s := range u.Serves {
				fmt.Fprintf(&b, "      {service: %s, accounts: [%s]}\n", strconv.Quote(s), Account)
			}
			for _, s := range u.Delivers {
				fmt.Fprintf(&b, "      {stream: %s, accounts: [%s]}\n", strconv.Quote(s), Account)
			}
			b.WriteString("    ]\n")
		}
		b.WriteString("  }\n")
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

// DefaultSiteStore is the JetStream file store of a site's leaf node
// (max_file_store): 16 GiB, room for the site's C981_RAW buffer
// (streams.raw_max_bytes, 8 GiB by default: about 10 million events of
// ~820 bytes) plus its ingest dead letters. See docs/OPERATIONS.md, "Site
// store-and-forward", for sizing it to a longest outage.
const DefaultSiteStore int64 = 16 << 30

// SiteLeafFile is the committed name of a site's generated leaf node
// configuration under deploy/nats.
func SiteLeafFile(site string) string { return "site-leaf-" + bus.Token(site) + ".conf" }

// GenerateSiteLeaf returns the NATS configuration of a site's leaf node
// (deploy/nats/site-leaf-<site>.conf): a JetStream domain of its own
// (SiteDomain) whose streams buffer the site's events while the link to
// central is down, and one outbound TLS leaf connection to the hub as the
// site's leaf user. storeBytes is its max_file_store (0 = DefaultSiteStore).
func GenerateSiteLeaf(site string, storeBytes int64) []byte {
	if storeBytes <= 0 {
		storeBytes = DefaultSiteStore
	}
	u := User{Name: SiteUser(site)}
	var b bytes.Buffer
	b.WriteString("# GENERATED by services/c981/natsconf from the bus contract (services/shared/bus).\n")
	b.WriteString("# Do not edit: run `cd services/c981 && go test ./natsconf/ -update`.\n")
	fmt.Fprintf(&b, "# NATS leaf node of site %s (plant). Local syslog ingest and the site-local action gateway\n", site)
	b.WriteString("# connect to it on loopback. Its own JetStream domain holds the contract streams, so ingest\n")
	b.WriteString("# publishes are acknowledged at the site and buffered while the link to central is down;\n")
	fmt.Fprintf(&b, "# central's C981_RAW and C981_DLQ source them (c981 nats-provision --sites %s) over one\n", site)
	b.WriteString("# outbound TLS leaf connection (no inbound port at the plant). C981_HUB_LEAF_URL_n are\n")
	fmt.Fprintf(&b, "# tls://%s:$%s@hub-n:7422 (from the site's secret store, like its client certificate).\n", u.Name, u.PasswordVar())
	b.WriteString("server_name: $NATS_SERVER_NAME\n")
	b.WriteString("listen: 127.0.0.1:4222\n\n")
	b.WriteString("max_payload: 8MB\n\n")
	b.WriteString("jetstream {\n")
	fmt.Fprintf(&b, "  domain: %s\n", SiteDomain(site))
	b.WriteString("  store_dir: /data/jetstream\n")
	fmt.Fprintf(&b, "  max_file_store: %d   # %.1f GiB: streams.raw_max_bytes of the site's C981_RAW plus its dead letters\n", storeBytes, float64(storeBytes)/(1<<30))
	b.WriteString("  max_memory_store: 64MB\n")
	b.WriteString("}\n\n")
	b.WriteString("leafnodes {\n  remotes: [\n    {\n")
	b.WriteString("      urls: [$C981_HUB_LEAF_URL_1, $C981_HUB_LEAF_URL_2, $C981_HUB_LEAF_URL_3]\n")
	b.WriteString("      tls {\n")
	b.WriteString("        cert_file: /etc/nats/tls/tls.crt\n")
	b.WriteString("        key_file: /etc/nats/tls/tls.key\n")
	b.WriteString("        ca_file: /etc/nats/tls/ca.crt\n")
	b.WriteString("      }\n    }\n  ]\n}\n")
	return b.Bytes()
}
