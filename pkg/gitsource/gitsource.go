package gitsource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Errors returned by this package, wrapped with context and a hint saying
// what to do. ErrUnreachable is the only one worth retrying on its own; the
// others need the configuration or the repository fixed.
var (
	// ErrUnreachable: the remote could not be reached or read (network,
	// DNS, a missing or deleted repository). Retry with backoff.
	ErrUnreachable = errors.New("remote unreachable")
	// ErrAuth: the remote refused the credentials, or needs some.
	ErrAuth = errors.New("authentication failed")
	// ErrBranchNotFound: the branch does not exist in the repository.
	ErrBranchNotFound = errors.New("branch not found")
	// ErrNotRepository: a local path is not a Git repository.
	ErrNotRepository = errors.New("not a git repository")
	// ErrCommitNotFound: a commit hash is malformed or not in the repository.
	ErrCommitNotFound = errors.New("commit not found")
	// ErrDirNotFound: Options.Dir is not a directory in the commit's tree.
	ErrDirNotFound = errors.New("catalog directory not found")
	// ErrConfig: the Options are invalid.
	ErrConfig = errors.New("invalid source configuration")
	// ErrCloneInUse: another process holds the clone of the same remote
	// in the same data directory (see Open).
	ErrCloneInUse = errors.New("clone in use")
)

// DefaultBranch is the branch followed when Options.Branch is empty.
const DefaultBranch = "main"

// tokenUser is the basic-auth user name GitHub expects with a token (any
// non-empty name works for personal access tokens; installation tokens
// require this one).
const tokenUser = "x-access-token"

// Options say which repository, branch and directory a Repo follows.
type Options struct {
	// URL is a local path or a remote URL (https://, http://, ssh://,
	// user@host:path, git://, file://).
	URL string
	// Branch is the branch to follow; DefaultBranch when empty.
	Branch string
	// Dir is the slash-separated subdirectory of the repository holding
	// the catalog; "" or "." is the repository root.
	Dir string
	// DataDir is where remotes are cloned; required for remotes, unused
	// for local paths.
	DataDir string
	// Token authenticates https remotes (basic auth, user
	// "x-access-token"). It is never logged and never written to disk.
	Token string
}

// Commit is a commit of the followed branch.
type Commit struct {
	Hash        string
	Parents     []string
	Author      string
	AuthorEmail string
	// When is the committer time: when the commit entered the branch's
	// history, which is what "updated at" means for a catalog.
	When    time.Time
	Message string
}

// Repo is an opened source: a local repository read in place, or the bare
// clone of a remote in the data directory. A Repo is safe for concurrent
// use; go-git's object store is not, so reads of commits and trees are
// serialised (blobs are read in parallel, through a pool of stores of their
// own), and a Fetch in progress holds those reads until it ends. Two
// processes should not share one DataDir clone.
type Repo struct {
	opts   Options
	remote bool
	gitDir string // where the repository lives on disk
	ref    plumbing.ReferenceName
	auth   transport.AuthMethod

	mu   sync.Mutex // guards repo and trees
	repo *git.Repository
	// store is repo's object store, on disk (see keepPacksOpen).
	store *filesystem.Storage
	trees treeCache
	// blobs reads blobs in parallel, outside mu.
	blobs *blobPool
	// objects is the main store's cache of object content.
	objects cache.Object
	// packs are the packs of a local repository as last listed (see
	// refreshPacks).
	packs []plumbing.Hash
	// lock holds the clone's lock file (remote repositories only).
	lock *os.File
	// compacting serialises Compact, which holds mu only at its end.
	compacting sync.Mutex
}

// withDefaults validates o and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	if o.URL == "" {
		return o, fmt.Errorf("%w: no repository URL or path given", ErrConfig)
	}
	o.Branch = strings.TrimPrefix(o.Branch, "refs/heads/")
	if o.Branch == "" {
		o.Branch = DefaultBranch
	}
	if err := plumbing.NewBranchReferenceName(o.Branch).Validate(); err != nil {
		return o, fmt.Errorf("%w: branch %q is not a valid branch name", ErrConfig, o.Branch)
	}
	d := path.Clean(o.Dir)
	if path.IsAbs(d) || d == ".." || strings.HasPrefix(d, "../") {
		return o, fmt.Errorf("%w: dir %q must be a path inside the repository, relative to its root", ErrConfig, o.Dir)
	}
	if d == "." {
		d = ""
	}
	o.Dir = d
	return o, nil
}

// Open opens the source described by opts. A local path is opened in place.
// A remote is cloned, bare, into a directory under opts.DataDir the first
// time, and reopened without network access afterwards; an interrupted
// clone is resumed by fetching again. The clone is locked (flock) while the
// Repo is open: a second process, or a second Open, of the same remote in the
// same data directory gets ErrCloneInUse instead of fetching into it too.
// Errors wrap ErrConfig, ErrNotRepository, ErrCloneInUse, or for the first
// clone those of Fetch.
func Open(ctx context.Context, opts Options) (*Repo, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Repo{opts: opts, remote: isRemote(opts.URL)}
	if !r.remote {
		r.gitDir = opts.URL
		r.ref = plumbing.NewBranchReferenceName(opts.Branch)
		r.objects = cache.NewObjectLRUDefault()
		r.repo, r.store, err = openLocal(opts.URL, r.objects)
		if err != nil {
			return nil, err
		}
		r.blobs = newBlobPool(r.store.Filesystem())
		r.packs = r.listPacks()
		return r, nil
	}

	if opts.DataDir == "" {
		return nil, fmt.Errorf("%w: a data directory is needed to clone %s", ErrConfig, redact(opts.URL))
	}
	r.ref = plumbing.NewRemoteReferenceName("origin", opts.Branch)
	r.gitDir = filepath.Join(opts.DataDir, "git", cloneName(opts.URL))
	if opts.Token != "" && (strings.HasPrefix(opts.URL, "https://") || strings.HasPrefix(opts.URL, "http://")) {
		r.auth = &githttp.BasicAuth{Username: tokenUser, Password: opts.Token}
	}
	// ssh remotes leave auth nil: go-git then uses the ssh agent
	// (SSH_AUTH_SOCK) and ~/.ssh/known_hosts, as git does.
	if err := os.MkdirAll(filepath.Dir(r.gitDir), 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if r.lock, err = lockClone(r.gitDir + ".lock"); err != nil {
		return nil, err
	}
	if err := removeStrays(r.gitDir); err != nil {
		return nil, errors.Join(err, r.lock.Close())
	}
	r.objects = cache.NewObjectLRUDefault()
	if r.repo, r.store, err = openClone(r.gitDir, opts.URL, r.objects); err != nil {
		return nil, errors.Join(err, r.lock.Close())
	}
	r.blobs = newBlobPool(r.store.Filesystem())
	if _, err := r.repo.Storer.Reference(r.ref); err == nil {
		return r, nil
	}
	if err := r.Fetch(ctx); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// Close releases the files held by the object store.
func (r *Repo) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	errs := []error{r.blobs.close(), r.store.Close()}
	if r.lock != nil {
		errs = append(errs, r.lock.Close())
		r.lock = nil
	}
	return errors.Join(errs...)
}

// Trim empties the caches of object content (the blobs a full load read,
// each once, kept only for the delta bases among them, and the raw commits
// and trees) and closes the stores that read blobs in parallel, each of
// which holds a copy of the pack index; the next reads open them again. A
// process holds tens of megabytes less after a full load. Decoded trees
// stay cached, as the tree diff of the next commit reads them. The error
// is a store's failure to close; reads work on.
func (r *Repo) Trim() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.objects.Clear()
	if err := r.blobs.trim(); err != nil {
		return fmt.Errorf("trim: %w", err)
	}
	return nil
}

// Remote reports whether the source is a remote cloned into the data
// directory (true) or a local repository read in place (false).
func (r *Repo) Remote() bool { return r.remote }

// Fetch brings the branch's new commits from a remote into the bare clone,
// as one new pack; Compact keeps the packs few. "Already up to date" is
// success. For a local repository it only lists the packs again, so packs
// written or removed by git since (push, gc) are seen. Errors wrap
// ErrUnreachable, ErrAuth or ErrBranchNotFound.
func (r *Repo) Fetch(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.remote {
		r.refreshPacks()
		return nil
	}
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(r.opts.Branch), r.ref))
	err := r.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{spec},
		Auth:       r.auth,
		Tags:       git.NoTags,
	})
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return r.classify(err)
}

// Head returns the commit the branch points at: for a remote, as of the last
// Fetch (Head itself never touches the network). Errors wrap
// ErrBranchNotFound.
func (r *Repo) Head(ctx context.Context) (Commit, error) {
	if err := ctx.Err(); err != nil {
		return Commit{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ref, err := r.repo.Reference(r.ref, true)
	if err != nil {
		return Commit{}, fmt.Errorf("read %s of %s: %w (check the branch name; it must exist and hold a commit): %w",
			r.opts.Branch, redact(r.opts.URL), ErrBranchNotFound, err)
	}
	c, err := r.commit(ref.Hash())
	if err != nil {
		return Commit{}, err
	}
	return toCommit(c), nil
}

// Commit returns the commit with the given hash. Errors wrap
// ErrCommitNotFound.
func (r *Repo) Commit(ctx context.Context, hash string) (Commit, error) {
	if err := ctx.Err(); err != nil {
		return Commit{}, err
	}
	h, err := parseHash(hash)
	if err != nil {
		return Commit{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.commit(h)
	if err != nil {
		return Commit{}, err
	}
	return toCommit(c), nil
}

// commit reads a commit object; r.mu must be held.
func (r *Repo) commit(h plumbing.Hash) (*object.Commit, error) {
	obj, err := r.object(plumbing.CommitObject, h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("read commit %s: %w", h, ErrCommitNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	c, err := object.DecodeCommit(r.repo.Storer, obj)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	return c, nil
}

// object reads object h of type t from the main store; r.mu must be held.
// In a local repository a miss lists the packs again first: git (or
// CommitFiles) may have written the object's pack since they were listed.
func (r *Repo) object(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := r.repo.Storer.EncodedObject(t, h)
	if missing(err) && !r.remote && r.refreshPacks() {
		obj, err = r.repo.Storer.EncodedObject(t, h)
	}
	return obj, err
}

// listPacks returns the sorted hashes of the packs on disk, nil when they
// cannot be listed (the reads that follow say why).
func (r *Repo) listPacks() []plumbing.Hash {
	packs, err := r.store.ObjectPacks()
	if err != nil {
		return nil
	}
	plumbing.HashesSort(packs)
	return packs
}

// refreshPacks lists the packs of a local repository again and, when they
// changed, has the stores read the new list (see forgetPacks). It reports
// whether they changed. Only the list is read when nothing changed; go-git
// would otherwise re-read every pack's index. r.mu must be held.
func (r *Repo) refreshPacks() bool {
	packs := r.listPacks()
	if slices.Equal(packs, r.packs) {
		return false
	}
	r.packs = packs
	// The stores only read: failing to close a pack file loses nothing.
	_ = r.forgetPacks()
	return true
}

// forgetPacks closes the main store's pack files and drops its list of
// packs, which its next read lists again, and has the pool's stores reopen.
// It is how every store learns that packs were removed. r.mu must be held.
func (r *Repo) forgetPacks() error {
	r.blobs.stale()
	err := r.store.Close()
	r.store.Reindex()
	return err
}

// dirHash returns the hash of the tree of Options.Dir in commit c, or the
// zero hash when the directory does not exist there; r.mu must be held.
func (r *Repo) dirHash(c *object.Commit) (plumbing.Hash, error) {
	h := c.TreeHash
	if r.opts.Dir == "" {
		return h, nil
	}
	for _, name := range strings.Split(r.opts.Dir, "/") {
		dn, err := r.dirNode(h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read tree of %s: %w", c.Hash, err)
		}
		i, ok := dn.find(name)
		if !ok || dn.entries[i].Mode != filemode.Dir {
			return plumbing.ZeroHash, nil
		}
		h = dn.entries[i].Hash
	}
	return h, nil
}

func toCommit(c *object.Commit) Commit {
	parents := make([]string, len(c.ParentHashes))
	for i, p := range c.ParentHashes {
		parents[i] = p.String()
	}
	return Commit{
		Hash:        c.Hash.String(),
		Parents:     parents,
		Author:      c.Author.Name,
		AuthorEmail: c.Author.Email,
		When:        c.Committer.When,
		Message:     c.Message,
	}
}

func parseHash(s string) (plumbing.Hash, error) {
	if !plumbing.IsHash(s) {
		return plumbing.ZeroHash, fmt.Errorf("%q is not a full commit hash: %w", s, ErrCommitNotFound)
	}
	return plumbing.NewHash(s), nil
}

func openLocal(p string, objects cache.Object) (*git.Repository, *filesystem.Storage, error) {
	repo, err := git.PlainOpenWithOptions(p, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) || errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("open %s: %w (give the repository's top directory, or a remote URL)", p, ErrNotRepository)
		}
		return nil, nil, fmt.Errorf("open %s: %w: %w", p, ErrNotRepository, err)
	}
	return keepPacksOpen(repo, objects)
}

// maxOpenPacks bounds the pack files kept open per repository.
const maxOpenPacks = 64

// keepPacksOpen reopens repo on a storage that keeps pack files open
// between reads. go-git's default opens the pack file again for every
// object, which made reading 10k blobs spend most of its time in open(2).
// The new store caches objects in objects. repo is one git.PlainOpen or
// PlainInit returned, whose store is always on disk.
func keepPacksOpen(repo *git.Repository, objects cache.Object) (*git.Repository, *filesystem.Storage, error) {
	fs := repo.Storer.(*filesystem.Storage).Filesystem()
	s := filesystem.NewStorageWithOptions(fs, objects, filesystem.Options{MaxOpenDescriptors: maxOpenPacks})
	r, err := git.Open(s, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", fs.Root(), err)
	}
	return r, s, nil
}

// openClone opens the bare clone at dir, creating it (empty, with the origin
// remote) when missing. Nothing is fetched here.
func openClone(dir, rawURL string, objects cache.Object) (*git.Repository, *filesystem.Storage, error) {
	repo, err := git.PlainOpen(dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		// Open created the data directory to lock the clone.
		repo, err = git.PlainInit(dir, true)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open clone %s: %w", dir, err)
	}
	rc := &config.RemoteConfig{Name: "origin", URLs: []string{rawURL}}
	rem, err := repo.Remote("origin")
	switch {
	case errors.Is(err, git.ErrRemoteNotFound):
		if _, err := repo.CreateRemote(rc); err != nil {
			return nil, nil, fmt.Errorf("configure clone %s: %w", dir, err)
		}
	case err != nil:
		return nil, nil, fmt.Errorf("open clone %s: %w", dir, err)
	case len(rem.Config().URLs) != 1 || rem.Config().URLs[0] != rawURL:
		cfg, err := repo.Config()
		if err != nil {
			return nil, nil, fmt.Errorf("open clone %s: %w", dir, err)
		}
		cfg.Remotes["origin"] = rc
		if err := repo.SetConfig(cfg); err != nil {
			return nil, nil, fmt.Errorf("configure clone %s: %w", dir, err)
		}
	}
	return keepPacksOpen(repo, objects)
}

var scpLike = regexp.MustCompile(`^(?:[^@/]+@)?[^/:]{2,}:`)

// isRemote tells a remote URL from a local path. An existing local path
// wins over a scp-like reading of the same string.
func isRemote(u string) bool {
	if strings.Contains(u, "://") {
		return true
	}
	if _, err := os.Stat(u); err == nil {
		return false
	}
	return scpLike.MatchString(u)
}

// cloneName names the clone directory: readable, and unique per URL so a
// changed URL never reuses another repository's clone.
func cloneName(u string) string {
	sum := sha256.Sum256([]byte(redact(u)))
	slug := redact(u)
	if i := strings.Index(slug, "://"); i >= 0 {
		slug = slug[i+3:]
	}
	slug = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, strings.TrimSuffix(slug, ".git"))
	slug = strings.Trim(slug, "_.")
	if len(slug) > 60 {
		slug = slug[len(slug)-60:]
	}
	return slug + "-" + hex.EncodeToString(sum[:6]) + ".git"
}

// redact drops any password from a URL before it goes into a message.
func redact(u string) string {
	if p, err := url.Parse(u); err == nil && p.User != nil {
		return p.Redacted()
	}
	return u
}

// classify maps a fetch error to a sentinel and says what to do.
func (r *Repo) classify(err error) error {
	op := fmt.Sprintf("fetch %s branch %s", redact(r.opts.URL), r.opts.Branch)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	msg := err.Error()
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod),
		strings.Contains(msg, "unable to authenticate"),
		strings.Contains(msg, "knownhosts"),
		strings.Contains(msg, "SSH_AUTH_SOCK"):
		hint := "set BERTH_GIT_TOKEN or GITHUB_TOKEN to a token that can read the repository"
		if !strings.HasPrefix(r.opts.URL, "http") {
			hint = "load a key that can read the repository into ssh-agent (SSH_AUTH_SOCK) and add the host to known_hosts"
		}
		return fmt.Errorf("%s: %w (%s): %w", op, ErrAuth, hint, err)
	case errors.Is(err, git.NoMatchingRefSpecError{}), errors.Is(err, transport.ErrEmptyRemoteRepository):
		return fmt.Errorf("%s: %w (push the branch, or follow another one): %w", op, ErrBranchNotFound, err)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("%s: %w (the repository is missing or the URL is wrong; a private repository without a valid token looks missing too; will retry): %w",
			op, ErrUnreachable, err)
	}
	return fmt.Errorf("%s: %w (check the network and the URL; will retry): %w", op, ErrUnreachable, err)
}
