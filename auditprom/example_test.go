package auditprom_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/auditprom"
	"github.com/keygate/keygate/middleware"
)

// ExampleNew wires the metrics into the middleware and serves them on
// /metrics, next to an audit writer whose counters are exposed too.
func ExampleNew() {
	ctx := context.Background()
	keys, err := apikey.NewManager(apikey.Config{Store: apikey.NewMemoryStore()})
	if err != nil {
		log.Fatal(err)
	}
	key, _, err := keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
	if err != nil {
		log.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	metrics, err := auditprom.New(auditprom.Config{Registerer: reg})
	if err != nil {
		log.Fatal(err)
	}
	events := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{audit.NewMemorySink(1000)}})
	defer events.Close(ctx)
	if err := metrics.WatchWriter(events); err != nil {
		log.Fatal(err)
	}
	auth, err := middleware.New(middleware.Config{
		APIKeys: keys,
		Audit:   middleware.AuditConfig{Writer: events, Metrics: metrics},
	})
	if err != nil {
		log.Fatal(err)
	}

	api := http.NewServeMux()
	auth.Mount(api, []middleware.Route{{
		Pattern: "GET /v1/orders",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "[]") }),
	}})
	root := http.NewServeMux()
	root.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})) // outside Audit: scrapes are not counted
	root.Handle("/", auth.Audit(api))
	srv := httptest.NewServer(root)
	defer srv.Close()

	for _, bearer := range []string{key.Reveal(), "not-a-key", key.Reveal()} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/orders", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
	}

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "keygate_requests_total") ||
			strings.HasPrefix(line, "keygate_request_duration_seconds_count") {
			fmt.Println(line)
		}
	}
	// Output:
	// keygate_request_duration_seconds_count{auth_method="api_key",decision="allow"} 2
	// keygate_request_duration_seconds_count{auth_method="none",decision="deny"} 1
	// keygate_requests_total{auth_method="api_key",decision="allow",reason="ok"} 2
	// keygate_requests_total{auth_method="none",decision="deny",reason="invalid_token"} 1
}
