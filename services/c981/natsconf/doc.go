// Package natsconf generates C-981's least-privilege NATS authorization
// (deploy/nats/accounts.conf) from the bus contract in
// services/shared/bus: one user per runtime service that may publish only
// its own subjects, create and pull only its own durable consumers, ack only
// their messages and read its reply inbox; a provisioning user that creates
// and updates the streams; one leaf-node user per site, bound to its own
// site account, that may send only that site's raw events and receive only
// that site's actions. No user may
// delete or purge a stream or delete a consumer.
//
// Passwords are never generated: the configuration references environment
// variables (C981_NATS_PASSWORD_<USER>) that the NATS server's deployment
// fills from a Secret.
package natsconf
