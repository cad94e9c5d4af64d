package fhirpath

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
)

// singleNumber returns the single numeric input of a math function; ok is false for an empty input.
func singleNumber(in []Node, a *ast) (d decimal, k kind, ok bool, err error) {
	switch len(in) {
	case 0:
		return decimal{}, kNone, false, nil
	case 1:
	default:
		return decimal{}, kNone, false, evalErr(a, "%s() on %d items", a.name, len(in))
	}
	k = kindOf(in[0])
	if k == kQuantity {
		q, qok := asQuantity(in[0])
		if qok {
			return q.value, k, true, nil
		}
	}
	if !isNumberKind(k) {
		return decimal{}, k, false, evalErr(a, "%s() needs a number, got %s", a.name, describe(in[0]))
	}
	d, ok = asDecimal(in[0].Value)
	if !ok {
		return decimal{}, k, false, evalErr(a, "%s() needs a number", a.name)
	}
	return d, k, true, nil
}

func fnAbs(_ *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	d, k, ok, err := singleNumber(in, a)
	if err != nil || !ok {
		return nil, err
	}
	d.neg = false
	if k == kQuantity {
		q, _ := asQuantity(in[0])
		text := q.text
		if len(text) > 0 && text[0] == '-' {
			text = text[1:]
		}
		return []Node{quantityNode(text, q.unit)}, nil
	}
	s, _ := numberText(in[0].Value)
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	return []Node{numberNode(json.Number(s))}, nil
}

// fnRounding implements ceiling, floor and truncate (integer results) and round([precision]).
func fnRounding(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	d, _, ok, err := singleNumber(in, a)
	if err != nil || !ok {
		return nil, err
	}
	r, rok := decimalRat(d)
	if !rok {
		return nil, evalErr(a, "number too large for %s()", a.name)
	}
	q := new(big.Int).Quo(r.Num(), r.Denom()) // towards zero
	rem := new(big.Rat).Sub(r, new(big.Rat).SetInt(q))
	switch a.name {
	case "ceiling":
		if rem.Sign() > 0 {
			q.Add(q, big.NewInt(1))
		}
	case "floor":
		if rem.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		}
	case "truncate":
	case "round":
		prec := 0
		if len(a.args) == 1 {
			p, ok, err := c.intArg(sc, a, 0)
			if err != nil {
				return nil, err
			}
			if ok {
				if p < 0 {
					return nil, evalErr(a, "round() precision must not be negative")
				}
				prec = min(p, maxArithDigits)
			}
		}
		return []Node{{Value: json.Number(roundRat(r, prec).FloatString(prec)), Type: sysDecimal, Index: -1}}, nil
	}
	return []Node{numberNode(json.Number(q.String()))}, nil
}

// fnFloatMath implements exp, ln, sqrt (decimal results by float arithmetic).
func fnFloatMath(_ *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	d, _, ok, err := singleNumber(in, a)
	if err != nil || !ok {
		return nil, err
	}
	x := decimalFloat(d)
	var y float64
	switch a.name {
	case "exp":
		y = math.Exp(x)
	case "ln":
		y = math.Log(x)
	case "sqrt":
		y = math.Sqrt(x)
	}
	return floatNode(y), nil
}

func decimalFloat(d decimal) float64 {
	s := "0"
	if d.digits != "" {
		s = "0." + d.digits + "e" + strconv.FormatInt(d.exp, 10)
		if d.neg {
			s = "-" + s
		}
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// floatNode returns a decimal node for f, or empty when f is not a finite number.
func floatNode(f float64) []Node {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if len(s) > 2*maxArithDigits {
		return nil
	}
	return []Node{{Value: json.Number(s), Type: sysDecimal, Index: -1}}
}

// fnLogPower implements log(base) and power(exponent).
func fnLogPower(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	d, k, ok, err := singleNumber(in, a)
	if err != nil || !ok {
		return nil, err
	}
	res, err := c.eval(a.args[0], sc)
	if err != nil {
		return nil, err
	}
	e, ek, ok, err := singleNumber(res, a)
	if err != nil || !ok {
		return nil, err
	}
	x, y := decimalFloat(d), decimalFloat(e)
	if a.name == "log" {
		return floatNode(math.Log(x) / math.Log(y)), nil
	}
	p := math.Pow(x, y)
	if k == kInteger && ek == kInteger && p == math.Trunc(p) && math.Abs(p) < 1<<53 {
		return []Node{numberNode(json.Number(strconv.FormatInt(int64(p), 10)))}, nil
	}
	return floatNode(p), nil
}
