package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 and
// localhost, whose common name is cn, and its key to dir/server.crt and
// dir/server.key (replacing them), and returns the two paths.
func writeTestCert(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}

// trustFile returns a pool that trusts the certificate in file.
func trustFile(t *testing.T, pool *x509.CertPool, file string) *x509.CertPool {
	t.Helper()
	pemBytes, err := os.ReadFile(file)
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(pemBytes))
	return pool
}

// h2Client returns a client that trusts pool and negotiates HTTP/2.
func h2Client(pool *x509.CertPool) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
}

// TestServeTLS starts serve from a configuration file with tls: it
// answers over HTTP/2 with TLS 1.2 or newer and HSTS, and after SIGHUP
// hands new connections the certificate now in the files, while a
// connection made before keeps working.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeTestCert(t, dir, "first")
	pool := trustFile(t, x509.NewCertPool(), certFile)
	file := filepath.Join(dir, "keygate.yaml")
	require.NoError(t, os.WriteFile(file, []byte("listen: 127.0.0.1:0\ndb: memory\ntls:\n  cert: "+certFile+"\n  key: "+keyFile+"\n"), 0o600))
	cfg, err := parseServe([]string{"--config", file}, noEnv, io.Discard)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	stderrR, stderrW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, cfg, stdoutW, stderrW)
		stdoutW.Close()
		stderrW.Close()
	}()
	stderrLines := make(chan string, 100)
	go func() {
		defer close(stderrLines)
		sc := bufio.NewScanner(stderrR)
		for sc.Scan() {
			stderrLines <- sc.Text()
		}
	}()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	sc := bufio.NewScanner(stdoutR)
	require.True(t, sc.Scan())
	addr, ok := strings.CutPrefix(sc.Text(), "listening on https://")
	require.True(t, ok, "stdout: %q", sc.Text())
	go io.Copy(io.Discard, stdoutR)
	url := "https://" + addr + "/healthz"

	first := h2Client(pool)
	defer first.CloseIdleConnections()
	resp, err := first.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 2, resp.ProtoMajor, "HTTP/2 negotiated")
	assert.GreaterOrEqual(t, resp.TLS.Version, uint16(tls.VersionTLS12))
	assert.Equal(t, "first", resp.TLS.PeerCertificates[0].Subject.CommonName)
	assert.Equal(t, hstsValue, resp.Header.Get("Strict-Transport-Security"))

	// The server refuses TLS 1.1, which the client offers here on purpose.
	_, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	require.Error(t, err)

	writeTestCert(t, dir, "second")
	trustFile(t, pool, certFile)
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	for line := range stderrLines {
		if strings.Contains(line, "reloaded the certificate") {
			break
		}
		require.NotContains(t, line, "failed")
	}
	go func() {
		for range stderrLines {
		}
	}()

	second := h2Client(pool)
	defer second.CloseIdleConnections()
	resp, err = second.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "second", resp.TLS.PeerCertificates[0].Subject.CommonName, "a new connection gets the reloaded certificate")

	resp, err = first.Get(url)
	require.NoError(t, err, "the connection made before the reload is not dropped")
	resp.Body.Close()
	assert.Equal(t, "first", resp.TLS.PeerCertificates[0].Subject.CommonName)
}

// TestCertReloaderFileChange: the watcher reloads the pair when the files
// change, and keeps the current one when they no longer load.
func TestCertReloaderFileChange(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeTestCert(t, dir, "first")
	r, err := newCertReloader(certFile, keyFile)
	require.NoError(t, err)
	commonName := func() string {
		c, err := r.getCertificate(nil)
		require.NoError(t, err)
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		require.NoError(t, err)
		return leaf.Subject.CommonName
	}
	require.Equal(t, "first", commonName())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tick := make(chan time.Time)
	reloaded := make(chan error)
	go r.watch(ctx, nil, tick, io.Discard, reloaded)

	writeTestCert(t, dir, "second")
	// The files' size may not change; their modification time does
	// unless the clock is coarse, so make sure it does.
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(certFile, later, later))
	tick <- time.Now()
	require.NoError(t, <-reloaded)
	assert.Equal(t, "second", commonName())

	require.NoError(t, os.WriteFile(certFile, []byte("broken"), 0o600))
	tick <- time.Now()
	require.Error(t, <-reloaded)
	assert.Equal(t, "second", commonName(), "a pair that does not load leaves the current one")
}
