// Package natsconf generates C-981's least-privilege NATS authorization
// (deploy/nats/accounts.conf) from the bus contract in
// services/shared/bus: one user per runtime service that may publish only
// its own subjects, create and pull only its own durable consumers, ack only
// their messages and read its reply inbox; a provisioning user that creates
// and updates the streams; one leaf-node user per site, bound to its own
// site account, that publishes nothing into central and receives only that
// site's actions and gateway requests. No user may delete or purge a stream
// or delete a consumer.
//
// Sites store and forward: a site's leaf node runs its own JetStream domain
// (SiteDomain, deploy/nats/site-leaf-<site>.conf from GenerateSiteLeaf) that
// acknowledges and buffers the site's events, and central's C981_RAW and
// C981_DLQ source the site's streams through the leaf connection
// (SiteSources, provisioned by `c981 nats-provision --sites`); the site
// account exports to C981 exactly what that sourcing needs.
//
// Passwords are never generated: the configuration references environment
// variables (C981_NATS_PASSWORD_<USER>) that the NATS server's deployment
// fills from a Secret.
package natsconf
