// Package deploycheck validates the deployment artefacts in deploy/ against
// the code, since Docker and Kubernetes cannot run where the tests run: its
// tests parse the Dockerfile, every compose file, every Kustomize manifest
// and every NATS server configuration, and check that each C-981 stage is
// deployed with commands and flags the c981 CLI accepts, that ports, probes
// and /healthz addresses agree with the flags, that every ConfigMap, Secret,
// mounted file and environment variable referenced exists, and that the
// configuration copies agree with their originals.
//
// The package's library part loads those artefacts (Load*, Args, Flag) so
// the checks read as statements about the deployment.
package deploycheck
