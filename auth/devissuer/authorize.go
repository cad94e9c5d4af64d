package devissuer

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// authRequest is a validated authorization request (RFC 6749 §4.1.1, RFC 7636, SMART App Launch).
type authRequest struct {
	ClientID, RedirectURI, Scope, State, Challenge, Nonce, Aud string

	redirect    *url.URL
	needPatient bool
	// verifiedRedirect: the redirect_uri is one the client registered, so errors may be sent there.
	verifiedRedirect bool
	launch           *launchContext // an EHR launch's context
}

// authParams are the request parameters the consent form carries back, in order.
var authParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
	"code_challenge_method", "aud", "nonce", "launch"}

// parseAuthRequest validates the parameters of an authorization request; the error is safe to show.
// With the error, it returns the request when its redirect_uri is known to be the client's (see
// refuse).
func (i *Issuer) parseAuthRequest(q url.Values) (*authRequest, error) {
	for name, values := range q {
		if len(values) > 1 {
			return nil, errors.New("parameter " + name + " appears more than once")
		}
	}
	a := &authRequest{
		ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"), Scope: q.Get("scope"),
		State: q.Get("state"), Challenge: q.Get("code_challenge"), Nonce: q.Get("nonce"), Aud: q.Get("aud"),
	}
	if a.ClientID == "" {
		return nil, errors.New("client_id is required")
	}
	if !validClientID(a.ClientID) {
		return nil, errors.New("client_id must be 1 to 255 printable ASCII characters")
	}
	if a.RedirectURI == "" {
		return nil, errors.New("redirect_uri is required")
	}
	u, err := url.Parse(a.RedirectURI)
	if err != nil || len(a.RedirectURI) > 2048 || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		!plainHost(u.Host) || u.User != nil || u.Fragment != "" || strings.Contains(a.RedirectURI, "#") {
		return nil, errors.New("redirect_uri must be an absolute http or https URL without user info or fragment")
	}
	a.redirect = u
	c := i.client(a.ClientID)
	if !c.redirectAllowed(a.RedirectURI) {
		return nil, errors.New("redirect_uri is not one of those registered for client " + a.ClientID + " (compared exactly)")
	}
	// From here on, an error goes back to a registered client's registered redirect_uri (RFC 6749
	// §4.1.2.1); to any other one, never (it would make this an open redirector).
	a.verifiedRedirect = c != nil && len(c.RedirectURIs) > 0
	if rt := q.Get("response_type"); rt != "code" {
		return a, errors.New("response_type must be code")
	}
	if a.Challenge == "" {
		return a, errors.New("code_challenge is required: this issuer requires PKCE with S256")
	}
	if m := q.Get("code_challenge_method"); m != "S256" {
		return a, errors.New("code_challenge_method must be S256 (plain, the default when it is missing, is refused)")
	}
	if !validChallenge(a.Challenge) {
		return a, errors.New("code_challenge must be a base64url-encoded SHA-256 hash (43 characters)")
	}
	if a.Aud == "" {
		return a, errors.New("aud is required: the FHIR base URL the application wants to access (" + i.cfg.Audience + ")")
	}
	if strings.TrimSuffix(a.Aud, "/") != strings.TrimSuffix(i.cfg.Audience, "/") {
		return a, errors.New("aud " + a.Aud + " is not the FHIR server this issuer grants access to (" + i.cfg.Audience + ")")
	}
	scope, err := normalizeScope(a.Scope)
	if err != nil {
		return a, err
	}
	a.Scope = scope
	if a.State == "" {
		return a, errors.New("state is required (SMART App Launch)")
	}
	if len(a.State) > 1024 || !printable(a.State) {
		return a, errors.New("state must be at most 1024 printable ASCII characters")
	}
	if len(a.Nonce) > 1024 || !printable(a.Nonce) {
		return a, errors.New("nonce must be at most 1024 printable ASCII characters")
	}
	scopes := strings.Fields(a.Scope)
	for _, s := range scopes {
		if s == "launch/patient" || strings.HasPrefix(s, "patient/") {
			a.needPatient = true
		}
	}
	switch launch := q.Get("launch"); {
	case launch != "" && !containsString(scopes, "launch"):
		return a, errors.New("an EHR launch (launch parameter) must ask for the launch scope")
	case launch == "" && containsString(scopes, "launch"):
		return a, errors.New("the launch scope is for an EHR launch: the launch parameter the EHR gave the app is missing")
	case launch != "":
		if a.launch = i.launch(launch); a.launch == nil {
			return a, errors.New("the launch parameter is unknown or has expired: launch the app from the EHR again")
		}
		a.needPatient = false // the EHR gave the patient
	}
	return a, nil
}

// plainHost reports whether a URL host (with its port) is made of characters that are safe to put in a
// Content-Security-Policy source expression.
func plainHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' ||
			c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// validChallenge: BASE64URL of a SHA-256 hash, without padding: 43 characters.
func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// origin is the redirect_uri's origin, as a CSP source.
func (a *authRequest) origin() string { return a.redirect.Scheme + "://" + a.redirect.Host }

// redirectTo returns the redirect_uri, exactly as the client sent it, with params added to its query
// (RFC 6749 §3.1.2: the client's own query is kept; the URI has no fragment).
func (a *authRequest) redirectTo(params url.Values) string {
	sep := "?"
	switch {
	case strings.HasSuffix(a.RedirectURI, "?") || strings.HasSuffix(a.RedirectURI, "&"):
		sep = ""
	case strings.Contains(a.RedirectURI, "?"):
		sep = "&"
	}
	return a.RedirectURI + sep + params.Encode()
}

// htmlHeaders sets the headers of the HTML pages. formAction is the CSP form-action source list: the
// consent form posts to this issuer, which answers with a redirect to the client, and browsers check
// redirects after a form submission against form-action too, so the client's origin must be listed.
func htmlHeaders(w http.ResponseWriter, formAction string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+formAction+
		"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

func render(w http.ResponseWriter, status int, formAction, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	htmlHeaders(w, formAction)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // an error here is the client gone: nothing left to do
}

func errorPage(w http.ResponseWriter, status int, message string) {
	render(w, status, "'none'", "error", message)
}

type hiddenField struct{ Name, Value string }

type consentPage struct {
	ClientID, RedirectURI string
	Scopes                []string
	Hidden                []hiddenField
	Users, Patients       []Choice
	NeedPatient           bool
	// LaunchPatient and LaunchEncounter are an EHR launch's context.
	LaunchPatient, LaunchEncounter string
}

func (i *Issuer) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	i.consent(w, r, r.URL.Query())
}

// servePostAuthorize serves a POST to /authorize: the consent form's answer when it carries an action,
// otherwise an authorization request sent by POST (form-encoded, as SMART 2.0 allows).
func (i *Issuer) servePostAuthorize(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(w, r)
	if err != nil {
		errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	if form.Has("action") {
		i.serveDecision(w, r, form)
		return
	}
	i.consent(w, r, form)
}

// refuse answers a refused authorization request: an OAuth error sent back to the client when its
// redirect_uri is a registered one, a page otherwise.
func (i *Issuer) refuse(w http.ResponseWriter, r *http.Request, a *authRequest, err error) {
	if a == nil || !a.verifiedRedirect {
		errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	code := "invalid_request"
	var re *requestError
	if errors.As(err, &re) {
		code = re.code
	}
	params := url.Values{"error": {code}, "error_description": {err.Error()}}
	if a.State != "" && len(a.State) <= 1024 && printable(a.State) {
		params.Set("state", a.State)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, a.redirectTo(params), http.StatusSeeOther)
}

// consent validates an authorization request and shows the page to pick a demo user (and patient).
func (i *Issuer) consent(w http.ResponseWriter, r *http.Request, q url.Values) {
	a, err := i.parseAuthRequest(q)
	if err != nil {
		i.refuse(w, r, a, err)
		return
	}
	if msg := i.cannotServe(a); msg != "" {
		errorPage(w, http.StatusInternalServerError, msg)
		return
	}
	page := consentPage{ClientID: a.ClientID, RedirectURI: a.RedirectURI, Scopes: strings.Fields(a.Scope),
		Users: i.cfg.Users, NeedPatient: a.needPatient}
	if a.needPatient {
		page.Patients = i.cfg.Patients
	}
	if a.launch != nil {
		page.LaunchPatient, page.LaunchEncounter = "Patient/"+a.launch.patient, a.launch.encounter
	}
	for _, name := range authParams {
		if q.Has(name) {
			page.Hidden = append(page.Hidden, hiddenField{name, q.Get(name)})
		}
	}
	render(w, http.StatusOK, "'self' "+a.origin(), "consent", page)
}

// cannotServe explains why the configuration cannot satisfy a valid request ("" when it can).
func (i *Issuer) cannotServe(a *authRequest) string {
	if len(i.cfg.Users) == 0 {
		return "This development issuer has no demo users configured."
	}
	if a.needPatient && len(i.cfg.Patients) == 0 {
		return "The application asks for a patient context, but this development issuer has no demo patients configured."
	}
	return ""
}

func findChoice(list []Choice, ref string) bool {
	for _, c := range list {
		if c.Ref == ref {
			return true
		}
	}
	return false
}

// serveDecision handles the consent form: the request is validated again (the form is not trusted),
// then a code is issued and the browser sent back to the client.
func (i *Issuer) serveDecision(w http.ResponseWriter, r *http.Request, form url.Values) {
	a, err := i.parseAuthRequest(withoutDecision(form))
	if err != nil {
		i.refuse(w, r, a, err)
		return
	}
	if msg := i.cannotServe(a); msg != "" {
		errorPage(w, http.StatusInternalServerError, msg)
		return
	}
	redirect := func(params url.Values) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, a.redirectTo(params), http.StatusSeeOther)
	}
	switch form.Get("action") {
	case "deny":
		redirect(url.Values{"error": {"access_denied"}, "error_description": {"the user cancelled the sign-in"},
			"state": {a.State}})
		return
	case "allow":
	default:
		errorPage(w, http.StatusBadRequest, "action must be allow or deny")
		return
	}
	user := form.Get("user")
	if !findChoice(i.cfg.Users, user) {
		errorPage(w, http.StatusBadRequest, "Pick one of the demo users.")
		return
	}
	var patient string
	if a.launch != nil {
		patient = a.launch.patient
	}
	if a.needPatient {
		ref := form.Get("patient")
		if !findChoice(i.cfg.Patients, ref) {
			errorPage(w, http.StatusBadRequest, "Pick one of the demo patients.")
			return
		}
		patient = strings.TrimPrefix(ref, "Patient/")
	}
	now := i.cfg.Now()
	code, err := i.newCode(&grant{
		clientID: a.ClientID, redirectURI: a.RedirectURI, challenge: a.Challenge,
		scope: a.Scope, user: user, patient: patient, nonce: a.Nonce, launch: a.launch,
		authTime: now, expires: now.Add(CodeLifetime),
	})
	if err != nil {
		errorPage(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	redirect(url.Values{"code": {code}, "state": {a.State}})
}

const pageStyle = `body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a;background:#fff}
.warn{background:#fff4d6;border:2px solid #8a6100;padding:.5rem 1rem}
fieldset{margin:1rem 0;padding:.5rem 1rem;border:1px solid #666}
legend{font-weight:bold}
.choice{padding:.3rem 0}
input[type=radio]{width:1.1rem;height:1.1rem;vertical-align:middle}
code{word-break:break-all}
button{font-size:1rem;padding:.5rem 1.2rem;margin:0 .5rem .5rem 0}
:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}`

var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · fhirgate development issuer</title>
<style>` + pageStyle + `</style>
</head>
{{end}}

{{define "consent"}}{{template "head" "Sign in"}}<body>
<main>
<h1>Sign in to the development server</h1>
<p class="warn" role="note"><strong>Development only.</strong> There are no passwords here: anyone who can reach this server can sign in as any demo user. Never use it with real patient data.</p>
<p>The application <strong>{{.ClientID}}</strong> asks for these permissions:</p>
<ul>{{range .Scopes}}
<li><code>{{.}}</code></li>{{end}}
</ul>
{{if .LaunchPatient}}<p>Launched from the EHR for <strong>{{.LaunchPatient}}</strong>{{if .LaunchEncounter}}, encounter <strong>Encounter/{{.LaunchEncounter}}</strong>{{end}}.</p>
{{end}}<p>After you sign in, you will be sent back to <code>{{.RedirectURI}}</code>.</p>
<form method="post" action="authorize">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<fieldset>
<legend>Sign in as</legend>
{{range $i, $u := .Users}}<div class="choice"><input type="radio" id="user-{{$i}}" name="user" value="{{$u.Ref}}" required{{if eq $i 0}} checked{{end}}>
<label for="user-{{$i}}">{{$u.Label}} <small>({{$u.Ref}})</small></label></div>
{{end}}</fieldset>
{{if .NeedPatient}}<fieldset>
<legend>Patient in context</legend>
{{range $i, $p := .Patients}}<div class="choice"><input type="radio" id="patient-{{$i}}" name="patient" value="{{$p.Ref}}" required{{if eq $i 0}} checked{{end}}>
<label for="patient-{{$i}}">{{$p.Label}} <small>({{$p.Ref}})</small></label></div>
{{end}}</fieldset>
{{end}}<button type="submit" name="action" value="allow">Sign in and allow</button>
<button type="submit" name="action" value="deny">Cancel</button>
</form>
</main>
</body>
</html>
{{end}}

{{define "launch"}}{{template "head" "EHR launch"}}<body>
<main>
<h1>Launch an app as an EHR would</h1>
<p class="warn" role="note"><strong>Development only.</strong> Anyone who can reach this server can make a launch for any demo patient.</p>
<form method="post" action="launch">
<fieldset>
<legend>Patient in context</legend>
{{range $i, $p := .}}<div class="choice"><input type="radio" id="patient-{{$i}}" name="patient" value="{{$p.Ref}}" required{{if eq $i 0}} checked{{end}}>
<label for="patient-{{$i}}">{{$p.Label}} <small>({{$p.Ref}})</small></label></div>
{{end}}</fieldset>
<p><label for="encounter">Encounter id (optional)</label><br><input id="encounter" name="encounter" pattern="[A-Za-z0-9.\-]{1,64}"></p>
<p><label for="app">The app's launch URL</label><br><input id="app" name="app" type="url" required size="50"></p>
<button type="submit">Make the launch</button>
</form>
</main>
</body>
</html>
{{end}}

{{define "launched"}}{{template "head" "EHR launch"}}<body>
<main>
<h1>Launch ready</h1>
<p>Launch id <code>{{.Launch}}</code> (valid 10 minutes).</p>
<p><a href="{{.URL}}">Open the app</a></p>
</main>
</body>
</html>
{{end}}

{{define "error"}}{{template "head" "Request refused"}}<body>
<main>
<h1>Authorization request refused</h1>
<p role="alert">{{.}}</p>
<p>Fix the request in the application and try again. The application is not sent back this error, because its redirect_uri cannot be trusted.</p>
</main>
</body>
</html>
{{end}}
`))

// withoutDecision returns the consent form's parameters without the user's choices: the authorization
// request it carries.
func withoutDecision(form url.Values) url.Values {
	q := url.Values{}
	for _, name := range authParams {
		if form.Has(name) {
			q[name] = form[name]
		}
	}
	return q
}
