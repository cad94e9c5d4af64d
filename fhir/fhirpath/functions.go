package fhirpath

import (
	"strings"
)

type funcImpl func(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error)

type funcDef struct {
	minArgs, maxArgs int
	typeArg          bool // the single argument is a type specifier (as, is, ofType)
	impl             funcImpl
}

// functions lists the supported FHIRPath functions. Compile rejects any other name.
var functions map[string]*funcDef

func init() {
	functions = map[string]*funcDef{
		"empty":              {0, 0, false, fnEmpty},
		"exists":             {0, 1, false, fnExists},
		"all":                {1, 1, false, fnAll},
		"allTrue":            {0, 0, false, boolAgg(true, true)},
		"anyTrue":            {0, 0, false, boolAgg(false, true)},
		"allFalse":           {0, 0, false, boolAgg(true, false)},
		"anyFalse":           {0, 0, false, boolAgg(false, false)},
		"not":                {0, 0, false, fnNot},
		"where":              {1, 1, false, fnWhere},
		"select":             {1, 1, false, fnSelect},
		"first":              {0, 0, false, fnFirst},
		"last":               {0, 0, false, fnLast},
		"tail":               {0, 0, false, fnTail},
		"skip":               {1, 1, false, fnSkip},
		"take":               {1, 1, false, fnTake},
		"single":             {0, 0, false, fnSingle},
		"count":              {0, 0, false, fnCount},
		"distinct":           {0, 0, false, fnDistinct},
		"isDistinct":         {0, 0, false, fnIsDistinct},
		"union":              {1, 1, false, fnUnion},
		"combine":            {1, 1, false, fnCombine},
		"ofType":             {1, 1, true, fnOfType},
		"as":                 {1, 1, true, fnAs},
		"is":                 {1, 1, true, fnIs},
		"extension":          {1, 1, false, fnExtension},
		"hasValue":           {0, 0, false, fnHasValue},
		"children":           {0, 0, false, fnChildren},
		"descendants":        {0, 0, false, fnDescendants},
		"resolve":            {0, 0, false, fnResolve},
		"memberOf":           {1, 1, false, fnMemberOf},
		"conformsTo":         {1, 1, false, fnConformsTo},
		"htmlChecks":         {0, 0, false, fnNeedsOutside},
		"indexOf":            {1, 1, false, fnIndexOf},
		"lastIndexOf":        {1, 1, false, fnIndexOf},
		"replace":            {2, 2, false, fnReplace},
		"matches":            {1, 1, false, fnMatches},
		"matchesFull":        {1, 1, false, fnMatches},
		"replaceMatches":     {2, 2, false, fnReplaceMatches},
		"toChars":            {0, 0, false, fnToChars},
		"trim":               {0, 0, false, fnTrim},
		"split":              {1, 1, false, fnSplit},
		"join":               {0, 1, false, fnJoin},
		"encode":             {1, 1, false, fnEncode},
		"decode":             {1, 1, false, fnEncode},
		"escape":             {1, 1, false, fnEscape},
		"unescape":           {1, 1, false, fnEscape},
		"toBoolean":          {0, 0, false, convFn(toBoolean, false)},
		"convertsToBoolean":  {0, 0, false, convFn(toBoolean, true)},
		"toInteger":          {0, 0, false, convFn(toInteger, false)},
		"convertsToInteger":  {0, 0, false, convFn(toInteger, true)},
		"toDecimal":          {0, 0, false, convFn(toDecimal, false)},
		"convertsToDecimal":  {0, 0, false, convFn(toDecimal, true)},
		"convertsToString":   {0, 0, false, convFn(toStringConv, true)},
		"toDate":             {0, 0, false, convFn(momentConv(kDate), false)},
		"convertsToDate":     {0, 0, false, convFn(momentConv(kDate), true)},
		"toDateTime":         {0, 0, false, convFn(momentConv(kDateTime), false)},
		"convertsToDateTime": {0, 0, false, convFn(momentConv(kDateTime), true)},
		"toTime":             {0, 0, false, convFn(momentConv(kTime), false)},
		"convertsToTime":     {0, 0, false, convFn(momentConv(kTime), true)},
		"toQuantity":         {0, 1, false, fnToQuantity(false)},
		"convertsToQuantity": {0, 1, false, fnToQuantity(true)},
		"abs":                {0, 0, false, fnAbs},
		"ceiling":            {0, 0, false, fnRounding},
		"floor":              {0, 0, false, fnRounding},
		"truncate":           {0, 0, false, fnRounding},
		"round":              {0, 1, false, fnRounding},
		"exp":                {0, 0, false, fnFloatMath},
		"ln":                 {0, 0, false, fnFloatMath},
		"sqrt":               {0, 0, false, fnFloatMath},
		"log":                {1, 1, false, fnLogPower},
		"power":              {1, 1, false, fnLogPower},
		"exclude":            {1, 1, false, fnExclude},
		"intersect":          {1, 1, false, fnIntersect},
		"subsetOf":           {1, 1, false, fnSubsetOf},
		"supersetOf":         {1, 1, false, fnSubsetOf},
		"repeat":             {1, 1, false, fnRepeat},
		"aggregate":          {1, 2, false, fnAggregate},
		"sort":               {0, MaxDepth, false, fnSort},
		"today":              {0, 0, false, fnNow},
		"now":                {0, 0, false, fnNow},
		"timeOfDay":          {0, 0, false, fnNow},
		"type":               {0, 0, false, fnType},
		"comparable":         {1, 1, false, fnComparable},
		"lowBoundary":        {0, 1, false, fnBoundary},
		"highBoundary":       {0, 1, false, fnBoundary},
		"precision":          {0, 0, false, fnPrecision},
		"startsWith":         {1, 1, false, strFn(strings.HasPrefix)},
		"endsWith":           {1, 1, false, strFn(strings.HasSuffix)},
		"contains":           {1, 1, false, strFn(strings.Contains)},
		"lower":              {0, 0, false, strMap(strings.ToLower)},
		"upper":              {0, 0, false, strMap(strings.ToUpper)},
		"length":             {0, 0, false, fnLength},
		"substring":          {1, 2, false, fnSubstring},
		"toString":           {0, 0, false, fnToString},
		"iif":                {2, 3, false, fnIif},
		"trace":              {1, 2, false, fnTrace},
	}
}

func fnEmpty(_ *evalCtx, _ *scope, in []Node, _ *ast) ([]Node, error) {
	return []Node{boolNode(len(in) == 0)}, nil
}

func fnExists(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	if len(a.args) == 1 {
		var err error
		if in, err = fnWhere(c, sc, in, a); err != nil {
			return nil, err
		}
	}
	return []Node{boolNode(len(in) > 0)}, nil
}

// each evaluates the lambda argument arg for every input item with $this and $index set.
func (c *evalCtx) each(in []Node, arg *ast, f func(i int, n Node, res []Node) (stop bool, err error)) error {
	item := make([]Node, 1)
	sc := &scope{this: item}
	for i, n := range in {
		item[0] = n
		sc.index = i
		res, err := c.eval(arg, sc)
		if err != nil {
			return err
		}
		stop, err := f(i, n, res)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

func fnWhere(c *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	var out []Node
	err := c.each(in, a.args[0], func(_ int, n Node, res []Node) (bool, error) {
		v, known, err := toBool(res, a.args[0])
		if err != nil {
			return true, err
		}
		if known && v {
			out = append(out, n)
		}
		return false, nil
	})
	return out, err
}

func fnSelect(c *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	var out []Node
	err := c.each(in, a.args[0], func(_ int, _ Node, res []Node) (bool, error) {
		out = append(out, res...)
		return false, c.count(len(res), a)
	})
	return out, err
}

func fnAll(c *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	all := true
	err := c.each(in, a.args[0], func(_ int, _ Node, res []Node) (bool, error) {
		v, known, err := toBool(res, a.args[0])
		if err != nil {
			return true, err
		}
		if !known || !v {
			all = false
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return []Node{boolNode(all)}, nil
}

// boolAgg implements allTrue (all=true, want=true), anyTrue, allFalse and anyFalse.
func boolAgg(all, want bool) funcImpl {
	return func(_ *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
		for _, n := range in {
			b, ok := n.Value.(bool)
			if !ok {
				return nil, evalErr(a, "%s() needs booleans, got %s", a.name, describe(n))
			}
			if all && b != want {
				return []Node{boolNode(false)}, nil
			}
			if !all && b == want {
				return []Node{boolNode(true)}, nil
			}
		}
		return []Node{boolNode(all)}, nil
	}
}

func fnNot(_ *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	v, known, err := toBool(in, a)
	if err != nil || !known {
		return nil, err
	}
	return []Node{boolNode(!v)}, nil
}

func fnFirst(_ *evalCtx, _ *scope, in []Node, _ *ast) ([]Node, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return in[:1:1], nil
}

func fnLast(_ *evalCtx, _ *scope, in []Node, _ *ast) ([]Node, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return in[len(in)-1 : len(in) : len(in)], nil
}

func fnTail(_ *evalCtx, _ *scope, in []Node, _ *ast) ([]Node, error) {
	if len(in) <= 1 {
		return nil, nil
	}
	return in[1:len(in):len(in)], nil
}

func (c *evalCtx) intArg(sc *scope, a *ast, i int) (int, bool, error) {
	res, err := c.eval(a.args[i], sc)
	if err != nil {
		return 0, false, err
	}
	return singleInt(res, a.args[i])
}

func fnSkip(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	n, ok, err := c.intArg(sc, a, 0)
	if err != nil || !ok {
		return nil, err
	}
	if n <= 0 {
		return in, nil
	}
	if n >= len(in) {
		return nil, nil
	}
	return in[n:len(in):len(in)], nil
}

func fnTake(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	n, ok, err := c.intArg(sc, a, 0)
	if err != nil || !ok || n <= 0 {
		return nil, err
	}
	if n >= len(in) {
		return in, nil
	}
	return in[:n:n], nil
}

func fnSingle(_ *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	if len(in) > 1 {
		return nil, evalErr(a, "single() on %d items", len(in))
	}
	return in, nil
}

func fnCount(_ *evalCtx, _ *scope, in []Node, _ *ast) ([]Node, error) {
	return []Node{intNode(len(in))}, nil
}

func fnDistinct(c *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	return union(a, c, in)
}

func fnIsDistinct(c *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	d, err := union(a, c, in)
	if err != nil {
		return nil, err
	}
	return []Node{boolNode(len(d) == len(in))}, nil
}

func fnUnion(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	other, err := c.eval(a.args[0], sc)
	if err != nil {
		return nil, err
	}
	return union(a, c, in, other)
}

func fnCombine(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	other, err := c.eval(a.args[0], sc)
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(in)+len(other))
	out = append(append(out, in...), other...)
	return out, c.count(len(out), a)
}

func fnOfType(c *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	if err := c.checkType(a); err != nil {
		return nil, err
	}
	return c.filterType(in, a.typ), nil
}

func fnAs(c *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	return c.as(in, a)
}

func fnIs(c *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	switch len(in) {
	case 0:
		return nil, nil
	case 1:
		return []Node{boolNode(c.isType(in[0].Type, a.typ))}, nil
	}
	return nil, evalErr(a, "is() needs a single item, got %d", len(in))
}

func fnExtension(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	res, err := c.eval(a.args[0], sc)
	if err != nil {
		return nil, err
	}
	url, ok, err := singleString(res, a.args[0], "extension url")
	if err != nil || !ok {
		return nil, err
	}
	var exts, out []Node
	for _, n := range in {
		exts = child(exts[:0], n, "extension")
		for _, e := range exts {
			if m, ok := e.Value.(map[string]any); ok {
				if u, _ := m["url"].(string); u == url {
					out = append(out, e)
				}
			}
		}
	}
	return out, c.count(len(out), a)
}

func fnHasValue(_ *evalCtx, _ *scope, in []Node, _ *ast) ([]Node, error) {
	if len(in) != 1 {
		return []Node{boolNode(false)}, nil
	}
	switch in[0].Value.(type) {
	case nil, map[string]any, []any:
		return []Node{boolNode(false)}, nil
	}
	return []Node{boolNode(true)}, nil
}

func fnChildren(c *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	var out []Node
	for _, n := range in {
		out = c.childrenOf(out, n)
		if err := c.count(0, a); err != nil {
			return nil, err
		}
	}
	return out, c.count(len(out), a)
}

func fnDescendants(c *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	var out []Node
	for _, n := range in {
		start := len(out)
		out = c.childrenOf(out, n)
		// breadth-first: the children of every node appended are appended in turn
		for i := start; i < len(out); i++ {
			before := len(out)
			out = c.childrenOf(out, out[i])
			if err := c.count(len(out)-before, a); err != nil {
				return nil, err
			}
		}
	}
	return out, c.count(len(out), a)
}

func fnMemberOf(_ *evalCtx, _ *scope, _ []Node, a *ast) ([]Node, error) {
	return nil, &EvalError{Pos: a.pos, Msg: "memberOf() is not supported (it needs a terminology service)", Err: ErrNotSupported}
}

// strFn implements startsWith, endsWith and contains on a single string input.
func strFn(f func(s, sub string) bool) funcImpl {
	return func(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
		s, ok, err := singleString(in, a, a.name+"() input")
		if err != nil || !ok {
			return nil, err
		}
		res, err := c.eval(a.args[0], sc)
		if err != nil {
			return nil, err
		}
		sub, ok, err := singleString(res, a.args[0], a.name+"() argument")
		if err != nil || !ok {
			return nil, err
		}
		return []Node{boolNode(f(s, sub))}, nil
	}
}

func strMap(f func(string) string) funcImpl {
	return func(_ *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
		s, ok, err := singleString(in, a, a.name+"() input")
		if err != nil || !ok {
			return nil, err
		}
		return []Node{stringNode(f(s))}, nil
	}
}

func fnLength(_ *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	s, ok, err := singleString(in, a, "length() input")
	if err != nil || !ok {
		return nil, err
	}
	return []Node{intNode(len([]rune(s)))}, nil
}

func fnSubstring(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	s, ok, err := singleString(in, a, "substring() input")
	if err != nil || !ok {
		return nil, err
	}
	start, ok, err := c.intArg(sc, a, 0)
	if err != nil || !ok {
		return nil, err
	}
	runes := []rune(s)
	if start < 0 || start >= len(runes) {
		return nil, nil
	}
	end := len(runes)
	if len(a.args) == 2 {
		n, ok, err := c.intArg(sc, a, 1)
		if err != nil {
			return nil, err
		}
		if ok {
			if n < 0 {
				n = 0
			}
			if n < end-start {
				end = start + n
			}
		}
	}
	return []Node{stringNode(string(runes[start:end]))}, nil
}

func fnIif(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	if a.left != nil && len(in) > 1 {
		return nil, evalErr(a, "iif() on %d items", len(in))
	}
	inner := &scope{this: in, index: sc.index, total: sc.total, hasTotal: sc.hasTotal}
	res, err := c.eval(a.args[0], inner)
	if err != nil {
		return nil, err
	}
	if len(res) == 1 && kindOf(res[0]) != kBool {
		return nil, evalErr(a.args[0], "iif() criterion must be a boolean, got %s", describe(res[0]))
	}
	v, known, err := toBool(res, a.args[0])
	if err != nil {
		return nil, err
	}
	if known && v {
		return c.eval(a.args[1], inner)
	}
	if len(a.args) == 3 {
		return c.eval(a.args[2], inner)
	}
	return nil, nil
}

func fnTrace(_ *evalCtx, _ *scope, in []Node, _ *ast) ([]Node, error) { return in, nil }

// childrenOf appends the children of n, typed by the model when there is one.
func (c *evalCtx) childrenOf(out []Node, n Node) []Node {
	if res, ok := c.modelChildren(out, n); ok {
		return res
	}
	return children(out, n)
}
