package gitsource_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/pkg/gitsource"
)

// A fixture repository is written with CommitFiles, opened in place, and a
// commit's catalog directory read as a file system.
func Example() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "gitsource-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	repoPath := filepath.Join(tmp, "repo.git")
	when := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)

	first, err := gitsource.CommitFiles(ctx, repoPath, "main", map[string][]byte{
		"catalog/entities/service/checkout.yaml": []byte("identifier: checkout\n"),
		"README.md":                              []byte("not part of the catalog\n"),
	}, "Add checkout", "Ada <ada@example.com>", when)
	if err != nil {
		log.Fatal(err)
	}
	second, err := gitsource.CommitFiles(ctx, repoPath, "main", map[string][]byte{
		"catalog/entities/service/checkout.yaml": []byte("identifier: checkout\ntitle: Checkout\n"),
		"catalog/entities/service/payments.yaml": []byte("identifier: payments\n"),
	}, "Add payments", "Grace <grace@example.com>", when.Add(time.Hour))
	if err != nil {
		log.Fatal(err)
	}

	repo, err := gitsource.Open(ctx, gitsource.Options{URL: repoPath, Dir: "catalog"})
	if err != nil {
		log.Fatal(err)
	}
	defer repo.Close()

	head, err := repo.Head(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(head.Hash == second, head.Author, head.When.Format(time.RFC3339))

	fsys, err := repo.FS(ctx, head.Hash)
	if err != nil {
		log.Fatal(err)
	}
	b, err := fsys.ReadFile("entities/service/checkout.yaml")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", b)

	changes, err := repo.Changes(ctx, first, second)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range changes {
		fmt.Println(c.Op, c.Path)
	}
	// Output:
	// true Grace 2024-05-01T10:00:00Z
	// identifier: checkout
	// title: Checkout
	// modified entities/service/checkout.yaml
	// added entities/service/payments.yaml
}
