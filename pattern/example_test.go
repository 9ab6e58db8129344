package pattern_test

import (
	"fmt"

	"github.com/foxstore/foxstore/pattern"
)

func Example() {
	p, err := pattern.Compile("song:[0-9]*:?")
	if err != nil {
		panic(err)
	}
	for _, key := range []string{"song:42:晴", "song:42:ab", "song:x:1"} {
		fmt.Println(key, p.Match(key))
	}
	// A backend only has to scan the keys that start with the prefix.
	fmt.Printf("prefix %q\n", p.Prefix())

	_, err = pattern.Compile("song:[0-9")
	fmt.Println(err)
	// Output:
	// song:42:晴 true
	// song:42:ab false
	// song:x:1 false
	// prefix "song:"
	// pattern "song:[0-9": unclosed '[' at byte offset 5
}

func ExamplePattern_Literal() {
	for _, s := range []string{`user:1`, `a\*`, `user:*`} {
		lit, ok := pattern.MustCompile(s).Literal()
		fmt.Printf("%s: %q %v\n", s, lit, ok)
	}
	// Output:
	// user:1: "user:1" true
	// a\*: "a*" true
	// user:*: "" false
}

func ExampleQuoteMeta() {
	q := pattern.QuoteMeta("what?[draft]") + "*"
	fmt.Println(q, pattern.MustCompile(q).Match("what?[draft] v2"))
	// Output: what\?\[draft\]* true
}
