//go:build tools

// Package deps pins the modules DESIGN.md chooses, so that go.mod holds them
// before the packages that use them land. It is never built.
package deps

import (
	_ "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/mail"
	_ "github.com/emersion/go-msgauth/authres"
	_ "github.com/emersion/go-msgauth/dkim"
	_ "github.com/emersion/go-msgauth/dmarc"
	_ "github.com/emersion/go-sasl"
	_ "github.com/emersion/go-smtp"
	_ "github.com/schollz/progressbar/v3"
	_ "golang.org/x/sync/errgroup"
	_ "gopkg.in/yaml.v3"
)
