package chstore

import "github.com/c981/c981/services/shared/secret"

// TLSConfig configures TLS on the native-protocol connection (see
// secret.ClickHouseTLS).
type TLSConfig = secret.ClickHouseTLS
