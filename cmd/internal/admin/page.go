package admin

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/internal/version"
	"github.com/hapair/hapair/proxy"
)

//go:embed page.html.tmpl
var pageText string

// pageTmpl is the status page. html/template escapes every value (reasons
// and names come from config and peers); the page links to nothing outside
// itself: its style is inline and it has no script.
var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"ago":   ago,
	"ms":    ms,
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05.000") },
}).Parse(pageText))

// pageData is what the template renders.
type pageData struct {
	Status   ctl.Status
	Services []proxy.ServiceStatus
	Now      time.Time
	Refresh  int // seconds
	Version  string
}

func (s *Server) servePage(w http.ResponseWriter, _ *http.Request) {
	d := pageData{Status: s.status(), Now: time.Now(), Refresh: int(s.cfg.Refresh / time.Second), Version: version.String("had")}
	if snap := s.cfg.Source.Services(); snap != nil {
		d.Services = snap.Services
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		s.cfg.Logger.Error("admin: rendering the status page failed", "err", err)
		http.Error(w, "rendering the status page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// The page loads nothing from anywhere, not even from this listener.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Write(buf.Bytes())
}

// ago renders how long before now t was, "never" for the zero time.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Second:
		return fmt.Sprintf("%dms ago", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs ago", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds ago", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// ms renders b-a in milliseconds, "-" when either is unknown.
func ms(a, b time.Time) string {
	if a.IsZero() || b.IsZero() {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", float64(b.Sub(a).Microseconds())/1000)
}
