package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/ipbind"
	"github.com/keygate/keygate/ratelimit"
)

// errConfig reports a configuration file that keygate refuses; the error
// names the file, the line and the key.
var errConfig = errors.New("invalid configuration")

// fileError is an error of a configuration file, "FILE:LINE: KEY:
// problem"; it wraps errConfig.
type fileError struct {
	msg string
	err error // the cause, if any
}

func (e *fileError) Error() string        { return e.msg }
func (e *fileError) Is(target error) bool { return target == errConfig }
func (e *fileError) Unwrap() error        { return e.err }

// configFileError returns a fileError with the message of format and
// args.
func configFileError(format string, args ...any) error {
	return &fileError{msg: fmt.Sprintf(format, args...)}
}

// fileConfig is the YAML configuration file of "keygate serve --config".
// Every serve flag has a key, the flag's name in snake_case (listen for
// --addr, authorities for the repeatable --authority).
type fileConfig struct {
	Listen         *string           `yaml:"listen"`
	DB             *string           `yaml:"db"`
	MasterKeyFile  *string           `yaml:"master_key_file"`
	Redis          *string           `yaml:"redis"`
	RedisPrefix    *string           `yaml:"redis_prefix"`
	CacheTTL       *string           `yaml:"cache_ttl"`
	Issuer         *string           `yaml:"issuer"`
	Audience       *string           `yaml:"audience"`
	AccessTokenTTL *string           `yaml:"access_token_ttl"`
	DemoRateLimit  *string           `yaml:"demo_rate_limit"`
	AuditFile      *string           `yaml:"audit_file"`
	NoAudit        *bool             `yaml:"no_audit"`
	Authorities    []string          `yaml:"authorities"`
	TLSTerminated  *bool             `yaml:"tls_terminated"`
	TLS            *tlsFileConfig    `yaml:"tls"`
	HTTPSOnly      bool              `yaml:"https_only"`
	TrustedProxies []string          `yaml:"trusted_proxies"`
	Packages       []packageConfig   `yaml:"packages"`
	RateLimits     map[string]string `yaml:"rate_limits"`
	Routes         []routeConfig     `yaml:"routes"`
	Demo           bool              `yaml:"demo"`
}

// tlsFileConfig is the file's tls key: the PEM files of the server's
// certificate (chain) and private key.
type tlsFileConfig struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// packageConfig is one of the file's packages, lowest first: its name and
// the permissions it adds to the packages before it.
type packageConfig struct {
	Name        string   `yaml:"name"`
	Permissions []string `yaml:"permissions"`
}

// routeConfig is one of the file's routes: a net/http ServeMux pattern,
// what it requires, and where it is proxied (none: forward-auth only).
type routeConfig struct {
	Match              string `yaml:"match"`
	Permission         string `yaml:"permission"`
	Package            string `yaml:"package"`
	Tier               string `yaml:"tier"` // the same setting as Package, under its first name
	Publishable        bool   `yaml:"publishable"`
	Upstream           string `yaml:"upstream"`
	ForwardCredentials bool   `yaml:"forward_credentials"`
}

// serveRoute is a validated route of the configuration file.
type serveRoute struct {
	pattern            string
	permission         string
	minPackage         string // the minimum package; "" for none
	publishable        bool
	upstream           *url.URL // nil: forward-auth only
	forwardCredentials bool
}

// serveTLS is the certificate and key files serve answers TLS with.
type serveTLS struct {
	certFile, keyFile string
}

// configError is a problem at a key of the configuration file.
type configError struct {
	path string // the key, such as routes[0].permission
	msg  string
}

func (e configError) Error() string { return e.path + ": " + e.msg }

// loadConfigFile reads and validates the configuration file at path into
// base (serve's defaults), with getenv for the ${NAME} references of db
// and redis. Errors wrap errConfig and read "FILE:LINE: KEY: problem".
func loadConfigFile(path string, base serveConfig, getenv func(string) string) (serveConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return serveConfig{}, &fileError{msg: err.Error(), err: err}
	}
	return parseConfig(path, data, base, getenv)
}

// parseConfig is loadConfigFile on the file's contents data; name is the
// file's name in errors.
func parseConfig(name string, data []byte, base serveConfig, getenv func(string) string) (serveConfig, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return serveConfig{}, yamlError(name, &root, err)
	}
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return serveConfig{}, yamlError(name, &root, err)
	}
	cfg, err := fc.apply(base, getenv)
	var ce configError
	if errors.As(err, &ce) {
		return serveConfig{}, configFileError("%s:%d: %s", name, lineOf(&root, ce.path), ce)
	}
	if err != nil {
		return serveConfig{}, configFileError("%s: %v", name, err)
	}
	return cfg, nil
}

// yamlLine matches the line number yaml.v3 puts in its messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlUnknown matches yaml.v3's message for an unknown key.
var yamlUnknown = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// yamlError rewrites a yaml.v3 error as "FILE:LINE: KEY: problem", the
// key found in root at that line.
func yamlError(name string, root *yaml.Node, err error) error {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var out []string
	for _, m := range msgs {
		sub := yamlLine.FindStringSubmatch(m)
		if sub == nil {
			out = append(out, fmt.Sprintf("%s: %s", name, strings.TrimPrefix(m, "yaml: ")))
			continue
		}
		line, _ := strconv.Atoi(sub[1])
		msg := sub[2]
		key := ""
		if u := yamlUnknown.FindStringSubmatch(msg); u != nil {
			key, msg = u[1], "unknown key"
		}
		if path := pathAt(root, line, key); path != "" {
			msg = path + ": " + msg
		}
		out = append(out, fmt.Sprintf("%s:%d: %s", name, line, msg))
	}
	return configFileError("%s", strings.Join(out, "\n"))
}

// pathAt returns the path (such as routes[0].package) of the key on line
// whose name is key, or of any key on that line when key is empty; ""
// when there is none.
func pathAt(n *yaml.Node, line int, key string) string {
	var walk func(n *yaml.Node, path string) string
	walk = func(n *yaml.Node, path string) string {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if p := walk(c, path); p != "" {
					return p
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if p := walk(c, fmt.Sprintf("%s[%d]", path, i)); p != "" {
					return p
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if q := walk(v, p); q != "" {
					return q
				}
				if (k.Line == line || v.Line == line) && (key == "" || k.Value == key) {
					return p
				}
			}
		}
		return ""
	}
	return walk(n, "")
}

// pathPart matches one step of a path: a key, or an index.
var pathPart = regexp.MustCompile(`([^.\[\]]+)|\[(\d+)\]`)

// lineOf returns the line of the value at path (such as
// routes[0].permission) in root, or of the deepest part of it that exists.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, m := range pathPart.FindAllStringSubmatch(path, -1) {
		var next *yaml.Node
		switch {
		case m[2] != "" && n.Kind == yaml.SequenceNode:
			if i, _ := strconv.Atoi(m[2]); i < len(n.Content) {
				next = n.Content[i]
			}
		case m[1] != "" && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == m[1] {
					next = n.Content[i+1]
				}
			}
		}
		if next == nil {
			break
		}
		n, line = next, next.Line
	}
	return line
}

// apply returns base with the file's settings, validated.
func (fc *fileConfig) apply(base serveConfig, getenv func(string) string) (serveConfig, error) {
	cfg := base
	cfg.noDemo = !fc.Demo
	steps := []func(*serveConfig, func(string) string) error{
		fc.applyServer, fc.applyStore, fc.applyTokens, fc.applyAudit,
		fc.applyTLS, fc.applyPackages, fc.applyRateLimits, fc.applyRoutes,
	}
	for _, step := range steps {
		if err := step(&cfg, getenv); err != nil {
			return serveConfig{}, err
		}
	}
	if err := cfg.validate(); err != nil {
		return serveConfig{}, err
	}
	return cfg, nil
}

// applyServer reads listen, authorities, tls_terminated, https_only and
// trusted_proxies.
func (fc *fileConfig) applyServer(cfg *serveConfig, _ func(string) string) error {
	if fc.Listen != nil {
		if _, _, err := net.SplitHostPort(*fc.Listen); err != nil {
			return configError{"listen", "want host:port, such as 127.0.0.1:8443"}
		}
		cfg.addr = *fc.Listen
	}
	for i, a := range fc.Authorities {
		var l authorityList
		if err := l.Set(a); err != nil {
			return configError{fmt.Sprintf("authorities[%d]", i), err.Error()}
		}
		cfg.extraAuthorities = append(cfg.extraAuthorities, l...)
	}
	if fc.TLSTerminated != nil {
		cfg.tlsTerminated = *fc.TLSTerminated
	}
	cfg.httpsOnly = fc.HTTPSOnly
	for i, p := range fc.TrustedProxies {
		if _, err := ipbind.NewResolver(ipbind.Config{TrustedProxies: []string{p}}); err != nil {
			return configError{fmt.Sprintf("trusted_proxies[%d]", i), fmt.Sprintf("%q is not an address or a CIDR prefix without host bits, such as 10.0.0.0/8", p)}
		}
	}
	cfg.trustedProxies = slices.Clone(fc.TrustedProxies)
	return nil
}

// applyStore reads db, master_key_file, redis, redis_prefix and
// cache_ttl. db and redis may name environment variables as ${NAME}, for
// the passwords in them.
func (fc *fileConfig) applyStore(cfg *serveConfig, getenv func(string) string) error {
	if fc.DB != nil {
		db, err := expandEnv("db", *fc.DB, getenv)
		if err != nil {
			return err
		}
		if db == "" {
			return configError{"db", "must not be empty: memory, a SQLite file or a postgres:// URL"}
		}
		if isPostgres(db) {
			if _, err := url.Parse(db); err != nil {
				return configError{"db", "not a valid postgres:// URL"}
			}
		}
		cfg.store.db = db
	}
	if fc.MasterKeyFile != nil {
		cfg.store.masterKeyFile = *fc.MasterKeyFile
	}
	if fc.Redis != nil {
		r, err := expandEnv("redis", *fc.Redis, getenv)
		if err != nil {
			return err
		}
		if u, err := url.Parse(r); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return configError{"redis", "want a redis:// or rediss:// URL with a host"}
		}
		cfg.store.redisURL = r
	}
	if fc.RedisPrefix != nil {
		cfg.store.redisPrefix = *fc.RedisPrefix
	}
	return parseDuration("cache_ttl", fc.CacheTTL, &cfg.store.cacheTTL)
}

// envRef matches a ${NAME} reference to an environment variable.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces the ${NAME} references of the value of key by the
// variables' values; an unset or empty variable is an error, which names
// the variable, never a value.
func expandEnv(key, s string, getenv func(string) string) (string, error) {
	var err error
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		v := getenv(name)
		if v == "" && err == nil {
			err = configError{key, fmt.Sprintf("the environment variable %s is not set", name)}
		}
		return v
	})
	return out, err
}

// parseDuration sets *d from the value of key, when given: a positive
// time.ParseDuration string.
func parseDuration(key string, s *string, d *time.Duration) error {
	if s == nil {
		return nil
	}
	v, err := time.ParseDuration(*s)
	if err != nil || v <= 0 {
		return configError{key, fmt.Sprintf("%q: want a positive duration, such as 15m", *s)}
	}
	*d = v
	return nil
}

// applyTokens reads issuer, audience, access_token_ttl and
// demo_rate_limit.
func (fc *fileConfig) applyTokens(cfg *serveConfig, _ func(string) string) error {
	if fc.Issuer != nil {
		if u, err := url.Parse(*fc.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return configError{"issuer", "want an http:// or https:// URL, such as https://auth.example.com"}
		}
		cfg.issuer = *fc.Issuer
	}
	if fc.Audience != nil {
		if *fc.Audience == "" {
			return configError{"audience", "must not be empty"}
		}
		cfg.audience = *fc.Audience
	}
	if err := parseDuration("access_token_ttl", fc.AccessTokenTTL, &cfg.accessTokenTTL); err != nil {
		return err
	}
	if fc.DemoRateLimit != nil {
		if err := cfg.demoRateLimit.Set(*fc.DemoRateLimit); err != nil {
			return configError{"demo_rate_limit", err.Error()}
		}
	}
	return nil
}

// applyAudit reads audit_file and no_audit.
func (fc *fileConfig) applyAudit(cfg *serveConfig, _ func(string) string) error {
	if fc.AuditFile != nil {
		cfg.auditFile = *fc.AuditFile
	}
	if fc.NoAudit != nil {
		cfg.noAudit = *fc.NoAudit
	}
	if cfg.noAudit && cfg.auditFile != "" {
		return configError{"no_audit", "no_audit and audit_file exclude each other"}
	}
	return nil
}

// applyTLS reads tls, and checks that its files hold a certificate and
// its key.
func (fc *fileConfig) applyTLS(cfg *serveConfig, _ func(string) string) error {
	if fc.TLS == nil {
		return nil
	}
	switch {
	case fc.TLS.Cert == "":
		return configError{"tls.cert", "missing: the PEM file of the certificate"}
	case fc.TLS.Key == "":
		return configError{"tls.key", "missing: the PEM file of the private key"}
	}
	if _, err := tls.LoadX509KeyPair(fc.TLS.Cert, fc.TLS.Key); err != nil {
		return configError{"tls.cert", err.Error()}
	}
	cfg.tls = &serveTLS{certFile: fc.TLS.Cert, keyFile: fc.TLS.Key}
	return nil
}

// applyPackages reads packages: the service's packages, which replace the
// retail demo's. The demo data needs the demo's, so demo: true refuses
// them.
func (fc *fileConfig) applyPackages(cfg *serveConfig, _ func(string) string) error {
	if fc.Packages == nil {
		return nil
	}
	if fc.Demo {
		return configError{"packages", "demo: true needs the retail demo's packages (DISCOVER < ASSIST < GO < GROW < PRIME): leave packages out"}
	}
	list := make([]access.Package, len(fc.Packages))
	for i, p := range fc.Packages {
		at := fmt.Sprintf("packages[%d]", i)
		if _, err := access.NewPackages([]access.Package{{Name: p.Name}}); err != nil {
			return configError{at + ".name", fmt.Sprintf("%q: want 1 to 64 characters of A-Z, a-z, 0-9, '_', '-'", p.Name)}
		}
		for j := range i {
			if fc.Packages[j].Name == p.Name {
				return configError{at + ".name", fmt.Sprintf("%q is defined twice", p.Name)}
			}
		}
		for j, s := range p.Permissions {
			if _, err := access.NewPackages([]access.Package{{Name: "x", Permissions: []string{s}}}); err != nil {
				return configError{fmt.Sprintf("%s.permissions[%d]", at, j), permissionProblem(s, err)}
			}
		}
		list[i] = access.Package{Name: p.Name, Permissions: p.Permissions}
	}
	t, err := access.NewPackages(list)
	if err != nil {
		return configError{"packages", err.Error()}
	}
	cfg.packages = t
	return nil
}

// permissionProblem explains why a package may not grant s.
func permissionProblem(s string, err error) string {
	if _, perr := access.ParsePermission(s); perr != nil {
		return perr.Error()
	}
	if strings.HasPrefix(s, access.AdminModule+":") {
		return fmt.Sprintf("%q: the module %q is reserved for operators, never in a package", s, access.AdminModule)
	}
	return err.Error()
}

// applyRateLimits reads rate_limits: per package, N/period, for live-mode
// credentials.
func (fc *fileConfig) applyRateLimits(cfg *serveConfig, _ func(string) string) error {
	names := make([]string, 0, len(fc.RateLimits))
	for name := range fc.RateLimits {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		at := "rate_limits." + name
		if !cfg.servicePackages().Has(name) {
			return configError{at, fmt.Sprintf("%q is not a package (the packages: %s)", name, strings.Join(cfg.servicePackages().Names(), ", "))}
		}
		p, err := ratelimit.ParsePolicy(fc.RateLimits[name])
		if err != nil {
			return configError{at, err.Error()}
		}
		p.Name = name
		if cfg.rateLimits == nil {
			cfg.rateLimits = make(map[string]ratelimit.Policy)
		}
		cfg.rateLimits[name] = p
	}
	return nil
}

// applyRoutes reads routes: each a valid ServeMux pattern that conflicts
// with no other, a concrete permission, a minimum package among the
// packages (key package, or tier: the same setting, one of the two), and
// an http(s) upstream.
func (fc *fileConfig) applyRoutes(cfg *serveConfig, _ func(string) string) error {
	mux := http.NewServeMux()
	for i, r := range fc.Routes {
		at := fmt.Sprintf("routes[%d]", i)
		if r.Match == "" {
			return configError{at + ".match", "missing: a net/http ServeMux pattern, such as \"GET /orders/{id}\""}
		}
		if err := registerPattern(mux, r.Match); err != nil {
			return configError{at + ".match", err.Error()}
		}
		pkg, pkgKey := r.Package, at+".package"
		if r.Tier != "" {
			if r.Package != "" {
				return configError{at + ".tier", "package and tier are the same setting: give one"}
			}
			pkg, pkgKey = r.Tier, at+".tier"
		}
		route := serveRoute{pattern: r.Match, permission: r.Permission, minPackage: pkg, publishable: r.Publishable, forwardCredentials: r.ForwardCredentials}
		if r.Permission != "" {
			if _, err := access.ParseRequirement(r.Permission, "", nil); err != nil {
				return configError{at + ".permission", err.Error()}
			}
		}
		if pkg != "" && !cfg.servicePackages().Has(pkg) {
			return configError{pkgKey, fmt.Sprintf("%q is not a package (the packages: %s)", pkg, strings.Join(cfg.servicePackages().Names(), ", "))}
		}
		if r.Upstream != "" {
			u, err := url.Parse(r.Upstream)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
				return configError{at + ".upstream", "want an http:// or https:// URL with a host and no user, query or fragment"}
			}
			route.upstream = u
		}
		if r.ForwardCredentials && r.Upstream == "" {
			return configError{at + ".forward_credentials", "only a route with an upstream forwards credentials"}
		}
		cfg.routes = append(cfg.routes, route)
	}
	return nil
}

// registeredAt matches where ServeMux says a pattern was registered: this
// file, which means nothing to the reader of the configuration file.
var registeredAt = regexp.MustCompile(` \(registered at [^)]*\)`)

// registerPattern registers pattern on mux, turning the panic of an
// invalid or conflicting pattern into an error.
func registerPattern(mux *http.ServeMux, pattern string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s", registeredAt.ReplaceAllString(fmt.Sprint(r), ""))
		}
	}()
	mux.Handle(pattern, http.NotFoundHandler())
	return nil
}

// configUsage is the usage of "keygate config".
const configUsage = "usage: keygate config check FILE\n\nchecks serve's configuration file FILE without starting: prints ok, or the first problem (file:line: key: problem) and exits 1\n"

// configCommand runs "keygate config check FILE".
func configCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(stdout, configUsage)
		return nil
	}
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprint(stderr, configUsage)
		return errUsage
	}
	if _, err := loadConfigFile(args[1], defaultServeConfig(), os.Getenv); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
