module github.com/c981/c981/services/c981

go 1.26.0

require github.com/c981/c981/services/shared v0.0.0

replace github.com/c981/c981/services/shared => ../shared
