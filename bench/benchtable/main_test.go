package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/keygate/keygate/bench
BenchmarkAPIKey/keygate-2         	  800000	      1400 ns/op	     512 B/op	       5 allocs/op
BenchmarkAPIKey/floor-2           	 4000000	       300 ns/op	      64 B/op	       2 allocs/op
BenchmarkAPIKey/keygate-2         	  800000	      1200 ns/op	     512 B/op	       5 allocs/op
BenchmarkAPIKey/floor-2           	 4000000	       260 ns/op	      64 B/op	       2 allocs/op
BenchmarkAPIKey/keygate-2         	  800000	      1300 ns/op	     512 B/op	       5 allocs/op
BenchmarkAPIKey/floor-2           	 4000000	       280 ns/op	      64 B/op	       2 allocs/op
BenchmarkRS256/keygate            	   30000	     35000 ns/op
BenchmarkRS256/jwx                	   20000	     70000 ns/op
PASS
ok  	github.com/keygate/keygate/bench	12.3s
`

func TestTable(t *testing.T) {
	paths, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := write(&b, paths); err != nil {
		t.Fatal(err)
	}
	want := `| path | contestant | runs | median time/op | allocs/op | contestant / keygate | keygate / floor |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
| APIKey | keygate | 3 | 1.30 µs | 5 |  | 4.64× |
| APIKey | floor | 3 | 280 ns | 2 | 0.22× |  |
| RS256 | keygate | 1 | 35.00 µs | ? |  |  |
| RS256 | jwx | 1 | 70.00 µs | ? | 2.00× |  |
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, -1}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, in := range []string{"", "PASS\n", "BenchmarkAPIKey/keygate-2 10 abc ns/op\n", "BenchmarkAPIKey/keygate-2 10 5 B/op\n"} {
		if _, err := parse(strings.NewReader(in)); err == nil {
			t.Errorf("parse(%q): no error", in)
		}
	}
}
