package devissuer

import "net/http"

// stylePath is where the issuer serves the SMART style document it gives an EHR launch whose launch
// names no smart_style_url of its own (SMART App Launch: "smart_style_url", a URL of a JSON document).
const stylePath = "/smart-style.json"

// defaultStyle is the development EHR's look, in the properties SMART App Launch lists for
// smart_style_url.
const defaultStyle = `{"color_background":"#f8f9fb","color_error":"#b00020","color_highlight":"#1f6feb",` +
	`"color_modal_backdrop":"","color_success":"#2e7d32","color_text":"#1b1f24",` +
	`"dim_border_radius":"6px","dim_font_size":"14px","dim_spacing_size":"16px",` +
	`"font_family_body":"system-ui, sans-serif","font_family_heading":"system-ui, sans-serif"}` + "\n"

// serveStyle answers the style document; apps fetch it from the browser, so any origin may read it.
func serveStyle(w http.ResponseWriter, _ *http.Request) {
	allowCORS(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=3600")
	_, _ = w.Write([]byte(defaultStyle)) // an error here is the client gone: nothing left to do
}
