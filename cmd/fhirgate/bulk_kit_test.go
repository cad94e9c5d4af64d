package main

// TestBulkDataKit replays, against a real `fhirgate serve --dev`, the assertions of the Inferno bulk data
// test kit's v2.0.0 export groups (inferno-framework/bulk-data-test-kit: Group, Patient and system
// export; each with its kick-off, status, output, validation, cancel and parameters tests), as a
// backend-services client authenticated with private_key_jwt. Each check is named by the kit's test id
// under its groups and checks what that test asserts; the code is this project's own. The list of the
// kit's tests, with those that do not apply and why, is testdata/bulk_kit_assertions.txt; the project's
// own checks of the same exports (progress, counts, owner-only files, _type, _typeFilter, a POST's
// Parameters, refused parameters) are listed there too and counted apart.

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"fhirgate/fhir/validation"
)

const (
	bulkKitFile  = "testdata/bulk_kit_assertions.txt"
	bulkKitName  = "bulk-data-test-kit"
	bulkOwnName  = "fhirgate"
	bulkCohort   = "kit-cohort"
	ndjsonFormat = "application/fhir+ndjson"
)

// bulkKit is what the kit's tests share: the server, the backend client's token, another client's.
type bulkKit struct {
	h         *harness
	token     string // the backend-services client's access token (system/*.rs)
	other     string // another client's token (system/*.cruds)
	validator *validation.Validator
}

// bulkLevel is the state one export level's tests pass one another, as the kit's inputs and outputs.
type bulkLevel struct {
	name     string // group, patient or system
	path     string // the kick-off, relative to the base
	capType  string // the CapabilityStatement resource that declares the operation ("" for system)
	polling  string
	progress []http.Header // the 202 answers to the status requests
	manifest bulkManifest
	lines    map[string][][]byte // the lines of each file, by URL
	patients map[string]bool
	cancel   string
}

type bulkManifest struct {
	TransactionTime     string `json:"transactionTime"`
	Request             string `json:"request"`
	RequiresAccessToken bool   `json:"requiresAccessToken"`
	Output              []struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Count int    `json:"count"`
	} `json:"output"`
	Error []json.RawMessage `json:"error"`
}

func TestBulkDataKit(t *testing.T) {
	rows, err := readBulkKitRows()
	if err != nil {
		t.Fatal(err)
	}
	k := newBulkKit(t)
	applicable := map[string]string{}
	for _, r := range rows {
		if _, dup := applicable[r.id]; dup {
			t.Errorf("%s is listed twice", r.id)
		}
		applicable[r.id] = ""
		if r.applicable {
			applicable[r.id] = r.kit
		}
	}
	checks := k.checks()
	checked := map[string]bool{}
	passed := map[string]int{}
	for _, c := range checks {
		if applicable[c.id] == "" {
			t.Errorf("check %s: not an applicable test of the list %s", c.id, bulkKitFile)
		}
		if checked[c.id] {
			t.Errorf("check %s twice", c.id)
		}
		checked[c.id] = true
		t.Run(c.id, func(t *testing.T) {
			err := c.run()
			if errors.Is(err, errNotSeen) {
				t.Skip(err)
			}
			if err != nil {
				t.Errorf("FAIL: %v", err)
				return
			}
			passed[applicable[c.id]]++
		})
	}
	notApplicable := 0
	for _, r := range rows {
		switch {
		case r.applicable && !checked[r.id]:
			t.Errorf("%s (%s): applicable, and no check replays it", r.id, r.kit)
		case !r.applicable:
			notApplicable++
			t.Logf("n/a  %s: %s", r.id, r.reason)
		}
	}
	t.Logf("bulk data kit: %d of %d applicable kit assertions pass, %d not applicable; the project's own: %d pass",
		passed[bulkKitName], len(checks)-countOwn(checks), notApplicable, passed[bulkOwnName])
}

func countOwn(checks []kitCheck) int {
	n := 0
	for _, c := range checks {
		if strings.HasPrefix(c.id, bulkOwnName+"/") {
			n++
		}
	}
	return n
}

// readBulkKitRows reads the bulk kit's assertion list; the project's own checks are named apart.
func readBulkKitRows() ([]kitRow, error) {
	rows, err := readKitRows(bulkKitFile, bulkKitName, bulkOwnName)
	for i := range rows {
		if rows[i].kit == bulkOwnName {
			rows[i].id = bulkOwnName + "/" + rows[i].id
		}
	}
	return rows, err
}

// newBulkKit starts `serve --dev` with the demo data and the backend client registered with its public
// key; the development administrator writes the Group of the demo patients.
func newBulkKit(t *testing.T) *bulkKit {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := &jose.JSONWebKey{Key: priv, KeyID: "inferno-ec", Algorithm: "ES384", Use: "sig"}
	clients, err := json.Marshal(map[string]any{"clients": []any{
		map[string]any{"client_id": harnessBackend, "type": "confidential-asymmetric",
			"jwks": jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.Public()}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "clients.json")
	if err := os.WriteFile(file, clients, 0o600); err != nil {
		t.Fatal(err)
	}
	// Enough room for the exports the kit starts and cancels at once.
	p := startServer(t, t.TempDir(), "--demo-data=true", "--dev-clients", file, "--export-max-jobs", "8", "--export-file-size", "50")
	h := &harness{t: t, base: p.base, server: strings.TrimSuffix(p.base, "/fhir"), backendKey: key,
		hc: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	form, err := h.backendForm()
	if err != nil {
		t.Fatal(err)
	}
	st, _, tok, err := h.postJSON(h.tokenURL(), form)
	if err != nil || st != http.StatusOK {
		t.Fatalf("backend token: %d %v %v", st, tok, err)
	}
	v, err := validation.New(validation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	k := &bulkKit{h: h, token: tok["access_token"].(string), other: p.token, validator: v}
	k.writeCohort(t, issueToken(t, h.server, url.Values{"grant_type": {"client_credentials"}, "client_id": {devAdminClient},
		"scope": {"system/*.cruds"}}))
	return k
}

// writeCohort writes Group/kit-cohort, whose members are the demo patients, as the administrator admin.
func (k *bulkKit) writeCohort(t *testing.T, admin string) {
	t.Helper()
	st, _, body, err := k.do(http.MethodGet, k.h.base+"/Patient?_count=200&_elements=id", nil, "Authorization", "Bearer "+k.other)
	if err != nil || st != http.StatusOK {
		t.Fatalf("patients: %d %v", st, err)
	}
	var b struct {
		Entry []struct {
			Resource struct{ ID string } `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil || len(b.Entry) < 2 {
		t.Fatalf("patients %s: %v", body, err)
	}
	var members []map[string]any
	for _, e := range b.Entry {
		members = append(members, map[string]any{"entity": map[string]string{"reference": "Patient/" + e.Resource.ID}})
	}
	group, _ := json.Marshal(map[string]any{"resourceType": "Group", "id": bulkCohort, "type": "person", "actual": true,
		"name": "the demo patients", "member": members})
	st, _, body, err = k.do(http.MethodPut, k.h.base+"/Group/"+bulkCohort, group, "Authorization", "Bearer "+admin,
		"Content-Type", "application/fhir+json")
	if err != nil || st >= 300 {
		t.Fatalf("Group: %d %s %v", st, body, err)
	}
}

// do sends a request with headers given as name, value pairs.
func (k *bulkKit) do(method, u string, body []byte, header ...string) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return k.h.send(req)
}

// kickoff sends a kick-off request for path with query parameters, with the backend's token or none.
func (k *bulkKit) kickoff(path string, params url.Values, withToken bool) (int, http.Header, []byte, error) {
	u := k.h.base + "/" + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	header := []string{"Accept", "application/fhir+json", "Prefer", "respond-async"}
	if withToken {
		header = append(header, "Authorization", "Bearer "+k.token)
	}
	return k.do(http.MethodGet, u, nil, header...)
}

// started kicks off an export and returns its status URL.
func (k *bulkKit) started(path string, params url.Values) (string, error) {
	st, hdr, body, err := k.kickoff(path, params, true)
	if err != nil {
		return "", err
	}
	if st != http.StatusAccepted {
		return "", fmt.Errorf("kick-off %s %v: status %d %.300s, want 202", path, params, st, body)
	}
	loc := hdr.Get("Content-Location")
	if loc == "" {
		return "", errors.New("the kick-off's answer has no Content-Location")
	}
	return loc, nil
}

// deleted cancels an export (DELETE of its status URL), which must answer 202.
func (k *bulkKit) deleted(polling string) error {
	st, _, body, err := k.do(http.MethodDelete, polling, nil, "Accept", "application/json", "Authorization", "Bearer "+k.token)
	if err != nil {
		return err
	}
	if st != http.StatusAccepted {
		return fmt.Errorf("DELETE %s: %d %.300s, want 202", polling, st, body)
	}
	return nil
}

// finish polls a status URL until it is no longer 202, honouring Retry-After (capped at a second, as
// a test need not wait five), and returns the last answer and the 202s' headers.
func (k *bulkKit) finish(polling string) (int, http.Header, []byte, []http.Header, error) {
	var progress []http.Header
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st, hdr, body, err := k.do(http.MethodGet, polling, nil, "Accept", "application/json", "Authorization", "Bearer "+k.token)
		if err != nil || st != http.StatusAccepted {
			return st, hdr, body, progress, err
		}
		progress = append(progress, hdr)
		if time.Now().After(deadline) {
			return st, hdr, body, progress, errors.New("the export did not finish in 3 minutes")
		}
		wait := time.Second
		if n, err := strconv.Atoi(hdr.Get("Retry-After")); err == nil && n >= 0 {
			wait = min(time.Duration(n)*time.Second, time.Second)
		}
		time.Sleep(max(wait, 50*time.Millisecond))
	}
}

// export runs a whole export for one of the project's own checks and returns its manifest.
func (k *bulkKit) export(path string, params url.Values) (bulkManifest, error) {
	var m bulkManifest
	polling, err := k.started(path, params)
	if err != nil {
		return m, err
	}
	st, _, body, _, err := k.finish(polling)
	if err != nil {
		return m, err
	}
	if st != http.StatusOK {
		return m, fmt.Errorf("status %d %.300s", st, body)
	}
	return m, json.Unmarshal(body, &m)
}

// download reads a file with a token ("" for none).
func (k *bulkKit) download(u, token string) (int, http.Header, [][]byte, error) {
	header := []string{"Accept", ndjsonFormat}
	if token != "" {
		header = append(header, "Authorization", "Bearer "+token)
	}
	st, hdr, body, err := k.do(http.MethodGet, u, nil, header...)
	if err != nil || st != http.StatusOK {
		return st, hdr, nil, err
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			lines = append(lines, bytes.Clone(sc.Bytes()))
		}
	}
	return st, hdr, lines, sc.Err()
}

// ids returns the "Type/id" of every line of an export's files.
func (k *bulkKit) ids(m bulkManifest) ([]string, error) {
	var out []string
	for _, o := range m.Output {
		st, _, lines, err := k.download(o.URL, k.token)
		if err != nil || st != http.StatusOK {
			return nil, fmt.Errorf("%s: %d %v", o.URL, st, err)
		}
		for _, l := range lines {
			var r struct{ ResourceType, ID string }
			if err := json.Unmarshal(l, &r); err != nil {
				return nil, err
			}
			out = append(out, r.ResourceType+"/"+r.ID)
		}
	}
	slices.Sort(out)
	return out, nil
}

// checks returns the kit's checks for the three levels, then the project's own.
func (k *bulkKit) checks() []kitCheck {
	levels := []struct {
		l                                   *bulkLevel
		suite, cancelTest, ndjson, resource string
	}{
		{&bulkLevel{name: "group", path: "Group/" + bulkCohort + "/$export", capType: "Group"},
			"bulk_data_group_export_v200", "bulk_data_export_group_cancel", "bulk_data_group_ndjson_download", "bulk_data_group_valid_resources"},
		{&bulkLevel{name: "patient", path: "Patient/$export", capType: "Patient"},
			"bulk_data_patient_export_v200", "bulk_data_patient_export_cancel", "bulk_data_patient_ndjson_download", "bulk_data_patient_valid_resources"},
		{&bulkLevel{name: "system", path: "$export"},
			"bulk_data_system_export_v200", "bulk_data_system_export_cancel", "bulk_data_system_export_ndjson_download", "bulk_data_system_export_valid_resources"},
	}
	var out []kitCheck
	var group *bulkLevel
	for _, lv := range levels {
		l, n := lv.l, lv.l.name
		if n == "group" {
			group = l
		}
		export := lv.suite + "/bulk_data_" + n + "_export_group_stu2/"
		valid := lv.suite + "/bulk_data_" + n + "_export_validation_stu2/"
		cancel := lv.suite + "/bulk_data_" + n + "_export_cancel_group_stu2/"
		params := lv.suite + "/bulk_data_" + n + "_export_parameters_group/"
		out = append(out,
			kitCheck{export + "bulk_data_" + n + "_export_operation_support", func() error { return k.operationSupport(l) }},
			kitCheck{export + "bulk_data_" + n + "_no_auth_reject", func() error { return k.noAuthReject(l) }},
			kitCheck{export + "bulk_data_" + n + "_kick_off", func() error { return k.kickOff(l) }},
			kitCheck{export + "bulk_data_" + n + "_status_check", func() error { return k.statusCheck(l) }},
			kitCheck{export + "bulk_data_" + n + "_output_check", func() error { return k.outputCheck(l) }},
			kitCheck{valid + lv.ndjson, func() error { return k.ndjsonDownload(l) }},
			kitCheck{valid + lv.resource, func() error { return k.validResources(l) }},
		)
		if n != "system" {
			out = append(out, kitCheck{valid + "bulk_data_" + n + "_multiple_patients", func() error { return k.multiplePatients(l) }})
		}
		out = append(out,
			kitCheck{cancel + lv.cancelTest, func() error { return k.exportCancel(l) }},
			kitCheck{cancel + "bulk_data_" + n + "_export_cancel_stu2", func() error { return k.cancelledPolling(l) }},
			kitCheck{params + "output_format_in_" + n + "_export_response", func() error { return k.outputFormats(l) }},
			kitCheck{params + "since_in_" + n + "_export_response", func() error { return k.since(l) }},
		)
	}
	own := bulkOwnName + "/group/"
	return append(out,
		kitCheck{own + "status_in_progress", func() error { return k.statusInProgress(group) }},
		kitCheck{own + "manifest_counts", func() error { return k.manifestCounts(group) }},
		kitCheck{own + "files_need_the_owner_token", func() error { return k.ownerOnly(group) }},
		kitCheck{own + "type_param", func() error { return k.typeParam(group) }},
		kitCheck{own + "type_filter_param", func() error { return k.typeFilterParam(group) }},
		kitCheck{own + "post_parameters", func() error { return k.postParameters(group) }},
		kitCheck{own + "invalid_params", func() error { return k.invalidParams(group) }},
	)
}

// operationSupport: the CapabilityStatement declares the export operation where the level's kick-off
// is (a Group or Patient resource's operations, or the server's), with the IG's OperationDefinition, and
// instantiates the IG's CapabilityStatement.
func (k *bulkKit) operationSupport(l *bulkLevel) error {
	st, _, body, err := k.do(http.MethodGet, k.h.base+"/metadata", nil, "Accept", "application/fhir+json")
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("metadata: %d %v", st, err)
	}
	type op struct{ Name, Definition string }
	var cs struct {
		Instantiates []string `json:"instantiates"`
		Rest         []struct {
			Operation []op `json:"operation"`
			Resource  []struct {
				Type      string `json:"type"`
				Operation []op   `json:"operation"`
			} `json:"resource"`
		} `json:"rest"`
	}
	if err := json.Unmarshal(body, &cs); err != nil || len(cs.Rest) == 0 {
		return fmt.Errorf("metadata is not a CapabilityStatement with rest: %v", err)
	}
	if !slices.Contains(cs.Instantiates, "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data") {
		return fmt.Errorf("instantiates %v lacks the Bulk Data IG's CapabilityStatement", cs.Instantiates)
	}
	ops, def := cs.Rest[0].Operation, "export"
	if l.capType != "" {
		ops, def = nil, strings.ToLower(l.capType)+"-export"
		for _, r := range cs.Rest[0].Resource {
			if r.Type == l.capType {
				ops = r.Operation
			}
		}
	}
	want := op{"export", "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/" + def}
	if !slices.Contains(ops, want) {
		return fmt.Errorf("operations %v lack %v", ops, want)
	}
	return nil
}

// noAuthReject: a kick-off without a token is refused (the kit takes 400 or 401; fhirgate answers 401 with
// WWW-Authenticate: Bearer, as for any request without a token).
func (k *bulkKit) noAuthReject(l *bulkLevel) error {
	st, hdr, body, err := k.kickoff(l.path, nil, false)
	if err != nil {
		return err
	}
	if st != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
		return fmt.Errorf("status %d %.200s (WWW-Authenticate %q), want 401 Bearer", st, body, hdr.Get("WWW-Authenticate"))
	}
	return nil
}

// kickOff: a kick-off with the token is 202 with a Content-Location.
func (k *bulkKit) kickOff(l *bulkLevel) error {
	var err error
	l.polling, err = k.started(l.path, nil)
	return err
}

// statusCheck: polling (with Retry-After) ends in 200, application/json, with transactionTime, request,
// requiresAccessToken, output and error.
func (k *bulkKit) statusCheck(l *bulkLevel) error {
	if l.polling == "" {
		return errors.New("no status URL (the kick-off failed)")
	}
	st, hdr, body, progress, err := k.finish(l.polling)
	l.progress = progress
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("status %d %.300s, want 200", st, body)
	}
	if ct := hdr.Get("Content-Type"); !strings.Contains(ct, "application/json") {
		return fmt.Errorf("Content-Type %q, want application/json", ct)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return err
	}
	for _, f := range []string{"transactionTime", "request", "requiresAccessToken", "output", "error"} {
		if _, ok := fields[f]; !ok {
			return fmt.Errorf("the manifest has no %s: %.300s", f, body)
		}
	}
	return json.Unmarshal(body, &l.manifest)
}

// outputCheck: the manifest lists files, each with a type and an absolute URL.
func (k *bulkKit) outputCheck(l *bulkLevel) error {
	if len(l.manifest.Output) == 0 {
		return errors.New("the manifest lists no output")
	}
	for _, o := range l.manifest.Output {
		if o.Type == "" || o.URL == "" {
			return fmt.Errorf("an output without type or url: %+v", o)
		}
		if !strings.HasPrefix(o.URL, "http://") && !strings.HasPrefix(o.URL, "https://") {
			return fmt.Errorf("output URL %q is not absolute", o.URL)
		}
	}
	return nil
}

// ndjsonDownload: requiresAccessToken is true, and a file asked for without a token is 400 or 401.
func (k *bulkKit) ndjsonDownload(l *bulkLevel) error {
	if len(l.manifest.Output) == 0 {
		return errors.New("no file to download")
	}
	if !l.manifest.RequiresAccessToken {
		return errors.New("requiresAccessToken is false")
	}
	st, _, _, err := k.download(l.manifest.Output[0].URL, "")
	if err != nil {
		return err
	}
	if st != http.StatusBadRequest && st != http.StatusUnauthorized {
		return fmt.Errorf("a file without a token: %d, want 400 or 401", st)
	}
	return nil
}

// validResources: every file is application/fhir+ndjson, each line a valid R4 resource of the file's type.
func (k *bulkKit) validResources(l *bulkLevel) error {
	if len(l.manifest.Output) == 0 {
		return errors.New("no file to validate")
	}
	l.lines, l.patients = map[string][][]byte{}, map[string]bool{}
	total := 0
	for _, o := range l.manifest.Output {
		st, hdr, lines, err := k.download(o.URL, k.token)
		if err != nil || st != http.StatusOK {
			return fmt.Errorf("%s: %d %v", o.URL, st, err)
		}
		if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, ndjsonFormat) {
			return fmt.Errorf("%s: Content-Type %q, want %s", o.URL, ct, ndjsonFormat)
		}
		l.lines[o.URL] = lines
		for i, line := range lines {
			var r struct{ ResourceType, ID string }
			if err := json.Unmarshal(line, &r); err != nil {
				return fmt.Errorf("%s line %d is not JSON: %v", o.URL, i+1, err)
			}
			if r.ResourceType != o.Type {
				return fmt.Errorf("%s line %d: a %s in the %s file", o.URL, i+1, r.ResourceType, o.Type)
			}
			if err := k.validator.Validate(line); err != nil {
				return fmt.Errorf("%s/%s is not valid: %v", r.ResourceType, r.ID, err)
			}
			if r.ResourceType == "Patient" {
				l.patients[r.ID] = true
			}
			total++
		}
	}
	k.h.t.Logf("%s export: %d resources in %d files validated", l.name, total, len(l.manifest.Output))
	return nil
}

// multiplePatients: the export has at least two patients.
func (k *bulkKit) multiplePatients(l *bulkLevel) error {
	if len(l.patients) < 2 {
		return fmt.Errorf("%d Patient resources exported, want at least 2", len(l.patients))
	}
	return nil
}

// exportCancel: a new export is started (202) and cancelled (DELETE, 202).
func (k *bulkKit) exportCancel(l *bulkLevel) error {
	polling, err := k.started(l.path, nil)
	if err != nil {
		return err
	}
	l.cancel = polling
	return k.deleted(polling)
}

// cancelledPolling: the status URL of a cancelled export is 404 with an OperationOutcome.
func (k *bulkKit) cancelledPolling(l *bulkLevel) error {
	if l.cancel == "" {
		return errors.New("no cancelled export")
	}
	st, _, body, err := k.do(http.MethodGet, l.cancel, nil, "Accept", "application/json", "Authorization", "Bearer "+k.token)
	if err != nil {
		return err
	}
	return wantOutcome(st, body, http.StatusNotFound)
}

// wantOutcome checks a status and an OperationOutcome body with at least one issue.
func wantOutcome(st int, body []byte, want int) error {
	var oo struct {
		ResourceType string            `json:"resourceType"`
		Issue        []json.RawMessage `json:"issue"`
	}
	if st != want {
		return fmt.Errorf("status %d %.300s, want %d", st, body, want)
	}
	if err := json.Unmarshal(body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		return fmt.Errorf("body %.300s is not an OperationOutcome with issues", body)
	}
	return nil
}

// outputFormats: each of the three spellings of NDJSON is accepted (202), and the export cancelled (202).
func (k *bulkKit) outputFormats(l *bulkLevel) error {
	for _, f := range []string{"application/fhir+ndjson", "application/ndjson", "ndjson"} {
		polling, err := k.started(l.path, url.Values{"_outputFormat": {f}})
		if err != nil {
			return err
		}
		if err := k.deleted(polling); err != nil {
			return err
		}
	}
	return nil
}

// since: a _since of a week ago is accepted (202), and the export cancelled (202).
func (k *bulkKit) since(l *bulkLevel) error {
	weekAgo := time.Now().Add(-7 * 24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	polling, err := k.started(l.path, url.Values{"_since": {weekAgo}})
	if err != nil {
		return err
	}
	return k.deleted(polling)
}

// errNotSeen is a check that could not be observed in this run (counted neither passed nor failed).
var errNotSeen = errors.New("not observed in this run")

// statusInProgress: every 202 of a status URL carries X-Progress and an integer Retry-After. An export of
// the demo data may finish before its first status request: a fresh system export is polled at once too.
func (k *bulkKit) statusInProgress(l *bulkLevel) error {
	seen := slices.Clone(l.progress)
	if polling, err := k.started("$export", nil); err == nil {
		_, _, _, progress, err := k.finish(polling)
		if err != nil {
			return err
		}
		seen = append(seen, progress...)
	}
	if len(seen) == 0 {
		return errNotSeen
	}
	for _, h := range seen {
		if h.Get("X-Progress") == "" {
			return errors.New("a 202 without X-Progress")
		}
		if n, err := strconv.Atoi(h.Get("Retry-After")); err != nil || n <= 0 {
			return fmt.Errorf("a 202 with Retry-After %q", h.Get("Retry-After"))
		}
	}
	return nil
}

// manifestCounts: each file has as many lines as the manifest's count.
func (k *bulkKit) manifestCounts(l *bulkLevel) error {
	if len(l.lines) == 0 {
		return errors.New("no files were downloaded")
	}
	for _, o := range l.manifest.Output {
		if n := len(l.lines[o.URL]); n != o.Count {
			return fmt.Errorf("%s: %d lines, count %d", o.URL, n, o.Count)
		}
	}
	return nil
}

// ownerOnly: another client's token gets neither the files nor the status of an export it did not start.
func (k *bulkKit) ownerOnly(l *bulkLevel) error {
	if len(l.manifest.Output) == 0 || l.polling == "" {
		return errors.New("no export to read")
	}
	st, _, _, err := k.download(l.manifest.Output[0].URL, k.other)
	if err != nil {
		return err
	}
	if st != http.StatusNotFound {
		return fmt.Errorf("a file with another client's token: %d, want 404", st)
	}
	st, _, body, err := k.do(http.MethodGet, l.polling, nil, "Authorization", "Bearer "+k.other)
	if err != nil {
		return err
	}
	return wantOutcome(st, body, http.StatusNotFound)
}

// typeParam: _type=Patient writes Patient files only, with the patients of the whole export.
func (k *bulkKit) typeParam(l *bulkLevel) error {
	m, err := k.export(l.path, url.Values{"_type": {"Patient"}})
	if err != nil {
		return err
	}
	ids, err := k.ids(m)
	if err != nil {
		return err
	}
	var want []string
	for id := range l.patients {
		want = append(want, "Patient/"+id)
	}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		return fmt.Errorf("_type=Patient wrote %v, want %v", ids, want)
	}
	return nil
}

// typeFilterParam: _typeFilter=Patient?gender=female writes the female patients only.
func (k *bulkKit) typeFilterParam(l *bulkLevel) error {
	m, err := k.export(l.path, url.Values{"_type": {"Patient"}, "_typeFilter": {"Patient?gender=female"}})
	if err != nil {
		return err
	}
	n := 0
	for _, o := range m.Output {
		_, _, lines, err := k.download(o.URL, k.token)
		if err != nil {
			return err
		}
		for _, line := range lines {
			var p struct{ Gender string }
			if err := json.Unmarshal(line, &p); err != nil || p.Gender != "female" {
				return fmt.Errorf("a patient of gender %q in a female-only export", p.Gender)
			}
			n++
		}
	}
	if n == 0 || n >= len(l.patients) {
		return fmt.Errorf("%d female patients of %d", n, len(l.patients))
	}
	return nil
}

// postParameters: a POST kick-off with a Parameters body (_type, and patients as references, one of them
// unknown) exports those patients only, and says nothing of the unknown one.
func (k *bulkKit) postParameters(l *bulkLevel) error {
	var member string
	for id := range l.patients {
		if member == "" || id < member {
			member = id
		}
	}
	if member == "" {
		return errors.New("no patient exported")
	}
	body := `{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Patient"},` +
		`{"name":"patient","valueReference":{"reference":"Patient/` + member + `"}},` +
		`{"name":"patient","valueReference":{"reference":"Patient/no-such-patient"}}]}`
	st, hdr, resp, err := k.do(http.MethodPost, k.h.base+"/"+l.path, []byte(body), "Authorization", "Bearer "+k.token,
		"Prefer", "respond-async", "Content-Type", "application/fhir+json", "Accept", "application/fhir+json")
	if err != nil {
		return err
	}
	if st != http.StatusAccepted || hdr.Get("Content-Location") == "" {
		return fmt.Errorf("POST kick-off: %d %.300s", st, resp)
	}
	st, _, resp, _, err = k.finish(hdr.Get("Content-Location"))
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("status %d %.300s %v", st, resp, err)
	}
	var m bulkManifest
	if err := json.Unmarshal(resp, &m); err != nil {
		return err
	}
	ids, err := k.ids(m)
	if err != nil {
		return err
	}
	if want := []string{"Patient/" + member}; !slices.Equal(ids, want) || len(m.Error) != 0 {
		return fmt.Errorf("wrote %v with errors %s, want %v and no error", ids, m.Error, want)
	}
	return nil
}

// invalidParams: each refused kick-off is a 400 OperationOutcome.
func (k *bulkKit) invalidParams(l *bulkLevel) error {
	for _, params := range []url.Values{
		{"_outputFormat": {"text/csv"}},
		{"_since": {"yesterday"}},
		{"_type": {"Nonsense"}},
		{"_typeFilter": {"Patient?colour=blue"}},
		{"_typeFilter": {"Condition?code=1"}, "_type": {"Patient"}},
		{"_elements": {"Nonsense.id"}},
		{"includeAssociatedData": {"_custom"}},
		{"_bogus": {"1"}},
	} {
		st, _, body, err := k.kickoff(l.path, params, true)
		if err != nil {
			return err
		}
		if err := wantOutcome(st, body, http.StatusBadRequest); err != nil {
			return fmt.Errorf("%v: %w", params, err)
		}
	}
	st, _, body, err := k.do(http.MethodGet, k.h.base+"/"+l.path, nil, "Authorization", "Bearer "+k.token)
	if err != nil {
		return err
	}
	if err := wantOutcome(st, body, http.StatusBadRequest); err != nil {
		return fmt.Errorf("without Prefer: respond-async: %w", err)
	}
	return nil
}
