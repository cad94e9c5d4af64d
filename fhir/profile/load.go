package profile

import (
	"bytes"
	"compress/gzip"
	_ "embed" // the core profiles
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"fhirgate/fhir/fhirpath"
)

//go:embed core.json.gz
var coreData []byte

// coreBase is the prefix of the canonical URLs of R4's own definitions.
const coreBase = "http://hl7.org/fhir/StructureDefinition/"

// Set is a collection of profiles indexed by canonical URL (and url|version), with the value sets their
// required bindings can be checked against. A Set is read-only once built and safe for concurrent use.
type Set struct {
	profiles map[string]*Profile
	// valueSets holds the expansion of each value set that could be expanded: "system|code" and "|code".
	valueSets map[string]map[string]bool
	// baseRequired are the value sets base definitions bind required (the R4 validator checks those).
	baseRequired map[string]bool
}

// Profile is one constraint StructureDefinition, ready to validate against.
type Profile struct {
	URL, Version, ID, Name string
	// Type is the resource or data type the profile constrains.
	Type string
	// Base is the baseDefinition.
	Base string
	root *element
	set  *Set
}

// Label is the short name issues give the profile: its id, or else its URL.
func (p *Profile) Label() string {
	if p.ID != "" {
		return p.ID
	}
	return p.URL
}

// element is one element definition of a snapshot, with its children and slices.
type element struct {
	id, path, name, sliceName string
	min, max                  int // max -1: unbounded
	fixed, pattern            any
	slicing                   *slicing
	binding                   string // the value set of a required binding, without version
	constraints               []*constraint
	types                     []typeRef
	children                  []*element
	slices                    []*element
}

type typeRef struct {
	code     string
	profiles []string
}

type slicing struct {
	discriminators []discriminator
	closed         bool
}

type discriminator struct{ typ, path string }

type constraint struct {
	key, severity, human, expression string
	expr                             *fhirpath.Expr
	err                              error
}

// Core returns the core profiles of R4, embedded in the binary.
func Core() *Set { return core() }

var core = sync.OnceValue(func() *Set {
	s, err := parseCore(coreData)
	if err != nil {
		panic("profile: the embedded core profiles are broken: " + err.Error())
	}
	return s
})

func parseCore(data []byte) (*Set, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var in struct {
		Profiles     []json.RawMessage   `json:"profiles"`
		ValueSets    map[string][]string `json:"valueSets"`
		BaseRequired []string            `json:"baseRequired"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	s := &Set{profiles: map[string]*Profile{}, valueSets: map[string]map[string]bool{}, baseRequired: map[string]bool{}}
	for _, vs := range in.BaseRequired {
		s.baseRequired[vs] = true
	}
	for url, codes := range in.ValueSets {
		s.addValueSet(url, codes)
	}
	for _, b := range in.Profiles {
		p, err := parseProfile(b)
		if err != nil {
			return nil, err
		}
		s.add(p)
	}
	return s, nil
}

func (s *Set) addValueSet(url string, codes []string) {
	m := make(map[string]bool, 2*len(codes))
	for _, c := range codes {
		m[c] = true
		_, code, _ := strings.Cut(c, "|")
		m["|"+code] = true
	}
	s.valueSets[url] = m
}

func (s *Set) add(p *Profile) {
	p.set = s
	s.profiles[p.URL] = p
	if p.Version != "" {
		s.profiles[p.URL+"|"+p.Version] = p
	}
}

// Lookup returns the profile of a canonical URL, url or url|version.
func (s *Set) Lookup(url string) (*Profile, bool) {
	p, ok := s.profiles[url]
	return p, ok
}

// URLs returns the canonical URLs of the set's profiles, sorted.
func (s *Set) URLs() []string {
	var out []string
	for k, p := range s.profiles {
		if k == p.URL {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// LoadDir returns the core profiles and those of a folder: every *.json file holding a StructureDefinition
// with derivation constraint (an implementation guide's package/ folder; other resources and files are
// skipped, except ValueSets and CodeSystems, whose explicit codes the profiles' required bindings are
// checked against). A profile without a snapshot, or whose baseDefinition is neither an R4 type, a core
// profile nor another profile of the folder, is refused with an error naming its file.
func LoadDir(dir string) (*Set, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("profile: %s is not a folder", dir)
	}
	sort.Strings(files)
	c := core()
	s := &Set{profiles: map[string]*Profile{}, valueSets: map[string]map[string]bool{}, baseRequired: c.baseRequired}
	for k, v := range c.valueSets {
		s.valueSets[k] = v
	}
	for _, p := range c.profiles {
		cp := *p
		s.add(&cp)
	}
	var loaded []*Profile
	from := map[*Profile]string{}
	codeSystems := map[string][]string{}
	var valueSets []folderValueSet
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("profile: %w", err)
		}
		var head struct {
			ResourceType string `json:"resourceType"`
			Derivation   string `json:"derivation"`
			Kind         string `json:"kind"`
		}
		if json.Unmarshal(b, &head) != nil {
			continue // not a FHIR resource in JSON (an IG folder holds other files too)
		}
		switch head.ResourceType {
		case "StructureDefinition":
			if head.Derivation != "constraint" || head.Kind == "logical" {
				continue
			}
			p, err := parseProfile(b)
			if err != nil {
				return nil, fmt.Errorf("profile: %s: %w", filepath.Base(f), err)
			}
			loaded = append(loaded, p)
			from[p] = filepath.Base(f)
		case "CodeSystem":
			url, codes := folderCodeSystem(b)
			if url != "" {
				codeSystems[url] = codes
			}
		case "ValueSet":
			if vs, ok := parseFolderValueSet(b); ok {
				valueSets = append(valueSets, vs)
			}
		}
	}
	for _, p := range loaded {
		s.add(p)
	}
	for _, p := range loaded {
		if !s.knownBase(p.Base) {
			return nil, fmt.Errorf("profile: %s: the baseDefinition %q of %s is unknown", from[p], p.Base, p.URL)
		}
	}
	for _, vs := range valueSets {
		if codes, ok := vs.expand(codeSystems); ok {
			s.addValueSet(vs.url, codes)
		}
	}
	return s, nil
}

// knownBase reports whether a baseDefinition is an R4 type's definition or a profile of the set.
func (s *Set) knownBase(base string) bool {
	if _, ok := s.profiles[base]; ok {
		return true
	}
	name, ok := strings.CutPrefix(base, coreBase)
	return ok && name != "" && name[0] >= 'A' && name[0] <= 'Z' && !strings.Contains(name, "/")
}

// sdJSON is what the validator reads of a StructureDefinition.
type sdJSON struct {
	ResourceType   string `json:"resourceType"`
	URL            string `json:"url"`
	Version        string `json:"version"`
	ID             string `json:"id"`
	Name           string `json:"name"`
	Type           string `json:"type"`
	BaseDefinition string `json:"baseDefinition"`
	Snapshot       *struct {
		Element []map[string]json.RawMessage `json:"element"`
	} `json:"snapshot"`
}

func parseProfile(b []byte) (*Profile, error) {
	var d sdJSON
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	if d.URL == "" || d.Type == "" {
		return nil, fmt.Errorf("a profile needs a url and a type")
	}
	if d.Snapshot == nil || len(d.Snapshot.Element) == 0 {
		return nil, fmt.Errorf("the profile %s has no snapshot (only profiles with a snapshot can be loaded)", d.URL)
	}
	p := &Profile{URL: d.URL, Version: d.Version, ID: d.ID, Name: d.Name, Type: d.Type, Base: d.BaseDefinition}
	t := &tree{nodes: map[string]*element{}}
	for i, raw := range d.Snapshot.Element {
		el, err := parseElement(raw)
		if err != nil {
			return nil, fmt.Errorf("snapshot element %d: %w", i, err)
		}
		if err := t.place(el); err != nil {
			return nil, fmt.Errorf("snapshot element %d (%s): %w", i, el.id, err)
		}
	}
	p.root = t.ensure(d.Type)
	if p.root.id != d.Type {
		return nil, fmt.Errorf("the snapshot's root is not %s", d.Type)
	}
	return p, nil
}

func parseElement(raw map[string]json.RawMessage) (*element, error) {
	var f struct {
		ID        string `json:"id"`
		Path      string `json:"path"`
		SliceName string `json:"sliceName"`
		Min       *int   `json:"min"`
		Max       string `json:"max"`
		Slicing   *struct {
			Discriminator []struct {
				Type string `json:"type"`
				Path string `json:"path"`
			} `json:"discriminator"`
			Rules string `json:"rules"`
		} `json:"slicing"`
		Binding *struct {
			Strength string `json:"strength"`
			ValueSet string `json:"valueSet"`
		} `json:"binding"`
		Constraint []struct {
			Key        string `json:"key"`
			Severity   string `json:"severity"`
			Human      string `json:"human"`
			Expression string `json:"expression"`
			Source     string `json:"source"`
		} `json:"constraint"`
		Type []struct {
			Code    string   `json:"code"`
			Profile []string `json:"profile"`
		} `json:"type"`
	}
	plain := map[string]json.RawMessage{}
	for k, v := range raw {
		if !strings.HasPrefix(k, "fixed") && !strings.HasPrefix(k, "pattern") {
			plain[k] = v
		}
	}
	b, _ := json.Marshal(plain)
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	if f.Path == "" {
		return nil, fmt.Errorf("an element has no path")
	}
	el := &element{id: f.ID, path: f.Path, sliceName: f.SliceName, max: -1}
	if el.id == "" {
		el.id = f.Path
		if f.SliceName != "" {
			el.id += ":" + f.SliceName
		}
	}
	el.name = f.Path[strings.LastIndex(f.Path, ".")+1:]
	if f.Min != nil {
		el.min = *f.Min
	}
	if f.Max != "" && f.Max != "*" {
		n, err := strconv.Atoi(f.Max)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("max %q is not a number or *", f.Max)
		}
		el.max = n
	}
	for k, v := range raw {
		var err error
		switch {
		case strings.HasPrefix(k, "fixed"):
			el.fixed, err = decodeValue(v)
		case strings.HasPrefix(k, "pattern"):
			el.pattern, err = decodeValue(v)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if f.Slicing != nil {
		el.slicing = &slicing{closed: f.Slicing.Rules == "closed"}
		for _, d := range f.Slicing.Discriminator {
			el.slicing.discriminators = append(el.slicing.discriminators, discriminator{typ: d.Type, path: d.Path})
		}
	}
	if f.Binding != nil && f.Binding.Strength == "required" && f.Binding.ValueSet != "" {
		el.binding, _, _ = strings.Cut(f.Binding.ValueSet, "|")
	}
	for _, c := range f.Constraint {
		if !ownConstraint(c.Source) || c.Expression == "" {
			continue
		}
		k := &constraint{key: c.Key, severity: c.Severity, human: c.Human, expression: c.Expression}
		k.expr, k.err = fhirpath.Compile(c.Expression)
		el.constraints = append(el.constraints, k)
	}
	for _, t := range f.Type {
		el.types = append(el.types, typeRef{code: t.Code, profiles: t.Profile})
	}
	return el, nil
}

// ownConstraint reports whether a constraint is a profile's rather than a base definition's (which the
// R4 validator holds): no source, or a source that is not the definition of a type.
func ownConstraint(source string) bool {
	name, ok := strings.CutPrefix(source, coreBase)
	return source == "" || !ok || name == "" || name[0] < 'A' || name[0] > 'Z'
}

// decodeValue decodes a JSON value with numbers kept as json.Number (as resources are decoded).
func decodeValue(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// tree builds the element tree of a snapshot from the elements' ids ("Observation.category:VSCat.coding"):
// the parent of an element is its id without the last segment, and a segment "name:slice" is a slice of
// the element "name". Parents a reduced snapshot leaves out are made, constraining nothing.
type tree struct {
	nodes map[string]*element
}

func (t *tree) place(el *element) error {
	if old, ok := t.nodes[el.id]; ok {
		el.children, el.slices = old.children, old.slices
		*old = *el
		return nil
	}
	t.nodes[el.id] = el
	t.attach(el)
	return nil
}

// ensure returns the element of an id, made (unconstrained) if the snapshot has none.
func (t *tree) ensure(id string) *element {
	if el, ok := t.nodes[id]; ok {
		return el
	}
	last := id[strings.LastIndex(id, ".")+1:]
	name, slice, _ := strings.Cut(last, ":")
	el := &element{id: id, name: name, sliceName: slice, max: -1}
	el.path = pathOf(id)
	t.nodes[id] = el
	t.attach(el)
	return el
}

func (t *tree) attach(el *element) {
	i := strings.LastIndex(el.id, ".")
	if i < 0 {
		return // the root
	}
	parentID, last := el.id[:i], el.id[i+1:]
	if name, slice, ok := strings.Cut(last, ":"); ok && slice != "" {
		base := t.ensure(parentID + "." + name)
		base.slices = append(base.slices, el)
		return
	}
	parent := t.ensure(parentID)
	parent.children = append(parent.children, el)
}

// pathOf is an element id without its slice names.
func pathOf(id string) string {
	segs := strings.Split(id, ".")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ":")
	}
	return strings.Join(segs, ".")
}
