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

// tokenCmd asks a development server's issuer for an access token and prints it, for
// curl -H "Authorization: Bearer $(fhirgate token ...)".
func tokenCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "http://localhost:8080", "the development server (its issuer is SERVER/dev-issuer)")
	scope := fs.String("scope", "", "SMART scopes, space-separated (e.g. 'patient/*.rs')")
	patient := fs.String("patient", "", "launch patient id (patient context)")
	fhirUser := fs.String("fhir-user", "", "the user's resource, e.g. Practitioner/prac-house")
	purpose := fs.String("purpose", "", "purpose of use: v3 ActReason codes, comma-separated (TREAT, ETREAT, BTG, HPAYMT...)")
	org := fs.String("organization", "", "the user's organization, e.g. Organization/org-hopital-nord")
	client := fs.String("client", "fhirgate-cli", "client id (with --dev, "+devAdminClient+" is an administration client and "+devAuditorClient+" an auditor)")
	fs.StringVar(client, "client-id", "fhirgate-cli", "the same as --client")
	lifetime := fs.Duration("lifetime", time.Hour, "token lifetime")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fhirgate token --scope S [--patient ID] [--fhir-user REF] [--purpose CODE] [--client ID] [--server URL]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *scope == "" {
		return usageError{errors.New("--scope is required")}
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {*client}, "scope": {*scope},
		"lifetime": {fmt.Sprint(int(lifetime.Seconds()))}}
	for k, v := range map[string]string{"patient": *patient, "fhirUser": *fhirUser, "purpose_of_use": *purpose, "organization": *org} {
		if v != "" {
			form.Set(k, v)
		}
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	resp, err := hc.PostForm(strings.TrimSuffix(*server, "/")+"/dev-issuer/token", form)
	if err != nil {
		return fmt.Errorf("asking %s for a token: %w", *server, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		AccessToken      string `json:"access_token"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return fmt.Errorf("%s/dev-issuer/token answered %s; is it a server running with --dev?", *server, resp.Status)
	}
	if out.AccessToken == "" {
		return fmt.Errorf("no token: %s %s", out.Error, out.ErrorDescription)
	}
	fmt.Fprintln(stdout, out.AccessToken)
	return nil
}
