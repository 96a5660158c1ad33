// Command benchtable reads the output of `go test -bench` run with
// -count N and prints, as a Markdown table, each path's contestants with
// their median time and allocations per operation and two ratios: the
// contestant's time over keygate's, and keygate's over the floor's.
//
// A benchmark named BenchmarkPath/contestant is contestant on path; the
// contestants named "keygate" and "floor" are the references of their
// path.
//
//	go test -run '^$' -bench . -count 5 | go run ./benchtable
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	paths, err := parse(os.Stdin)
	if err == nil {
		err = write(os.Stdout, paths)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// A result is the runs of one contestant on one path.
type result struct {
	contestant string
	ns, allocs []float64
}

// A path is the results of one benchmark, its contestants in the order
// they first appear.
type path struct {
	name    string
	results []*result
}

// parse reads benchmark lines ("BenchmarkPath/contestant-8 N T ns/op
// ... A allocs/op") and ignores any other line.
func parse(r io.Reader) ([]*path, error) {
	var paths []*path
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		pathName, contestant, ok := strings.Cut(strings.TrimPrefix(name, "Benchmark"), "/")
		if !ok {
			continue
		}
		ns, allocs := -1.0, -1.0
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", sc.Text(), err)
			}
			switch f[i+1] {
			case "ns/op":
				ns = v
			case "allocs/op":
				allocs = v
			}
		}
		if ns < 0 {
			return nil, fmt.Errorf("%q: no ns/op", sc.Text())
		}
		i := slices.IndexFunc(paths, func(p *path) bool { return p.name == pathName })
		if i < 0 {
			paths = append(paths, &path{name: pathName})
			i = len(paths) - 1
		}
		p := paths[i]
		j := slices.IndexFunc(p.results, func(r *result) bool { return r.contestant == contestant })
		if j < 0 {
			p.results = append(p.results, &result{contestant: contestant})
			j = len(p.results) - 1
		}
		p.results[j].ns = append(p.results[j].ns, ns)
		if allocs >= 0 {
			p.results[j].allocs = append(p.results[j].allocs, allocs)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errors.New("no benchmark result of the form BenchmarkPath/contestant")
	}
	return paths, nil
}

// median returns the median of vs, or -1 when there is none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return -1
	}
	s := slices.Sorted(slices.Values(vs))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// duration formats ns nanoseconds for people.
func duration(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

// write prints the table of paths.
func write(w io.Writer, paths []*path) error {
	var b strings.Builder
	b.WriteString("| path | contestant | runs | median time/op | allocs/op | contestant / keygate | keygate / floor |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, p := range paths {
		find := func(name string) float64 {
			if i := slices.IndexFunc(p.results, func(r *result) bool { return r.contestant == name }); i >= 0 {
				return median(p.results[i].ns)
			}
			return -1
		}
		kg, floor := find("keygate"), find("floor")
		for _, r := range p.results {
			ns := median(r.ns)
			allocs := "?"
			if a := median(r.allocs); a >= 0 {
				allocs = strconv.FormatFloat(a, 'f', -1, 64)
			}
			ratio, overFloor := "", ""
			if kg > 0 && r.contestant != "keygate" {
				ratio = fmt.Sprintf("%.2f×", ns/kg)
			}
			if r.contestant == "keygate" && floor > 0 {
				overFloor = fmt.Sprintf("%.2f×", kg/floor)
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s |\n", p.name, r.contestant, len(r.ns), duration(ns), allocs, ratio, overFloor)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
