// Package fhirpath compiles and evaluates FHIRPath (http://hl7.org/fhirpath/N1, with the functions of
// the 2.1 draft that the official test suite uses) over FHIR R4 resources decoded from JSON (with
// json.Decoder.UseNumber): objects are map[string]any, arrays []any, numbers json.Number, and strings,
// booleans and nil.
//
// It passes the official FHIRPath R4 test suite (TestOfficialSuite runs every test of
// ../shared/fhirpath-r4) but for the tests listed, with their reasons, in
// testdata/suite-exclusions.txt, and compiles every constraint expression of the R4 core
// StructureDefinitions (TestCoreConstraintsCompile).
//
// # Language
//
//   - paths, with arrays flattened into collections; a leading type name ("Patient.name") selects the
//     context only when it is of that type; choice elements ("Observation.value" finds valueQuantity,
//     ...); primitives' "_name" siblings give them id and extension children;
//   - literals: strings, integers, decimals, booleans, dates, date/times and times of any precision
//     (@2015, @2015-02-04T14:34:28.123+10:00, @T14:34), quantities (4.5 'mg', 3 days) and {};
//     %resource, %rootResource, %context, %ucum, %sct, %loinc, %`vs-name`, %`ext-name`, $this,
//     $index, $total;
//   - every operator: . [] unary + - * / div mod + - & is as | < > <= >= = ~ != !~ in contains and
//     or xor implies. Equality and comparison follow the types: numbers by value, strings exactly,
//     dates and times by the specification's partial-precision rules (empty when the precisions differ
//     and the common components cannot decide), quantities after unit conversion (UCUM mass, length,
//     volume and time units, and the calendar durations of a fixed length); ~ compares decimals at the
//     precision of the less precise operand, strings without case and extra white space. Dates and
//     times add and subtract time-valued quantities; quantities add, subtract, multiply and divide.
//   - functions: existence (empty exists all allTrue anyTrue allFalse anyFalse subsetOf supersetOf
//     count distinct isDistinct), filtering and projection (where select repeat ofType), subsetting
//     (single first last tail skip take intersect exclude), combining (union combine), conversion
//     (iif toBoolean toInteger toDecimal toString toDate toDateTime toTime toQuantity and their
//     convertsTo forms), strings (indexOf lastIndexOf substring startsWith endsWith contains upper
//     lower replace matches matchesFull replaceMatches length toChars trim split join encode decode
//     escape unescape), math (abs ceiling exp floor ln log power round sqrt truncate), tree
//     navigation (children descendants), utility (trace now today timeOfDay type aggregate sort
//     lowBoundary highBoundary precision comparable), and the FHIR ones (extension hasValue resolve
//     memberOf conformsTo htmlChecks).
//
// # Types and the model
//
// Values computed by the evaluator (literals, results of operators and functions) have System types,
// whose Node.Type is "System.String", "System.Integer", "System.Decimal", "System.Boolean",
// "System.Date", "System.DateTime", "System.Time" or "System.Quantity". Values from the resource have
// FHIR types. A FHIR value is an instance of its type and of the types it specialises (code is a
// string, Age a Quantity, Patient a DomainResource and a Resource), never of a System type: "is
// Boolean" is false for a FHIR boolean, as the specification says.
//
// Without a model (Compile, or Options without Model), objects are typed only by their resourceType
// and by choice suffixes, and primitives by their JSON shape (string, boolean, integer, decimal).
// With Options.Model (package fhir's PathModel gives the R4 one), every element is typed from the
// definitions (Patient.birthDate is a date, Patient.name a HumanName, Patient.contact a
// BackboneElement), children() and descendants() are typed, a type test names a known type or fails
// (Patient.gender.as(string1)), and navigating to an element that no item's type defines is an error
// (Observation.valueQuantity: the element is "value"). Options.Strict adds the specification's
// strict-mode checks that the evaluator makes: a leading type name that is not the context's type,
// and a path step after a cast to a type without that element ((Observation.value as Period).unit).
//
// # The outside world
//
// resolve() without help resolves "#id" against the contained resources of %resource and other
// references to a synthetic {"resourceType", "id"} node (see ParseReference); conformsTo() answers for
// the core profiles by the resource's type. memberOf(), htmlChecks() and conformsTo() of other
// profiles fail with ErrNotSupported unless the caller supplies them through Options.Functions, which
// may also replace resolve() or add functions: a Func receives the input, the evaluated arguments,
// %resource and %context.
//
// # Deviations
//
//   - "as" (operator and function) fails on more than one item, as the specification says; the R4
//     search parameters apply it to repeating elements, so search indexing compiles with
//     Options.LenientAs, which makes "as" filter like ofType and lets a System type name match the FHIR
//     types that convert to it (value.as(DateTime) finds valueDateTime).
//   - union and distinct compare objects by their JSON form; children() lists the elements in the order
//     of their names, so that functions that depend on order are deterministic on it (the optional
//     checkOrderedFunctions analysis is not made).
//   - a time zone missing on one of two date/times makes their comparison undecided unless the dates
//     differ; unit conversion knows the common UCUM units, not the whole of UCUM.
//
// # Speed
//
// Without a model and supplied functions, most search parameter expressions (unions of paths with type
// filters and where(resolve() is T)) are evaluated by a plan that walks the resource without the
// general evaluator's intermediate collections; its results are the same, node for node, and so are
// its errors.
//
// Compile never panics and bounds the expression length (MaxExpressionLength) and nesting depth
// (MaxDepth); evaluation bounds the number of nodes it produces (MaxNodes) and the size of the strings
// and numbers it builds.
package fhirpath
