package memory_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/memory"
)

func ExampleStore() {
	ctx := context.Background()
	s := memory.New()
	if err := s.Set(ctx, "https://issuer.example/cli", []byte("refresh-token")); err != nil {
		panic(err)
	}
	v, err := s.Get(ctx, "https://issuer.example/cli")
	fmt.Printf("%s %v\n", v, err)

	_, err = s.Get(ctx, "https://other.example/cli")
	fmt.Println(errors.Is(err, backends.ErrNotFound))
	// Output:
	// refresh-token <nil>
	// true
}
