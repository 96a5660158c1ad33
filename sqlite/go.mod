module github.com/keygate/keygate/sqlite

go 1.25.0

require (
	github.com/keygate/keygate/sqlstore v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
	modernc.org/sqlite v1.59.0
)

require (
	github.com/dunglas/httpsfv v1.1.2 // indirect
	github.com/dustin/go-humanize v1.0.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/keygate/keygate v0.0.0-00010101000000-000000000000 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/ncruces/go-strftime v1.0.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	golang.org/x/sys v0.47.0 // indirect
	modernc.org/libc v1.75.7 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
)

// Built from this repository's library and SQL stores, never from
// published copies.
replace (
	github.com/keygate/keygate => ..
	github.com/keygate/keygate/sqlstore => ../sqlstore
)
