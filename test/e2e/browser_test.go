package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
)

// chromium returns Debian's chromium, installing it with apt-get when
// missing (as root); without it and without a way to install it, the test
// is skipped, or fails under HAPAIR_E2E=1.
func chromium(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("chromium"); err == nil {
		return path
	}
	missing := func(why string) {
		if os.Getenv("HAPAIR_E2E") == "1" {
			t.Fatalf("chromium is missing and %s (HAPAIR_E2E=1 makes this a failure)", why)
		}
		t.Skipf("chromium is missing and %s", why)
	}
	if os.Geteuid() != 0 {
		missing("installing it needs root")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		missing("there is no apt-get to install it")
	}
	t.Log("installing chromium with apt-get")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// The project's installer (the Makefile's too): it keeps package
	// services from starting in the host's namespace.
	cmd := exec.CommandContext(ctx, "bash", "../apt-install.sh", "chromium")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("test/apt-install.sh chromium: %v\n%s", err, out)
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("apt-get installed chromium, but it is not on PATH: %v", err)
	}
	return path
}

// artifactDir is where tests leave files for people: $HAPAIR_ARTIFACTS,
// or artifacts/ at the module root (make e2e lists it).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HAPAIR_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pageView is what the test reads off the status page.
type pageView struct {
	node, owner, state, vip string
	health                  map[string]string // real -> health cell
}

func readPage(ctx context.Context, url string) (pageView, error) {
	v := pageView{health: map[string]string{}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	group := `tr.group[data-group="web"]`
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(group))); err != nil {
		return v, err
	}
	for _, f := range []struct {
		sel string
		to  *string
	}{
		{`#node`, &v.node},
		{group + ` td.owner`, &v.owner},
		{group + ` td.state`, &v.state},
		{group + ` code.vip`, &v.vip},
	} {
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(f.sel)))
		if err != nil {
			return v, fmt.Errorf("%s: %w", f.sel, err)
		}
		*f.to = strings.TrimSpace(text)
	}
	for _, r := range []string{"198.18.0.21:9000", "198.18.0.22:9000"} {
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr.real[data-real="`+r+`"] td.health`)))
		if err != nil {
			return v, fmt.Errorf("real %s: %w", r, err)
		}
		v.health[r] = strings.Join(strings.Fields(text), " ")
	}
	return v, nil
}

// Issue 12: a real browser (Debian's chromium, headless, driven by
// chromedp) loads the status page from the VIP the way an operator would,
// finds the VIP, the owner and both reals with their health, and sees the
// owner change after a crash failover. The browser runs in the test's
// namespace and reaches the lab only through a relay the test makes from a
// loopback port to the VIP's admin port, dialed from the client's
// namespace. A phone-sized screenshot is saved as an artifact.
func TestAdminStatusPageInBrowser(t *testing.T) {
	exe := chromium(t)
	p := runningPair(t, pairOptions{Admin: true})
	p.waitServed(10 * time.Second)
	relay, dropConns := forward(t, p.lab.Client().Netns, fmt.Sprintf("%s:%d", vip, scenario.AdminPort))
	url := "http://" + relay + "/"

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // root in a test: chromium's sandbox refuses root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		// No name resolution at all: the only address the browser uses is
		// the relay's loopback literal.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
	}
	// The exec allocator talks to chromium over a pipe: no debugging port
	// is opened anywhere.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first call starts the browser, which lives as long as ctx: no
	// timeout on it; each page read below has its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	// A phone's viewport (a window cannot be narrower than 500 px).
	vctx, cancelVP := context.WithTimeout(ctx, 10*time.Second)
	err := chromedp.Do(vctx, chromedp.EmulateViewport(412, 915))
	cancelVP()
	if err != nil {
		t.Fatalf("emulating a phone's viewport: %v", err)
	}

	var v pageView
	lab.Eventually(t, 15*time.Second, "the page shows lb1 owning web with both reals up", func() error {
		var err error
		if v, err = readPage(ctx, url); err != nil {
			return err
		}
		if v.node != "lb1" || v.owner != "lb1" || v.state != "master" || v.vip != "198.18.0.100/24" {
			return fmt.Errorf("page: %+v", v)
		}
		for r, h := range v.health {
			if !strings.HasPrefix(h, "up") {
				return fmt.Errorf("real %s health %q", r, h)
			}
		}
		return nil
	})
	t.Logf("before the crash the page (served by %s) says: owner %s, state %s, VIP %s, reals %v", v.node, v.owner, v.state, v.vip, v.health)

	p.crashOwner("lb1")
	p.waitHolds("lb2", 5*time.Second)
	dropConns() // the browser's kept-alive connection went to lb1
	lab.Eventually(t, 30*time.Second, "the page shows lb2 owning web after the failover", func() error {
		var err error
		if v, err = readPage(ctx, url); err != nil {
			return err
		}
		if v.node != "lb2" || v.owner != "lb2" || v.state != "master" {
			return fmt.Errorf("page: %+v", v)
		}
		return nil
	})
	t.Logf("after the crash the page (served by %s) says: owner %s, state %s, VIP %s, reals %v", v.node, v.owner, v.state, v.vip, v.health)

	// Readable on a phone: nothing is wider than the screen, so the page
	// never scrolls sideways (wide tables scroll inside their own box).
	wctx, cancelW := context.WithTimeout(ctx, 10*time.Second)
	widths, err := chromedp.Run(wctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
	cancelW()
	if err != nil {
		t.Fatalf("reading the page width: %v", err)
	}
	if len(widths) != 2 || widths[0] > widths[1] {
		t.Errorf("page width %v: scrolls sideways on a 412 px wide screen", widths)
	}

	sctx, cancelShot := context.WithTimeout(ctx, 20*time.Second)
	defer cancelShot()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artifactDir(t), "status-page-after-failover.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the status page after the failover: %s", path)
}
