package main

import "regexp"

// enhancedCode is RFC 3463's status-code syntax: class.subject.detail.
var enhancedCode = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)
