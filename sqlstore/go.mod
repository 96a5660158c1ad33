module github.com/keygate/keygate/sqlstore

go 1.25.0

require github.com/keygate/keygate v0.0.0-00010101000000-000000000000

require github.com/dunglas/httpsfv v1.1.2 // indirect

// Built from this repository's library, never from a published copy.
replace github.com/keygate/keygate => ..
