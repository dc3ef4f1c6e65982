package bimi

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxLogoSize is the recommended upper bound for a BIMI SVG (the BIMI
// Group's implementation guide and Gmail: 32 KB).
const MaxLogoSize = 32 * 1024

// SVGInfo describes an indicator file.
type SVGInfo struct {
	Size        int    `json:"size"`
	Gzipped     bool   `json:"gzipped,omitempty"`
	Version     string `json:"version,omitempty"`
	BaseProfile string `json:"base_profile,omitempty"`
	Title       string `json:"title,omitempty"`
	ViewBox     string `json:"view_box,omitempty"`
	Square      bool   `json:"square"`
}

// SVGProblem is one way an indicator departs from SVG Tiny PS.
type SVGProblem struct {
	Code string `json:"code"`
	Text string `json:"text"`
}

// svgNS is the SVG namespace.
const svgNS = "http://www.w3.org/2000/svg"

// forbidden elements in SVG Tiny PS (draft-svg-tiny-ps-abrotman: no
// scripts, no animation, no interactivity, no external or raster content).
var forbidden = map[string]string{
	"script":           "scripts are not allowed",
	"foreignObject":    "foreign content is not allowed",
	"image":            "embedded or linked raster images are not allowed",
	"animate":          "animation is not allowed",
	"animateColor":     "animation is not allowed",
	"animateMotion":    "animation is not allowed",
	"animateTransform": "animation is not allowed",
	"set":              "animation is not allowed",
	"iframe":           "embedded documents are not allowed",
	"video":            "media is not allowed",
	"audio":            "media is not allowed",
	"a":                "links are not allowed",
}

// maxTokens bounds the work on hostile input.
const maxTokens = 200000

// CheckSVG checks an indicator against the shape of SVG Tiny Portable/Secure
// that BIMI requires: an <svg> root with version="1.2" and
// baseProfile="tiny-ps", no x/y on the root, a <title>, a square viewBox,
// no scripts, animation, raster images, event handlers or references to
// other documents, and a size under 32 KB. It decompresses SVGZ. It
// returns what it learnt and the problems found; a document that is not
// XML or not SVG is one problem ("not-svg").
func CheckSVG(data []byte) (*SVGInfo, []SVGProblem) {
	info := &SVGInfo{Size: len(data)}
	var ps []SVGProblem
	add := func(code, format string, a ...any) { ps = append(ps, SVGProblem{code, fmt.Sprintf(format, a...)}) }
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		info.Gzipped = true
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			add("not-svg", "gzip data that does not decompress: %v", err)
			return info, ps
		}
		raw, err := io.ReadAll(io.LimitReader(zr, 4*1024*1024+1))
		if err != nil || len(raw) > 4*1024*1024 {
			add("not-svg", "SVGZ that does not decompress to a reasonable size")
			return info, ps
		}
		data = raw
	}
	if len(data) > MaxLogoSize {
		add("too-large", "%d bytes; keep BIMI SVGs under %d KB (Gmail and the BIMI Group's guidance)", len(data), MaxLogoSize/1024)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	depth := 0
	sawRoot := false
	titleDepth := -1
	var title strings.Builder
	seen := map[string]bool{}
	once := func(code, format string, a ...any) {
		if msg := fmt.Sprintf(format, a...); !seen[msg] {
			seen[msg] = true
			ps = append(ps, SVGProblem{code, msg})
		}
	}
	for n := 0; ; n++ {
		if n > maxTokens {
			add("too-complex", "more than %d XML tokens", maxTokens)
			break
		}
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !sawRoot {
				return info, append(ps, SVGProblem{"not-svg", "not an XML document: " + err.Error()})
			}
			add("bad-xml", "malformed XML: %v", err)
			break
		}
		switch t := tok.(type) {
		case xml.Directive:
			if bytes.Contains(t, []byte("ENTITY")) {
				once("entity", "the document declares XML entities, which SVG Tiny PS does not allow")
			}
		case xml.ProcInst:
			if t.Target == "xml-stylesheet" {
				once("external", "an xml-stylesheet processing instruction refers to another document")
			}
		case xml.StartElement:
			depth++
			if !sawRoot {
				sawRoot = true
				if t.Name.Local != "svg" || (t.Name.Space != svgNS && t.Name.Space != "") {
					return info, append(ps, SVGProblem{"not-svg", fmt.Sprintf("the root element is <%s>, not <svg>", t.Name.Local)})
				}
				rootAttrs(info, t.Attr, add)
			} else if depth == 2 && t.Name.Local == "title" {
				titleDepth = depth
			}
			if why, bad := forbidden[t.Name.Local]; bad {
				once("forbidden-element", "<%s>: %s", t.Name.Local, why)
			}
			for _, a := range t.Attr {
				checkAttr(a, once)
			}
		case xml.EndElement:
			if depth == titleDepth {
				titleDepth = -1
				info.Title = strings.TrimSpace(title.String())
			}
			depth--
		case xml.CharData:
			if titleDepth > 0 && title.Len() < 1024 {
				title.Write(t)
			}
		}
	}
	if !sawRoot {
		return info, append(ps, SVGProblem{"not-svg", "no <svg> element"})
	}
	if info.Title == "" {
		add("no-title", "no <title> (with the brand's name) as a child of <svg>; SVG Tiny PS requires one")
	}
	return info, ps
}

func rootAttrs(info *SVGInfo, attrs []xml.Attr, add func(code, format string, a ...any)) {
	var width, height string
	for _, a := range attrs {
		if a.Name.Space != "" && a.Name.Space != svgNS {
			continue
		}
		switch a.Name.Local {
		case "version":
			info.Version = a.Value
		case "baseProfile":
			info.BaseProfile = a.Value
		case "viewBox":
			info.ViewBox = a.Value
		case "width":
			width = a.Value
		case "height":
			height = a.Value
		case "x", "y":
			add("root-xy", "the <svg> element has a %s= attribute, which SVG Tiny PS forbids on the root", a.Name.Local)
		}
	}
	if info.BaseProfile != "tiny-ps" {
		add("profile", "baseProfile is %q; BIMI requires baseProfile=\"tiny-ps\" (SVG Tiny Portable/Secure)", info.BaseProfile)
	}
	if info.Version != "1.2" {
		add("version", "version is %q; SVG Tiny PS requires version=\"1.2\"", info.Version)
	}
	w, h, ok := viewBoxSize(info.ViewBox)
	if !ok {
		w, h, ok = parseLen(width), parseLen(height), true
		if w <= 0 || h <= 0 {
			ok = false
		}
	}
	switch {
	case !ok:
		add("no-viewbox", "no usable viewBox; give the logo a square viewBox such as \"0 0 512 512\"")
	case w != h:
		add("not-square", "the logo is %gx%g, not square; mailbox providers crop BIMI logos to a square or circle", w, h)
	default:
		info.Square = true
	}
}

func viewBoxSize(vb string) (w, h float64, ok bool) {
	f := strings.FieldsFunc(vb, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' || r == '\r' })
	if len(f) != 4 {
		return 0, 0, false
	}
	w, err1 := strconv.ParseFloat(f[2], 64)
	h, err2 := strconv.ParseFloat(f[3], 64)
	if err1 != nil || err2 != nil || w <= 0 || h <= 0 {
		return 0, 0, false
	}
	return w, h, true
}

func parseLen(s string) float64 {
	s = strings.TrimSuffix(strings.TrimSpace(s), "px")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return v
}

// checkAttr flags event handlers and references to other documents.
func checkAttr(a xml.Attr, once func(code, format string, a ...any)) {
	name := a.Name.Local
	low := strings.ToLower(name)
	switch {
	case strings.HasPrefix(low, "on") && len(low) > 2 && a.Name.Space == "":
		once("script", "event handler attribute %s= (scripting is not allowed)", name)
	case name == "href":
		v := strings.TrimSpace(a.Value)
		if !strings.HasPrefix(v, "#") {
			once("external", "a reference to another document (%s=%q); SVG Tiny PS allows only references inside the file", name, clip(v))
		}
	case name == "style" || name == "fill" || name == "stroke" || name == "filter" || name == "mask" || name == "clip-path":
		if i := strings.Index(strings.ToLower(a.Value), "url("); i >= 0 {
			ref := strings.TrimLeft(a.Value[i+4:], " '\"")
			if !strings.HasPrefix(ref, "#") {
				once("external", "%s refers to another document (%q)", name, clip(a.Value))
			}
		}
	}
}
