package config_test

import (
	"fmt"
	"log"

	"github.com/mayflyhq/mayfly/internal/config"
)

func ExampleConfig_Match() {
	cfg, err := config.Parse("config.toml", []byte(`
[profiles.work]
issuer = "https://login.corp.example"
client_id = "mayfly"
match = ["*.corp.example"]

[profiles.infra]
issuer = "https://login.corp.example"
client_id = "mayfly-infra"
match = ["https://git.corp.example/infra/", "registry.corp.example:5000"]
`))
	if err != nil {
		log.Fatal(err)
	}
	for _, target := range []string{
		"https://git.corp.example/infra/deploy.git", // git with credential.useHttpPath
		"https://git.corp.example/web/site.git",
		"https://git.corp.example", // git without a path
		"registry.corp.example:5000",
		"https://registry.corp.example:5000/v2/",
		"https://github.com/",
	} {
		name := "(none)"
		if p := cfg.Match(target); p != nil {
			name = p.Name
		}
		fmt.Printf("%-45s %s\n", target, name)
	}
	// Output:
	// https://git.corp.example/infra/deploy.git     infra
	// https://git.corp.example/web/site.git         work
	// https://git.corp.example                      work
	// registry.corp.example:5000                    infra
	// https://registry.corp.example:5000/v2/        infra
	// https://github.com/                           (none)
}

func ExampleParse_error() {
	_, err := config.Parse("/home/u/.config/mayfly/config.toml", []byte(`
[profiles.work]
issuer = "http://example.com"
client_id = "mayfly"
match = ["https://git.corp.example/"]
`))
	fmt.Println(err)
	// Output:
	// /home/u/.config/mayfly/config.toml: profiles.work.issuer: http:// issuers are only allowed on loopback addresses (got "http://example.com")
}
