package claimrules

import (
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	for payload, ok := range map[string]bool{
		`{"iss":"a","sub":"1","exp":2,"iat":1,"nbf":-1}`: true,
		`{"sub":"1","Custom":{"Sub":1,"sub":2}}`:         true, // nested names are not claims
		`{"sub":"1","SUB":"2"}`:                          false,
		`{"Sub":"1"}`:                                    false,
		`{"client_ID":"c"}`:                              false,
		`{"sub":"1","sub":"2"}`:                          false,
		`{"sub":"1","\u0073ub":"2"}`:                     false,
		`{"sub":"1" , "sub" :"2"}`:                       false,
		`{"x":1,"x":2}`:                                  false,
		`{"exp":"2"}`:                                    false,
		`{"iat":null}`:                                   false,
		`{"nbf":true}`:                                   false,
		`[1]`:                                            false,
		`{"sub":`:                                        false,
	} {
		err := Check([]byte(payload))
		if (err == nil) != ok || err != nil && !errors.Is(err, ErrStrict) {
			t.Errorf("Check(%s) = %v, want ok %v", payload, err, ok)
		}
	}
}
