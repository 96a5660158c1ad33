package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// certPollInterval is how often serve looks whether the certificate or
// key file changed, to reload them.
const certPollInterval = 5 * time.Second

// hstsValue is the Strict-Transport-Security header of TLS responses: a
// year.
const hstsValue = "max-age=31536000"

// certReloader serves a certificate and key pair from files, and loads
// them again when they change or on SIGHUP, without dropping a
// connection: a handshake takes the pair current at that moment.
type certReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
	// stamp is the files' modification times and sizes when last loaded.
	stamp atomic.Value // string
}

// newCertReloader loads the pair of files.
func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// reload loads the files again. A pair that does not load leaves the
// current certificate in place.
func (r *certReloader) reload() error {
	stamp := r.fileStamp()
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	r.cert.Store(&cert)
	r.stamp.Store(stamp)
	return nil
}

// fileStamp returns the files' modification times and sizes.
func (r *certReloader) fileStamp() string {
	s := ""
	for _, name := range []string{r.certFile, r.keyFile} {
		if fi, err := os.Stat(name); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return s
}

// changed reports whether the files changed since they were last loaded.
func (r *certReloader) changed() bool {
	old, _ := r.stamp.Load().(string)
	return r.fileStamp() != old
}

// getCertificate is tls.Config.GetCertificate.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// watch reloads the files on every value from hup and on every tick when
// they changed, until ctx is done. Each attempt is reported to done when
// it is not nil; a failed one also on stderr.
func (r *certReloader) watch(ctx context.Context, hup <-chan os.Signal, tick <-chan time.Time, stderr io.Writer, done chan<- error) {
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-hup:
			err = r.reload()
		case <-tick:
			if !r.changed() {
				continue
			}
			err = r.reload()
		}
		if err != nil {
			fmt.Fprintf(stderr, "keygate: reloading the certificate failed, the previous one stays: %v\n", err)
		} else {
			fmt.Fprintln(stderr, "keygate: reloaded the certificate")
		}
		if done != nil {
			done <- err
		}
	}
}

// startCertWatch reloads r on SIGHUP and when its files change, until
// ctx is done.
func startCertWatch(ctx context.Context, r *certReloader, stderr io.Writer) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	tick := time.NewTicker(certPollInterval)
	go func() {
		defer signal.Stop(hup)
		defer tick.Stop()
		r.watch(ctx, hup, tick.C, stderr, nil)
	}()
}

// useTLS makes srv answer TLS with the certificate of certs, reloaded on
// SIGHUP and when its files change until ctx is done, and add HSTS. It
// returns what serves srv on a listener: TLS only, or with plainToo TLS
// and plain HTTP on the same listener (mixedListener), so that with
// https_only a credential sent over plain HTTP gets keygate's refusal.
// A plain connection's first byte is awaited for at most
// srv.ReadHeaderTimeout.
func useTLS(ctx context.Context, srv *http.Server, certs *certReloader, plainToo bool, stderr io.Writer) func(net.Listener) error {
	startCertWatch(ctx, certs, stderr)
	srv.Handler = hsts(srv.Handler)
	srv.TLSConfig = serverTLSConfig(certs)
	if plainToo {
		// Serve sets HTTP/2 up, since TLSConfig offers h2, before
		// its first Accept.
		return func(ln net.Listener) error {
			return srv.Serve(newMixedListener(ln, srv.TLSConfig, srv.ReadHeaderTimeout))
		}
	}
	return func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
}

// serverTLSConfig returns the TLS settings of serve: TLS 1.2 or newer,
// HTTP/2 and HTTP/1.1, the certificate from r.
func serverTLSConfig(r *certReloader) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: r.getCertificate,
	}
}

// hsts adds the Strict-Transport-Security header to the responses to
// requests that came over TLS.
func hsts(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", hstsValue)
		}
		h.ServeHTTP(w, r)
	})
}
