module github.com/c981/c981/schemas

go 1.26.0
