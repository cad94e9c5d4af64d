package devissuer

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// LaunchLifetime is how long an EHR launch context waits for the app's authorization request.
const LaunchLifetime = 10 * time.Minute

// maxLaunches bounds the launch contexts waiting.
const maxLaunches = 10000

// launchContext is what an EHR launch gives the app: the patient and encounter in context and how to
// show itself.
type launchContext struct {
	patient, encounter string
	needPatientBanner  bool
	styleURL           string
	expires            time.Time
}

// Launch is an EHR launch context to create (what the EHR would know when the user opens an app).
type Launch struct {
	// Patient is the patient id in context (required).
	Patient string
	// Encounter is the encounter id in context (optional).
	Encounter string
	// NeedPatientBanner tells the app to show which patient it is about (the EHR shows none).
	NeedPatientBanner bool
	// StyleURL is SMART's smart_style_url (optional).
	StyleURL string
}

type launchStore struct {
	mu  sync.Mutex
	ctx map[string]*launchContext
}

// NewLaunch stores a launch context and returns its launch id, the value of the launch parameter
// the app passes to /authorize within LaunchLifetime. A launch id may be used by several authorization
// requests (an app may restart its sign-in) until it expires.
func (i *Issuer) NewLaunch(l Launch) (string, error) {
	id := strings.TrimPrefix(l.Patient, "Patient/")
	if !validID(id) {
		return "", errors.New("devissuer: a launch needs a patient id")
	}
	enc := strings.TrimPrefix(l.Encounter, "Encounter/")
	if l.Encounter != "" && !validID(enc) {
		return "", errors.New("devissuer: the encounter must be a FHIR id")
	}
	if l.StyleURL != "" {
		if u, err := url.Parse(l.StyleURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "", errors.New("devissuer: smart_style_url must be an absolute http(s) URL")
		}
	}
	now := i.cfg.Now()
	s := &i.launches
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		s.ctx = map[string]*launchContext{}
	}
	if len(s.ctx) >= maxLaunches {
		for k, c := range s.ctx {
			if now.After(c.expires) {
				delete(s.ctx, k)
			}
		}
		if len(s.ctx) >= maxLaunches {
			return "", errors.New("devissuer: too many launches are waiting; try again in a few minutes")
		}
	}
	launch := randomString(16)
	s.ctx[launch] = &launchContext{patient: id, encounter: enc, needPatientBanner: l.NeedPatientBanner,
		styleURL: l.StyleURL, expires: now.Add(LaunchLifetime)}
	return launch, nil
}

// launch returns a live launch context (nil when unknown or expired).
func (i *Issuer) launch(id string) *launchContext {
	s := &i.launches
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.ctx[id]
	if c == nil || i.cfg.Now().After(c.expires) {
		return nil
	}
	return c
}

// serveLaunch creates a launch context: POST /launch with patient, encounter, need_patient_banner and
// smart_style_url; the answer is {"launch": id}. It stands for the EHR (fhirgate launch calls it).
func (i *Issuer) serveLaunch(w http.ResponseWriter, r *http.Request) {
	if !i.formEndpoint(w, r, "the launch endpoint takes POST") {
		return
	}
	form, err := readForm(w, r)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	banner := form.Get("need_patient_banner")
	if banner != "" && banner != "true" && banner != "false" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "need_patient_banner must be true or false")
		return
	}
	app := form.Get("app") // set by the launch page: answer with a page, not JSON
	var appURL *url.URL
	if app != "" {
		u, err := url.Parse(app)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			errorPage(w, http.StatusBadRequest, "The app's launch URL must be an absolute http(s) URL.")
			return
		}
		appURL = u
	}
	id, err := i.NewLaunch(Launch{Patient: strings.TrimPrefix(form.Get("patient"), "Patient/"), Encounter: form.Get("encounter"),
		NeedPatientBanner: banner != "false", StyleURL: form.Get("smart_style_url")})
	if err != nil {
		if appURL != nil {
			errorPage(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "devissuer: "))
			return
		}
		oauthError(w, http.StatusBadRequest, "invalid_request", strings.TrimPrefix(err.Error(), "devissuer: "))
		return
	}
	if appURL != nil {
		// A link the user follows, never a redirect: this endpoint must not send browsers elsewhere on
		// a third party's behalf.
		q := appURL.Query()
		q.Set("iss", i.cfg.Audience)
		q.Set("launch", id)
		appURL.RawQuery = q.Encode()
		render(w, http.StatusOK, "'none'", "launched", map[string]string{"Launch": id, "URL": appURL.String()})
		return
	}
	noStore(w)
	writeJSON(w, http.StatusOK, map[string]string{"launch": id})
}

// serveLaunchPage is the EHR launch page: pick a patient (and an encounter), give the app's launch URL,
// and get the link that launches it.
func (i *Issuer) serveLaunchPage(w http.ResponseWriter, _ *http.Request) {
	render(w, http.StatusOK, "'self'", "launch", i.cfg.Patients)
}
