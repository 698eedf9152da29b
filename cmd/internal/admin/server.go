package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hapair/hapair/internal/ctl"
)

// ErrRemote is returned by Listen for a non-loopback address without
// Config.AllowRemote: the listener has no authentication.
var ErrRemote = errors.New("not a loopback address: the admin listener has no authentication; set admin.allow_remote = true to serve it beyond this host")

// Config assembles a Server.
type Config struct {
	// Listen is the address to bind, like 127.0.0.1:9694 (config's
	// admin.listen); a non-loopback one needs AllowRemote.
	Listen      netip.AddrPort
	AllowRemote bool
	Source      Source // required
	Logger      *slog.Logger
	// Refresh is how often the status page reloads itself (default 5s).
	Refresh time.Duration
	// Sample is how often takeover timelines are read for the histograms
	// (default 200ms).
	Sample time.Duration
}

// Server is a running admin listener.
type Server struct {
	cfg       Config
	takeovers *takeovers
	reg       *prometheus.Registry
	ln        net.Listener
	http      *http.Server
	stop      context.CancelFunc
	wg        sync.WaitGroup
}

// New builds a Server without listening: its Handler is usable in tests.
func New(cfg Config) (*Server, error) {
	if cfg.Source == nil {
		return nil, errors.New("admin: a Source is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 5 * time.Second
	}
	if cfg.Sample <= 0 {
		cfg.Sample = 200 * time.Millisecond
	}
	s := &Server{cfg: cfg, takeovers: newTakeovers(), reg: prometheus.NewRegistry()}
	s.reg.MustRegister(&collector{src: cfg.Source, takeovers: s.takeovers},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s, nil
}

// Handler serves /metrics, /api/v1/status, /api/v1/services and /. Every
// method but GET and HEAD is refused: nothing here changes the node.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorLog: slogErrorLog{s.cfg.Logger}}))
	mux.HandleFunc("GET /api/v1/status", s.serveStatus)
	mux.HandleFunc("GET /api/v1/services", s.serveServices)
	mux.HandleFunc("GET /{$}", s.servePage)
	return readOnly(mux)
}

// readOnly answers 405 to anything but GET and HEAD, before routing.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the admin listener is read-only", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Println(v ...any) { l.log.Warn("admin: metrics", "err", fmt.Sprint(v...)) }

// status is the Source's status, stamped with the schema version, after
// feeding its timelines to the histograms.
func (s *Server) status() ctl.Status {
	st := s.cfg.Source.Status()
	st.Version = ctl.SchemaVersion
	s.takeovers.observe(st)
	return st
}

// services is the document of `hactl services -o json`.
func (s *Server) services() (ctl.Services, error) {
	doc := ctl.Services{Version: ctl.SchemaVersion, Services: json.RawMessage("[]")}
	if snap := s.cfg.Source.Services(); snap != nil && snap.Services != nil {
		raw, err := json.Marshal(snap.Services)
		if err != nil {
			return doc, err
		}
		doc.Services = raw
	}
	return doc, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) serveStatus(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.status()) }

func (s *Server) serveServices(w http.ResponseWriter, _ *http.Request) {
	doc, err := s.services()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, doc)
}

// Listen checks cfg, binds cfg.Listen and serves until Close.
func Listen(cfg Config) (*Server, error) {
	if !cfg.Listen.Addr().IsLoopback() && !cfg.AllowRemote {
		return nil, fmt.Errorf("admin: listen %s: %w", cfg.Listen, ErrRemote)
	}
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if s.ln, err = net.Listen("tcp", cfg.Listen.String()); err != nil {
		return nil, fmt.Errorf("admin: listening on %s: %w", cfg.Listen, err)
	}
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("admin listener stopped", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		s.sample(ctx)
	}()
	return s, nil
}

// sample reads the takeover timelines every cfg.Sample, so the histograms
// count takeovers that happen between scrapes.
func (s *Server) sample(ctx context.Context) {
	t := time.NewTicker(s.cfg.Sample)
	defer t.Stop()
	for {
		s.takeovers.observe(s.cfg.Source.Status())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the listener and waits for its goroutines; requests in
// flight get a second to finish.
func (s *Server) Close() error {
	if s.http == nil {
		return nil
	}
	s.stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.http.Close()
	}
	s.wg.Wait()
	return err
}
