package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// launchCmd makes an EHR launch context at a development server's issuer, as an EHR does when its user
// opens an app, and prints the launch id (and, with --app, the URL that launches the app).
func launchCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("launch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "http://localhost:8080", "the development server (its issuer is SERVER/dev-issuer)")
	base := fs.String("fhir-base", "", "the FHIR base URL the app is launched against (default SERVER/fhir)")
	patient := fs.String("patient", "", "the patient id in context (required)")
	encounter := fs.String("encounter", "", "the encounter id in context")
	banner := fs.Bool("need-patient-banner", true, "whether the app must show which patient it is about")
	style := fs.String("smart-style-url", "", "smart_style_url given to the app")
	app := fs.String("app", "", "the app's launch URL: print APP?iss=BASE&launch=ID to open it")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fhirgate launch --patient ID [--encounter ID] [--app URL] [--server URL]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *patient == "" {
		return usageError{errors.New("--patient is required")}
	}
	srv := strings.TrimSuffix(*server, "/")
	if *base == "" {
		*base = srv + "/fhir"
	}
	form := url.Values{"patient": {*patient}, "need_patient_banner": {fmt.Sprint(*banner)}}
	if *encounter != "" {
		form.Set("encounter", *encounter)
	}
	if *style != "" {
		form.Set("smart_style_url", *style)
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	resp, err := hc.PostForm(srv+"/dev-issuer/launch", form)
	if err != nil {
		return fmt.Errorf("asking %s for a launch: %w", srv, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		Launch           string `json:"launch"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return fmt.Errorf("%s/dev-issuer/launch answered %s; is it a server running with --dev?", srv, resp.Status)
	}
	if out.Launch == "" {
		return fmt.Errorf("no launch: %s %s", out.Error, out.ErrorDescription)
	}
	if *app == "" {
		fmt.Fprintln(stdout, out.Launch)
		return nil
	}
	u, err := url.Parse(*app)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Errorf("--app %q is not an absolute http(s) URL", *app)}
	}
	q := u.Query()
	q.Set("iss", *base)
	q.Set("launch", out.Launch)
	u.RawQuery = q.Encode()
	fmt.Fprintln(stdout, u.String())
	return nil
}
