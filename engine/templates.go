package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/occid/occi"
	"github.com/occid/occi/backend"
	"github.com/occid/occi/infra"
)

// Provider attributes of saved OS templates.
const (
	AttrTemplateState    = "occid.template.state"
	AttrTemplateProgress = "occid.template.progress"
	AttrTemplateMessage  = "occid.template.message"
	AttrTemplateSource   = "occid.template.source"
)

const templateAttrPrefix = "occid.template."

// Saved OS templates live in their owner's name space, like the owner's
// tags: mixin scheme <ProviderScheme>users/<user>/os_tpl#, location
// /users/<user>/os_tpl/<term>/ (the user name path-escaped), so that what one
// user saves cannot be detected by another. The driver's template names are
// shared by everyone, so the name the driver gets is the term followed by a
// digest of the owner (SavedTemplateName): two users may save under the same
// name, each getting that name as the term, and the mapping needs no storage.
// Saved templates of earlier versions keep their ids in
// <ProviderScheme>os_tpl# (owned, at /os_tpl/<term>/) with the term as the
// driver's name.

// SavedTemplateScheme returns the scheme of the OS templates user u saves.
func (e *Engine) SavedTemplateScheme(u string) string {
	return e.scheme + "users/" + occi.UserSegment(u) + "/os_tpl#"
}

// savedTemplatePrefix returns the location under which user u's saved OS
// templates live.
func savedTemplatePrefix(u string) string {
	return "/users/" + occi.UserSegment(u) + "/os_tpl/"
}

// SavedTemplateName returns the name under which the driver keeps the OS
// template that user u saved with the term term: the term, '-', then the
// first 8 hex digits of the SHA-256 of the user name. It is a valid term
// whenever term is one, and it is the same in every occid process.
func SavedTemplateName(u, term string) string {
	sum := sha256.Sum256([]byte(u))
	return term + "-" + hex.EncodeToString(sum[:4])
}

// savedTerm returns the term of user u's saved template that the driver
// names name, or "" if name is not one SavedTemplateName makes for u.
func savedTerm(u, name string) string {
	term, ok := strings.CutSuffix(name, SavedTemplateName(u, ""))
	if !ok || !occi.ValidTerm(term) {
		return ""
	}
	return term
}

// isSavedTemplate reports whether m is a saved OS template (an owned mixin
// in its owner's os_tpl scheme, or, from earlier versions, an owned mixin in
// the provider's os_tpl scheme).
func (e *Engine) isSavedTemplate(m *occi.Mixin) bool {
	if m.Owner == "" {
		return false
	}
	return m.ID.Scheme == e.osScheme || m.ID.Scheme == e.SavedTemplateScheme(m.Owner)
}

// isTemplateScheme reports whether scheme may hold template mixins the
// driver reports: the provider's os_tpl and resource_tpl schemes and the
// users' saved-template schemes.
func (e *Engine) isTemplateScheme(scheme string) bool {
	if scheme == e.osScheme || scheme == e.rtScheme {
		return true
	}
	rest, ok := strings.CutPrefix(scheme, e.scheme+"users/")
	if !ok {
		return false
	}
	u, ok := strings.CutSuffix(rest, "/os_tpl#")
	return ok && u != "" && !strings.Contains(u, "/")
}

// driverName returns the driver's name of the saved template m.
func (e *Engine) driverName(m *occi.Mixin) string {
	if m.ID.Scheme == e.osScheme {
		return m.ID.Term // saved by an earlier version
	}
	return SavedTemplateName(m.Owner, m.ID.Term)
}

// savedRecords returns the saved templates among mixins by driver name.
func (e *Engine) savedRecords(mixins []*occi.Mixin) map[string]*occi.Mixin {
	out := map[string]*occi.Mixin{}
	for _, m := range mixins {
		if e.isSavedTemplate(m) {
			out[e.driverName(m)] = m
		}
	}
	return out
}

// templateMixinID returns the mixin id and owner of a driver template:
// the saved template recorded under its name; else, when the driver knows
// who saved it, a template in that user's name space; else a provider
// template.
func (e *Engine) templateMixinID(t backend.Template, records map[string]*occi.Mixin) (occi.CategoryID, string) {
	if t.Type == backend.ResourceTemplate {
		return occi.CategoryID{Scheme: e.rtScheme, Term: t.Name}, ""
	}
	if r, ok := records[t.Name]; ok {
		return r.ID, r.Owner
	}
	if t.Owner != "" {
		term := savedTerm(t.Owner, t.Name)
		if term == "" {
			term = t.Name
		}
		return occi.CategoryID{Scheme: e.SavedTemplateScheme(t.Owner), Term: term}, t.Owner
	}
	return occi.CategoryID{Scheme: e.osScheme, Term: t.Name}, ""
}

// templateMixin turns a driver template into its mixin with the given id;
// owner is the owner of a saved template ("" for a provider template).
func (e *Engine) templateMixin(id occi.CategoryID, owner string, t backend.Template) *occi.Mixin {
	t.Owner = owner
	m := &occi.Mixin{ID: id, Title: t.Title, Applies: []occi.CategoryID{infra.Compute}, Owner: owner}
	if m.Title == "" || m.Title == t.Name {
		m.Title = id.Term
	}
	switch {
	case t.Type == backend.ResourceTemplate:
		m.Depends = []occi.CategoryID{infra.ResourceTemplate}
		m.Location = "/resource_tpl/" + url.PathEscape(id.Term) + "/"
	case id.Scheme == e.osScheme:
		m.Depends = []occi.CategoryID{infra.OSTemplate}
		m.Location = "/os_tpl/" + url.PathEscape(id.Term) + "/"
	default:
		m.Depends = []occi.CategoryID{infra.OSTemplate}
		m.Location = savedTemplatePrefix(owner) + url.PathEscape(id.Term) + "/"
	}
	defs, _ := e.model.Attributes(infra.Compute, nil)
	for name, v := range t.Attributes {
		d, ok := defs[name]
		if !ok || !d.Mutable {
			d = occi.AttributeDef{Name: name, Type: typeOf(v), Mutable: true}
		}
		d.Default = v
		d.Required = false
		m.Attributes = append(m.Attributes, d)
	}
	if t.Type == backend.OSTemplate && (t.Source != "" || t.Owner != "" || t.State != backend.TemplateReady) {
		m.Attributes = append(m.Attributes, templateStateDefs(t)...)
	}
	sortDefs(m.Attributes)
	return m
}

func templateStateDefs(t backend.Template) []occi.AttributeDef {
	state := t.State
	if state == "" {
		state = backend.TemplateReady
	}
	defs := []occi.AttributeDef{
		{Name: AttrTemplateState, Type: occi.TypeEnum, Enum: []string{backend.TemplateReady, backend.TemplateSaving, backend.TemplateError}, Default: state, Description: "Readiness of the template: computes can be created from it once it is ready"},
		{Name: AttrTemplateProgress, Type: occi.TypeInteger, Default: int64(t.Progress), Description: "Percent of the copy done while the template is saving"},
	}
	if t.Message != "" {
		defs = append(defs, occi.AttributeDef{Name: AttrTemplateMessage, Type: occi.TypeString, Default: t.Message, Description: "Progress or failure of the copy"})
	}
	if t.Source != "" {
		defs = append(defs, occi.AttributeDef{Name: AttrTemplateSource, Type: occi.TypeURI, Default: t.Source, Description: "Location of the compute the template was saved from"})
	}
	return defs
}

func typeOf(v any) occi.AttrType {
	switch v.(type) {
	case int64, int:
		return occi.TypeInteger
	case float64:
		return occi.TypeFloat
	case bool:
		return occi.TypeBool
	case []any:
		return occi.TypeList
	case map[string]any:
		return occi.TypeHash
	}
	return occi.TypeString
}

// templateTTL is how long Discover trusts the last read of the driver's
// templates; events from the driver and template checks refresh sooner.
const templateTTL = time.Second

// syncTemplatesCached is syncTemplates unless the last read is fresh.
func (e *Engine) syncTemplatesCached(ctx context.Context) error {
	e.tplMu.Lock()
	fresh := e.templates != nil && time.Since(e.tplSynced) < templateTTL
	e.tplMu.Unlock()
	if fresh {
		return nil
	}
	return e.syncTemplates(ctx)
}

// syncTemplates reads the driver's templates and makes the model's template
// mixins match them. Saved templates recorded in the store stay (with state
// error if the driver lost them). A driver template is matched to the saved
// template recorded under its name (see SavedTemplateName), so that a saved
// template the driver lists without an owner (a driver that keeps owners
// locally, seen from another occid process) keeps its id and owner and never
// passes for a provider template.
func (e *Engine) syncTemplates(ctx context.Context) error {
	tpls, err := e.drv.Templates(ctx)
	if err != nil {
		return e.driverErr(err, "listing templates")
	}
	known := e.model.Mixins()
	if stored, err := e.store.ListMixins(ctx); err == nil {
		known = append(known, stored...)
	} else {
		e.log.Warn("engine: cannot read the owners of saved templates", "err", err)
	}
	records := e.savedRecords(known)
	e.tplMu.Lock()
	defer e.tplMu.Unlock()
	seen := map[occi.CategoryID]backend.Template{}
	for _, t := range tpls {
		if !occi.ValidTerm(t.Name) {
			e.log.Warn("engine: skipping a template whose name is not a valid term", "name", t.Name)
			continue
		}
		id, owner := e.templateMixinID(t, records)
		t.Owner = owner
		seen[id] = t
		m := e.templateMixin(id, owner, t)
		if old, ok := e.model.Mixin(id); ok {
			if old.Owner != "" && old.Title != "" {
				m.Title = old.Title // the name the owner gave
			} else if old.Title != "" && (t.Title == "" || t.Title == t.Name) {
				m.Title = old.Title
			}
			if mixinEqual(old, m) {
				continue
			}
		}
		if err := e.model.ReplaceMixin(m); err != nil {
			e.log.Warn("engine: cannot register template", "mixin", id.String(), "err", err)
			continue
		}
		if m.Owner == "" {
			e.provided[id] = true
		} else {
			delete(e.provided, id)
		}
	}
	for id := range e.provided {
		if _, ok := seen[id]; !ok {
			e.model.RemoveMixin(id)
			delete(e.provided, id)
		}
	}
	// Stored (saved) templates the driver no longer lists (or does not
	// list yet: recorded by a save in another process that is still
	// asking the driver).
	for _, m := range e.model.Mixins() {
		if !e.isSavedTemplate(m) || e.pendingSaves[m.ID] {
			continue
		}
		if _, ok := seen[m.ID]; ok {
			continue
		}
		if st, _ := defaultOf(m, AttrTemplateState).(string); st == backend.TemplateError {
			continue
		}
		c := occi.CloneMixin(m)
		setDefault(c, AttrTemplateState, backend.TemplateError)
		setDefault(c, AttrTemplateMessage, "the backend no longer offers this template")
		_ = e.model.ReplaceMixin(c)
	}
	e.templates = seen
	e.tplSynced = time.Now()
	return nil
}

// storedTemplate reports whether id is a saved template (owned, in the store).
func (e *Engine) storedTemplate(id occi.CategoryID) (*occi.Mixin, bool) {
	m, ok := e.model.Mixin(id)
	if !ok || m.Owner == "" {
		return nil, false
	}
	return m, true
}

func defaultOf(m *occi.Mixin, name string) any {
	for _, d := range m.Attributes {
		if d.Name == name {
			return d.Default
		}
	}
	return nil
}

func setDefault(m *occi.Mixin, name string, v any) {
	for i := range m.Attributes {
		if m.Attributes[i].Name == name {
			m.Attributes[i].Default = v
			return
		}
	}
	m.Attributes = append(m.Attributes, occi.AttributeDef{Name: name, Type: typeOf(v), Default: v})
	sortDefs(m.Attributes)
}

func mixinEqual(a, b *occi.Mixin) bool {
	return fmt.Sprintf("%#v", *a) == fmt.Sprintf("%#v", *b)
}

// isTemplate reports whether the mixin is an os_tpl or resource_tpl
// template (not the base mixin itself) and which base it has.
func (e *Engine) templateBase(id occi.CategoryID) (occi.CategoryID, bool) {
	if id == infra.OSTemplate || id == infra.ResourceTemplate {
		return occi.CategoryID{}, false
	}
	if e.model.DependsOn(id, infra.OSTemplate) {
		return infra.OSTemplate, true
	}
	if e.model.DependsOn(id, infra.ResourceTemplate) {
		return infra.ResourceTemplate, true
	}
	return occi.CategoryID{}, false
}

// templateName returns the driver's template name of a template mixin.
func (e *Engine) templateName(id occi.CategoryID) string {
	e.tplMu.Lock()
	t, ok := e.templates[id]
	e.tplMu.Unlock()
	if ok {
		return t.Name
	}
	if m, saved := e.storedTemplate(id); saved && e.isSavedTemplate(m) {
		return e.driverName(m)
	}
	return id.Term
}

// checkTemplateReady refuses a template that is still saving or failed.
func (e *Engine) checkTemplateReady(ctx context.Context, id occi.CategoryID) error {
	if err := e.syncTemplates(ctx); err != nil {
		return err
	}
	e.tplMu.Lock()
	t, ok := e.templates[id]
	if e.pendingSaves[id] {
		ok, t.State, t.Progress = true, backend.TemplateSaving, 0
	}
	e.tplMu.Unlock()
	if !ok {
		if _, saved := e.storedTemplate(id); saved {
			return occi.Errorf(occi.FailedPrecondition, "OS template %s is not usable: the backend no longer offers it", id)
		}
		return nil
	}
	switch t.State {
	case "", backend.TemplateReady:
		return nil
	case backend.TemplateSaving:
		return occi.Errorf(occi.FailedPrecondition, "OS template %s is still being saved (%d%% copied); create computes from it once its %s is %q", id, t.Progress, AttrTemplateState, backend.TemplateReady)
	default:
		msg := t.Message
		if msg == "" {
			msg = "the copy failed"
		}
		return occi.Errorf(occi.FailedPrecondition, "OS template %s is not usable (%s: %s)", id, t.State, msg)
	}
}

func isTemplateAttr(name string) bool { return strings.HasPrefix(name, templateAttrPrefix) }
