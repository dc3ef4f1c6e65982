//go:build browser

// Command browsertest drives a headless chromium against a running
// `deliverdoctor serve` (scripts/interop.d/90-serve-browser.sh starts both):
// it checks a domain through the form the way a person would, waits for the
// streamed results, asserts what is on the screen and saves screenshots;
// then it opens the check of a hostile zone (TXT records carrying markup)
// and asserts that nothing ran and the text is visible.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

func main() {
	base := flag.String("base", "http://127.0.0.1:18090", "serve's base URL")
	out := flag.String("out", ".interop", "directory for screenshots")
	exe := flag.String("chromium", "chromium", "browser executable")
	flag.Parse()
	failed := 0
	for _, t := range []struct {
		name string
		run  func(ctx context.Context, base, out string) error
	}{
		{"check a domain through the form", checkDomain},
		{"hostile zone shows as text, runs nothing", hostile},
		{"explain a pasted reply", explain},
	} {
		start := time.Now()
		err := withBrowser(*exe, func(ctx context.Context) error { return t.run(ctx, *base, *out) })
		if err != nil {
			fmt.Printf("FAIL: %s: %v\n", t.name, err)
			failed++
			continue
		}
		fmt.Printf("ok: %s (%d ms)\n", t.name, time.Since(start).Milliseconds())
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func withBrowser(exe string, fn func(ctx context.Context) error) error {
	dir, err := os.MkdirTemp("", "dd-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(412, 915), // a phone
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	return fn(ctx)
}

func screenshot(ctx context.Context, path string) error {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return err
	}
	fmt.Printf("   screenshot %s (%d bytes)\n", path, len(png))
	return nil
}

func contains(text string, wants ...string) error {
	for _, w := range wants {
		if !strings.Contains(text, w) {
			return fmt.Errorf("the page does not show %q; it shows:\n%s", w, text)
		}
	}
	return nil
}

func checkDomain(ctx context.Context, base, out string) error {
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#target"),
		chromedp.SendKeys("#target", "example.com"),
		chromedp.Submit("#target"),
		chromedp.WaitVisible("#result-title"),
	)
	if err != nil {
		return err
	}
	url, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return err
	}
	progress, err := chromedp.Run(ctx, chromedp.Text("#progress"))
	if err != nil {
		return err
	}
	text, err := chromedp.Run(ctx, chromedp.Text("main"))
	if err != nil {
		return err
	}
	if !strings.HasSuffix(url, "/check/example.com") {
		return fmt.Errorf("the form led to %s, not the permalink", url)
	}
	if progress != "Done." {
		return fmt.Errorf("progress says %q: our script did not run under the CSP", progress)
	}
	if err := contains(text, "Check of example.com", "Result:", "spf", "dmarc", "p=reject", "Findings", "DNS questions"); err != nil {
		return err
	}
	return screenshot(ctx, filepath.Join(out, "serve-check.png"))
}

func hostile(ctx context.Context, base, out string) error {
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/check/hostile.example"),
		chromedp.WaitVisible("#result-title"),
	)
	if err != nil {
		return err
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		return err
	}
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script").length`))
	if err != nil {
		return err
	}
	imgs, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("img").length`))
	if err != nil {
		return err
	}
	text, err := chromedp.Run(ctx, chromedp.Text("main"))
	if err != nil {
		return err
	}
	if strings.Contains(title, "PWNED") {
		return fmt.Errorf("a script from the zone ran: title %q", title)
	}
	if scripts != 1 || imgs != 0 {
		return fmt.Errorf("the zone added elements: %d scripts (want our 1), %d images", scripts, imgs)
	}
	if err := contains(text, "<script>document.title='PWNED'</script>"); err != nil {
		return err
	}
	return screenshot(ctx, filepath.Join(out, "serve-hostile.png"))
}

func explain(ctx context.Context, base, out string) error {
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/explain"),
		chromedp.WaitVisible("#input"),
		chromedp.SendKeys("#input", "550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy"),
		chromedp.Submit("#input"),
		chromedp.WaitVisible("#ex-title"),
	)
	if err != nil {
		return err
	}
	text, err := chromedp.Run(ctx, chromedp.Text("main"))
	if err != nil {
		return err
	}
	if err := contains(text, "5.7.26", "Meaning", "What to do"); err != nil {
		return err
	}
	return screenshot(ctx, filepath.Join(out, "serve-explain.png"))
}
