package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/httpsig"
)

// result is what one load run measured.
type result struct {
	Requests int           // answered 200
	Errors   int           // failed or answered otherwise
	Duration time.Duration // from the first request sent to the last answer
	P50, P99 time.Duration // latencies of the answered requests
}

// String formats r as the RESULT line scripts/load.sh reads.
func (r result) String() string {
	return fmt.Sprintf("RESULT requests=%d errors=%d duration_us=%d latency_p50_us=%d latency_p99_us=%d",
		r.Requests, r.Errors, r.Duration.Microseconds(), r.P50.Microseconds(), r.P99.Microseconds())
}

// presign returns n requests to url, each signed by signer with its own
// nonce when signer is not nil.
func presign(url string, n int, signer *httpsig.Signer) ([]http.Header, error) {
	headers := make([]http.Header, n)
	for i := range headers {
		r, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		if signer != nil {
			if err := signer.Sign(r, nil); err != nil {
				return nil, err
			}
		}
		headers[i] = r.Header
	}
	return headers, nil
}

// run sends the requests of headers to url from conns connections until
// all are sent or d has passed.
func run(ctx context.Context, url string, headers []http.Header, conns int, d time.Duration) (result, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var next atomic.Int64
	lat := make([][]time.Duration, conns)
	errs := make([]int, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(headers) {
					return
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					errs[c]++
					continue
				}
				req.Header = headers[i]
				t := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs[c]++
					}
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					errs[c]++
					continue
				}
				lat[c] = append(lat[c], time.Since(t))
			}
		})
	}
	wg.Wait()
	res := result{Duration: time.Since(start)}
	all := slices.Concat(lat...)
	for _, e := range errs {
		res.Errors += e
	}
	res.Requests = len(all)
	if len(all) == 0 {
		return res, errors.New("no request was answered 200")
	}
	slices.Sort(all)
	res.P50 = all[len(all)*50/100]
	res.P99 = all[min(len(all)*99/100, len(all)-1)]
	return res, nil
}

func signMain(args []string) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	url := fs.String("url", "", "the server's base URL, http://127.0.0.1:PORT (required)")
	credsPath := fs.String("creds", "", "the credentials file serve wrote (required without -bare; with -bare, the requests carry the same signature fields, unchecked)")
	n := fs.Int("n", 50000, "the most requests to send (all pre-signed)")
	d := fs.Duration("d", 5*time.Second, "the longest the run lasts")
	conns := fs.Int("c", 16, "connections")
	bare := fs.Bool("bare", false, "send the requests to /bare instead (unsigned without -creds)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *n <= 0 || *conns <= 0 || *d <= 0 {
		return errors.New("sign: -url is required; -n, -c and -d must be positive")
	}
	if !*bare && *credsPath == "" {
		return errors.New("sign: -creds is required without -bare")
	}
	var signer *httpsig.Signer
	if *credsPath != "" {
		data, err := os.ReadFile(*credsPath)
		if err != nil {
			return err
		}
		var c creds
		if err := json.Unmarshal(data, &c); err != nil {
			return fmt.Errorf("%s: %w", *credsPath, err)
		}
		signer = &httpsig.Signer{KeyID: c.HMACKeyID, Secret: c.HMACSecret}
	}
	// With -bare and -creds, the unprotected route gets requests of the
	// same size and fields as the protected one (signed for /bare), so
	// that the ratio of the two compares keygate's work only.
	target := *url + "/protected"
	if *bare {
		target = *url + "/bare"
	}
	headers, err := presign(target, *n, signer)
	if err != nil {
		return err
	}
	res, err := run(context.Background(), target, headers, *conns, *d)
	fmt.Println(res)
	return err
}
