//go:build linux || freebsd

package secretservice

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/mayflyhq/mayfly/backends"
)

// Names from the spec's interface reference.
const (
	busName     = "org.freedesktop.secrets"
	servicePath = dbus.ObjectPath("/org/freedesktop/secrets")

	ifaceService    = "org.freedesktop.Secret.Service"
	ifaceCollection = "org.freedesktop.Secret.Collection"
	ifaceItem       = "org.freedesktop.Secret.Item"
	ifacePrompt     = "org.freedesktop.Secret.Prompt"
	ifaceProperties = "org.freedesktop.DBus.Properties"

	// noPrompt is the path a method returns when it needs no prompt
	// (spec chapter 9, "Prompts and Prompting").
	noPrompt = dbus.ObjectPath("/")

	// loginCollection is where gnome-keyring keeps the keyring unlocked
	// with the user's login password; the fallback when no collection has
	// the alias "default".
	loginCollection = dbus.ObjectPath("/org/freedesktop/secrets/collection/login")

	// contentType says the value is opaque bytes: the content_type of the
	// Secret structure (spec Part II, "Types").
	contentType = "application/octet-stream"
)

// errNoBus is what every operation returns without a session bus address.
var errNoBus = fmt.Errorf("no D-Bus session bus ($DBUS_SESSION_BUS_ADDRESS unset): %w", backends.ErrUnsupported)

// errNoService means no process owns org.freedesktop.secrets and the bus
// could not start one.
var errNoService = fmt.Errorf("no Secret Service on the D-Bus session bus (nothing owns %s: start gnome-keyring-daemon, KeePassXC or another provider): %w", busName, backends.ErrUnsupported)

// errNoCollection means the Secret Service has nowhere to put Mayfly's
// items. The store never creates a collection: that would prompt for a new
// keyring password and leave the user a keyring they did not ask for.
var errNoCollection = fmt.Errorf(`the Secret Service has no default collection (no collection has the alias "default" and there is no "login" collection): create a keyring and make it the default, for example in Seahorse, or start gnome-keyring-daemon with --unlock: %w`, backends.ErrUnsupported)

// errPrompt means the Secret Service wanted to show a prompt that the store
// may not show.
var errPrompt = errors.New("the Secret Service wants to show a prompt on the desktop, and this store does not prompt (Options.Prompt is off)")

// Store is a store in the Secret Service's default collection. A Store is
// safe for concurrent use. It keeps no connection open: each operation
// connects to the bus, does its calls and disconnects, so an operation that
// times out leaves nothing behind.
type Store struct {
	addr          string
	timeout       time.Duration
	prompt        bool
	promptTimeout time.Duration

	mu         sync.Mutex
	provider   string // the Secret Service's program, learned by Available
	collection string // last element of the collection's path, learned by every operation
}

// New returns a store configured by opts. It does not connect: see
// [Store.Available].
func New(opts Options) *Store {
	s := &Store{
		addr:          opts.Address,
		timeout:       opts.Timeout,
		prompt:        opts.Prompt,
		promptTimeout: opts.PromptTimeout,
	}
	if s.addr == "" {
		s.addr = os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.promptTimeout <= 0 {
		s.promptTimeout = DefaultPromptTimeout
	}
	return s
}

// Available reports whether the store works: it connects to the bus, finds
// the default collection, checks that it is unlocked and opens a session
// (encrypted unless the provider cannot), within the store's timeout. It returns nil if all of that works,
// and otherwise an error that says what is wrong: one matching
// [backends.ErrUnsupported] when there is no bus, no Secret Service or no
// default collection; [ErrLocked] when the collection is locked (Available
// never prompts, even with [Options.Prompt]); [context.DeadlineExceeded]
// when the Secret Service does not answer in time. After a success,
// [Store.Describe] names the Secret Service's program.
func (s *Store) Available(ctx context.Context) error {
	err := s.do(ctx, opNoPrompt|opSession, func(c *client) error {
		c.learnProvider()
		return nil
	})
	if err != nil {
		return fmt.Errorf("secretservice: %w", err)
	}
	return nil
}

// Describe reports the store. It does no I/O: the Detail names the Secret
// Service's program and collection once [Store.Available] or another
// operation has found them.
func (s *Store) Describe() backends.Description {
	s.mu.Lock()
	provider, collection := s.provider, s.collection
	s.mu.Unlock()
	detail := "Secret Service on the D-Bus session bus"
	if provider != "" {
		detail = fmt.Sprintf("Secret Service (%s) on the D-Bus session bus", provider)
	}
	if collection != "" {
		detail += fmt.Sprintf(", collection %q", collection)
	}
	return backends.Description{
		Name:       "secret-service",
		Protection: backends.ProtectionOSUser,
		Detail:     detail + "; readable by any process of this user while the collection is unlocked",
	}
}

// Get returns the value stored under key. It returns an error matching
// [backends.ErrNotFound] if there is none.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := backends.ValidKey(key); err != nil {
		return nil, fmt.Errorf("secretservice: get %q: %w", key, err)
	}
	var value []byte
	err := s.do(ctx, opSession, func(c *client) error {
		items, err := c.search(itemAttributes(key))
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return backends.ErrNotFound
		}
		// Item.GetSecret(IN ObjectPath session, OUT Secret secret), spec
		// org.freedesktop.Secret.Item.
		var sec secret
		err = c.conn.Object(busName, items[0]).CallWithContext(c.ctx, ifaceItem+".GetSecret", 0, c.session).Store(&sec)
		if isNoSuchObject(err) {
			return backends.ErrNotFound // deleted since the search
		}
		if err != nil {
			return c.classify(err)
		}
		value, err = c.reveal(sec)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("secretservice: get %q: %w", key, err)
	}
	return value, nil
}

// Set stores value under key, replacing any previous value atomically: the
// Secret Service replaces the item whose attributes match in one call. A
// value longer than [MaxValueSize] gives an error matching
// [backends.ErrTooLarge].
func (s *Store) Set(ctx context.Context, key string, value []byte) error {
	if err := backends.ValidKey(key); err != nil {
		return fmt.Errorf("secretservice: set %q: %w", key, err)
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("secretservice: set %q: %d bytes, more than %d: %w", key, len(value), MaxValueSize, backends.ErrTooLarge)
	}
	err := s.do(ctx, opSession, func(c *client) error {
		sec, err := c.conceal(value)
		if err != nil {
			return err
		}
		// Collection.CreateItem(IN Dict<String,Variant> properties, IN
		// Secret secret, IN Boolean replace, OUT ObjectPath item, OUT
		// ObjectPath prompt), spec org.freedesktop.Secret.Collection. With
		// replace, an item with the same attributes is updated in place.
		props := map[string]dbus.Variant{
			ifaceItem + ".Label":      dbus.MakeVariant(itemLabel(key)),
			ifaceItem + ".Attributes": dbus.MakeVariant(itemAttributes(key)),
		}
		var item, prompt dbus.ObjectPath
		err = c.conn.Object(busName, c.coll).CallWithContext(c.ctx, ifaceCollection+".CreateItem", 0, props, sec, true).Store(&item, &prompt)
		if err != nil {
			return c.classify(err)
		}
		if prompt != noPrompt {
			// A provider may ask to unlock the collection here; the
			// prompt's result is the new item.
			result, err := c.runPrompt(prompt)
			if err != nil {
				return err
			}
			item, _ = result.Value().(dbus.ObjectPath)
		}
		// The spec's replace overwrites "an item with the same
		// attributes". Whether an item another client wrote for this key
		// with more attributes (libsecret adds xdg:schema) counts differs
		// between providers (gnome-keyring: yes); one left behind would
		// shadow the new value in Get, so remove any. Items with exactly
		// our attributes stay: one may be a concurrent Set's.
		items, err := c.search(itemAttributes(key))
		if err != nil || item == "" {
			return err
		}
		for _, other := range items {
			if other == item {
				continue
			}
			v, err := c.property(other, ifaceItem, "Attributes")
			if attrs, ok := v.Value().(map[string]string); err == nil && ok && !maps.Equal(attrs, itemAttributes(key)) {
				_ = c.deleteItem(other) // best effort: the new value is stored
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("secretservice: set %q: %w", key, err)
	}
	return nil
}

// Delete removes key. It returns an error matching [backends.ErrNotFound] if
// there is nothing to remove.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := backends.ValidKey(key); err != nil {
		return fmt.Errorf("secretservice: delete %q: %w", key, err)
	}
	err := s.do(ctx, 0, func(c *client) error {
		items, err := c.search(itemAttributes(key))
		if err != nil {
			return err
		}
		deleted := false
		for _, item := range items {
			err := c.deleteItem(item)
			if isNoSuchObject(err) {
				continue // deleted by someone else since the search
			}
			if err != nil {
				return err
			}
			deleted = true
		}
		if !deleted {
			return backends.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("secretservice: delete %q: %w", key, err)
	}
	return nil
}

// List returns the keys of Mayfly's items in the default collection, in
// sorted order.
func (s *Store) List(ctx context.Context) ([]string, error) {
	var keys []string
	err := s.do(ctx, 0, func(c *client) error {
		items, err := c.search(map[string]string{attrApplication: application})
		if err != nil {
			return err
		}
		for _, item := range items {
			// Item property Attributes (Dict<String,String>), spec
			// org.freedesktop.Secret.Item.
			v, err := c.property(item, ifaceItem, "Attributes")
			if isNoSuchObject(err) {
				continue // deleted since the search
			}
			if err != nil {
				return err
			}
			attrs, ok := v.Value().(map[string]string)
			if !ok {
				return fmt.Errorf("item %s has attributes of type %s, want a{ss}", item, v.Signature())
			}
			if k, ok := keyFromAttributes(attrs); ok {
				keys = append(keys, k)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("secretservice: list: %w", err)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// secret is the Secret structure (oayays) of spec Part II, "Types":
// session, algorithm-dependent parameters (the IV), value, content type.
type secret struct {
	Session     dbus.ObjectPath
	Parameters  []byte
	Value       []byte
	ContentType string
}

// client is one operation's connection to the Secret Service.
type client struct {
	s       *Store
	ctx     context.Context // the operation's deadline; the connection closes with it
	conn    *dbus.Conn
	service dbus.BusObject
	coll    dbus.ObjectPath // the default collection, unlocked
	session dbus.ObjectPath // set with opSession
	key     []byte          // the session's AES key; nil for a "plain" session
}

// Flags for do.
const (
	opSession  = 1 << iota // open a session, for calls that carry secrets
	opNoPrompt             // never prompt, even if the store may
)

// do runs fn with a connection to the Secret Service, the default collection
// found and unlocked, and a session open if flags has opSession. Everything,
// connecting included, happens within the store's timeout (plus the prompt
// timeout if the store may prompt), and the connection closes when do
// returns.
func (s *Store) do(ctx context.Context, flags int, fn func(*client) error) error {
	if s.addr == "" {
		return errNoBus
	}
	mayPrompt := s.prompt && flags&opNoPrompt == 0
	d := s.timeout
	if mayPrompt {
		d += s.promptTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, d,
		fmt.Errorf("no answer from the Secret Service within %v: %w", d, context.DeadlineExceeded))
	defer cancel()

	conn, err := connect(ctx, s.addr)
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("cannot connect to the D-Bus session bus at %s: %w: %w", s.addr, backends.ErrUnsupported, err)
	}
	defer conn.Close()
	c := &client{s: s, ctx: ctx, conn: conn, service: conn.Object(busName, servicePath)}
	if err := c.findCollection(); err != nil {
		return err
	}
	if err := c.unlock(mayPrompt); err != nil {
		return err
	}
	if flags&opSession != 0 {
		if err := c.openSession(); err != nil {
			return err
		}
		defer clear(c.key)
	}
	return fn(c)
}

// connect connects to the bus at addr, authenticates and says Hello, all
// within ctx: a socket that accepts but never answers cannot hang it.
func connect(ctx context.Context, addr string) (*dbus.Conn, error) {
	type result struct {
		conn *dbus.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// With WithContext, godbus closes the connection when ctx ends,
		// which unblocks the authentication and Hello if they hang. If
		// ctx ends first, the connection made here closes on its own.
		conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
		done <- result{conn, err}
	}()
	select {
	case r := <-done:
		return r.conn, r.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// classify turns a failed call's error into one that says what to do.
func (c *client) classify(err error) error {
	if c.ctx.Err() != nil {
		// The timeout (or the caller's cancellation) closed the
		// connection; say that rather than "connection closed".
		return context.Cause(c.ctx)
	}
	var de dbus.Error
	if !errors.As(err, &de) {
		return err
	}
	switch {
	case de.Name == "org.freedesktop.DBus.Error.ServiceUnknown",
		de.Name == "org.freedesktop.DBus.Error.NameHasNoOwner":
		return errNoService
	case strings.HasPrefix(de.Name, "org.freedesktop.DBus.Error.Spawn."):
		return fmt.Errorf("the D-Bus session bus could not start the Secret Service: %w: %w", backends.ErrUnsupported, err)
	case de.Name == "org.freedesktop.Secret.Error.IsLocked":
		// Spec Part II, "Errors": "The object must be unlocked before
		// this action can be carried out."
		return ErrLocked
	}
	return err
}

// isNoSuchObject reports whether err says the object is gone: the spec's
// org.freedesktop.Secret.Error.NoSuchObject, or what GDBus-based services
// such as gnome-keyring answer for a path with no object behind it,
// UnknownMethod "Object does not exist at path ...".
func isNoSuchObject(err error) bool {
	var de dbus.Error
	return errors.As(err, &de) &&
		(de.Name == "org.freedesktop.Secret.Error.NoSuchObject" || de.Name == "org.freedesktop.DBus.Error.UnknownObject" ||
			de.Name == "org.freedesktop.DBus.Error.UnknownMethod")
}

// property reads one property of an object of the Secret Service.
func (c *client) property(path dbus.ObjectPath, iface, name string) (dbus.Variant, error) {
	var v dbus.Variant
	err := c.conn.Object(busName, path).CallWithContext(c.ctx, ifaceProperties+".Get", 0, iface, name).Store(&v)
	if err != nil && !isNoSuchObject(err) {
		err = c.classify(err)
	}
	return v, err
}

// findCollection sets c.coll to the default collection. Spec chapter 4,
// "Aliases": the alias "default" names the collection applications store
// secrets in by default, and ReadAlias returns "/" when no collection has
// the alias. gnome-keyring's "login" collection, the keyring its login
// password unlocks, is the fallback when no collection has the alias.
func (c *client) findCollection() error {
	// Service.ReadAlias(IN String name, OUT ObjectPath collection).
	var path dbus.ObjectPath
	if err := c.service.CallWithContext(c.ctx, ifaceService+".ReadAlias", 0, "default").Store(&path); err != nil {
		return c.classify(err)
	}
	if path == noPrompt { // "/": no such alias
		// Service property Collections (Array<ObjectPath>).
		v, err := c.property(servicePath, ifaceService, "Collections")
		if err != nil {
			return err
		}
		all, _ := v.Value().([]dbus.ObjectPath)
		if !slices.Contains(all, loginCollection) {
			return errNoCollection
		}
		path = loginCollection
	}
	c.coll = path
	c.s.mu.Lock()
	c.s.collection = string(path[strings.LastIndexByte(string(path), '/')+1:])
	c.s.mu.Unlock()
	return nil
}

// unlock checks that the collection is unlocked; if it is not, it fails
// with ErrLocked, or with mayPrompt asks the Secret Service to unlock it.
// Spec chapter 8, "Locking and Unlocking": the secrets of a locked
// collection's items cannot be read and its items cannot be changed.
func (c *client) unlock(mayPrompt bool) error {
	// Collection property Locked (Boolean).
	v, err := c.property(c.coll, ifaceCollection, "Locked")
	if err != nil {
		return err
	}
	locked, ok := v.Value().(bool)
	if !ok {
		return fmt.Errorf("collection %s has a Locked property of type %s, want b", c.coll, v.Signature())
	}
	if !locked {
		return nil
	}
	if !mayPrompt {
		return ErrLocked
	}
	// Service.Unlock(IN Array<ObjectPath> objects, OUT Array<ObjectPath>
	// unlocked, OUT ObjectPath prompt): what could be unlocked without
	// asking the user, and a prompt for the rest.
	var unlocked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	err = c.service.CallWithContext(c.ctx, ifaceService+".Unlock", 0, []dbus.ObjectPath{c.coll}).Store(&unlocked, &prompt)
	if err != nil {
		return c.classify(err)
	}
	if slices.Contains(unlocked, c.coll) {
		return nil
	}
	if prompt == noPrompt {
		return ErrLocked
	}
	result, err := c.runPrompt(prompt)
	if err != nil {
		return err
	}
	// The prompt's result for Unlock is the Array<ObjectPath> unlocked.
	if paths, _ := result.Value().([]dbus.ObjectPath); !slices.Contains(paths, c.coll) {
		return ErrLocked
	}
	return nil
}

// runPrompt shows a prompt and waits for the user. Spec chapter 9,
// "Prompts and Prompting", and org.freedesktop.Secret.Prompt: call
// Prompt(IN String window-id), then wait for the signal Completed(OUT
// Boolean dismissed, OUT Variant result).
func (c *client) runPrompt(prompt dbus.ObjectPath) (dbus.Variant, error) {
	var none dbus.Variant
	if !c.s.prompt {
		return none, errPrompt
	}
	signals := make(chan *dbus.Signal, 8)
	c.conn.Signal(signals)
	defer c.conn.RemoveSignal(signals)
	// Subscribe before calling Prompt so the signal cannot be missed. The
	// bus resolves the well-known sender name to its owner, so no other
	// program can complete the prompt for the Secret Service.
	err := c.conn.AddMatchSignalContext(c.ctx,
		dbus.WithMatchSender(busName),
		dbus.WithMatchObjectPath(prompt),
		dbus.WithMatchInterface(ifacePrompt),
		dbus.WithMatchMember("Completed"))
	if err != nil {
		return none, c.classify(err)
	}
	// An empty window-id: we have no window to attach the dialog to.
	if err := c.conn.Object(busName, prompt).CallWithContext(c.ctx, ifacePrompt+".Prompt", 0, "").Err; err != nil {
		return none, c.classify(err)
	}
	for {
		select {
		case sig := <-signals:
			if sig == nil || sig.Path != prompt || sig.Name != ifacePrompt+".Completed" {
				continue
			}
			var dismissed bool
			var result dbus.Variant
			if err := dbus.Store(sig.Body, &dismissed, &result); err != nil {
				return none, fmt.Errorf("prompt %s: %w", prompt, err)
			}
			if dismissed {
				return none, fmt.Errorf("the prompt was dismissed: %w", ErrLocked)
			}
			return result, nil
		case <-c.ctx.Done():
			// Disconnecting (when do returns) makes the Secret Service
			// drop the prompt.
			return none, context.Cause(c.ctx)
		}
	}
}

// openSession opens the session secrets travel in (spec chapter 6,
// "Sessions"). Service.OpenSession(IN String algorithm, IN Variant input,
// OUT Variant output, OUT ObjectPath result). The session closes when the
// connection does: "A session is closed when the client application
// disconnects from the DBus session bus."
func (c *client) openSession() error {
	dh, err := newDHKey()
	if err != nil {
		return err
	}
	var output dbus.Variant
	var path dbus.ObjectPath
	err = c.service.CallWithContext(c.ctx, ifaceService+".OpenSession", 0, algorithmDH, dbus.MakeVariant(dh.public)).Store(&output, &path)
	var de dbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.DBus.Error.NotSupported" {
		// Spec chapter 7: a service that does not support the algorithm
		// says NotSupported, and "plain" is the only algorithm every
		// service has. Falling back is acceptable: the session bus admits
		// only this user's processes, and the encryption "is not
		// envisioned to withstand man in the middle attacks" anyway; it
		// keeps plaintext out of the bus daemon's buffers. The provider
		// that chose this already holds the values in the clear.
		err = c.service.CallWithContext(c.ctx, ifaceService+".OpenSession", 0, algorithmPlain, dbus.MakeVariant("")).Store(&output, &path)
		if err != nil {
			return c.classify(err)
		}
		c.session = path
		return nil
	}
	if err != nil {
		return c.classify(err)
	}
	peer, ok := output.Value().([]byte)
	if !ok {
		return fmt.Errorf("OpenSession(%s) returned a %s, want ay", algorithmDH, output.Signature())
	}
	if c.key, err = dh.sessionKey(peer); err != nil {
		return fmt.Errorf("OpenSession(%s): %w", algorithmDH, err)
	}
	c.session = path
	return nil
}

// conceal makes the Secret structure that carries value in the session.
func (c *client) conceal(value []byte) (secret, error) {
	sec := secret{Session: c.session, Parameters: []byte{}, ContentType: contentType}
	if c.key == nil {
		sec.Value = append([]byte{}, value...)
		return sec, nil
	}
	iv, ct, err := encrypt(c.key, value)
	if err != nil {
		return secret{}, err
	}
	sec.Parameters, sec.Value = iv, ct
	return sec, nil
}

// reveal returns the value a Secret structure carries in the session.
func (c *client) reveal(sec secret) ([]byte, error) {
	if sec.Session != c.session {
		return nil, fmt.Errorf("secret from the service is for session %s, not ours (%s)", sec.Session, c.session)
	}
	if c.key == nil {
		return append([]byte{}, sec.Value...), nil
	}
	return decrypt(c.key, sec.Parameters, sec.Value)
}

// search returns the items of the collection whose attributes include
// attrs: Collection.SearchItems(IN Dict<String,String> attributes, OUT
// Array<ObjectPath> results), spec org.freedesktop.Secret.Collection.
func (c *client) search(attrs map[string]string) ([]dbus.ObjectPath, error) {
	var items []dbus.ObjectPath
	err := c.conn.Object(busName, c.coll).CallWithContext(c.ctx, ifaceCollection+".SearchItems", 0, attrs).Store(&items)
	if err != nil {
		return nil, c.classify(err)
	}
	return items, nil
}

// deleteItem deletes an item: Item.Delete(OUT ObjectPath Prompt), spec
// org.freedesktop.Secret.Item. An item that is already gone gives an error
// for which isNoSuchObject is true.
func (c *client) deleteItem(item dbus.ObjectPath) error {
	var prompt dbus.ObjectPath
	err := c.conn.Object(busName, item).CallWithContext(c.ctx, ifaceItem+".Delete", 0).Store(&prompt)
	if isNoSuchObject(err) {
		return err
	}
	if err != nil {
		return c.classify(err)
	}
	if prompt != noPrompt {
		// KeePassXC can be set to confirm deletions.
		if _, err := c.runPrompt(prompt); err != nil {
			return err
		}
	}
	return nil
}

// learnProvider records the name of the program that owns the Secret
// Service's bus name, such as "gnome-keyring-daemon", for Describe. It is
// best effort: the bus may not know the process (another PID namespace, a
// bus on another machine) and /proc may be missing.
func (c *client) learnProvider() {
	bus := c.conn.BusObject()
	var owner string
	if bus.CallWithContext(c.ctx, "org.freedesktop.DBus.GetNameOwner", 0, busName).Store(&owner) != nil {
		return
	}
	var pid uint32
	if bus.CallWithContext(c.ctx, "org.freedesktop.DBus.GetConnectionUnixProcessID", 0, owner).Store(&pid) != nil || pid == 0 {
		return
	}
	name := ""
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		name = filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	} else if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
		name = strings.TrimSpace(string(comm))
	}
	if name == "" {
		return
	}
	c.s.mu.Lock()
	c.s.provider = name
	c.s.mu.Unlock()
}
