package console

import "github.com/c981/c981/services/shared/secret"

// ClickHouseTLSConfig configures TLS to ClickHouse (see secret.ClickHouseTLS).
type ClickHouseTLSConfig = secret.ClickHouseTLS
