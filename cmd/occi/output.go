package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/occid/occi"
	"github.com/occid/occi/occiclient"
	"github.com/occid/occi/render"
	"github.com/occid/occi/render/occijson"
	"github.com/occid/occi/render/occitext"
)

// execution is one command being run: its settings, flags and client.
type execution struct {
	*app
	g      *globals
	o      *cmdOpts
	cmd    *command
	client *occiclient.Client
}

// encode writes a document in the OCCI text/plain or JSON rendering, with
// locations made absolute on the endpoint.
func (x *execution) encode(f func(c render.Codec, w *render.Writer) error) error {
	var c render.Codec = occitext.Plain()
	if x.g.Output == "json" {
		c = occijson.New()
	}
	var body strings.Builder
	w := &render.Writer{Header: http.Header{}, Body: &body, Base: x.client.Endpoint()}
	if err := f(c, w); err != nil {
		return err
	}
	out := body.String()
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	_, err := io.WriteString(x.stdout, out)
	return err
}

// jsonEntity renders e in OCCI JSON with its absolute location as an
// extra "location" member first: the OCCI JSON rendering of an entity
// does not carry it, and scripts need it.
func (x *execution) jsonEntity(e *occi.Entity) ([]byte, error) {
	var body bytes.Buffer
	w := &render.Writer{Header: http.Header{}, Body: &body, Base: x.client.Endpoint()}
	if err := occijson.New().EncodeEntity(w, e); err != nil {
		return nil, err
	}
	b := bytes.TrimSpace(body.Bytes())
	if e.Location == "" || len(b) < 2 || b[0] != '{' {
		return b, nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err == nil {
		if _, has := members["location"]; has {
			return b, nil
		}
	}
	loc, _ := json.Marshal(x.client.URL(e.Location))
	out := append([]byte(`{"location":`), loc...)
	if rest := bytes.TrimSpace(b[1:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, b[1:]...), nil
}

// jsonEntities renders a collection as {"resources": [...], "links":
// [...]}, each entity with its location (see jsonEntity).
func (x *execution) jsonEntities(es []*occi.Entity) error {
	var res, links [][]byte
	for _, e := range es {
		b, err := x.jsonEntity(e)
		if err != nil {
			return err
		}
		if e.IsLink() {
			links = append(links, b)
		} else {
			res = append(res, b)
		}
	}
	var out bytes.Buffer
	out.WriteString(`{"resources":[`)
	out.Write(bytes.Join(res, []byte(",")))
	out.WriteString(`],"links":[`)
	out.Write(bytes.Join(links, []byte(",")))
	out.WriteString("]}\n")
	_, err := x.stdout.Write(out.Bytes())
	return err
}

// table writes aligned columns.
func (x *execution) table(rows [][]string) error {
	tw := tabwriter.NewWriter(x.stdout, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.TrimRight(strings.Join(r, "\t"), "\t"))
	}
	return tw.Flush()
}

// locations writes one absolute location per line (--quiet).
func (x *execution) locations(es []*occi.Entity) error {
	for _, e := range es {
		if _, err := fmt.Fprintln(x.stdout, x.client.URL(e.Location)); err != nil {
			return err
		}
	}
	return nil
}

// state returns the state attribute of an entity (occi.<kind>.state).
func state(e *occi.Entity) string {
	if s, ok := e.Attributes["occi."+e.Kind.Term+".state"].(string); ok {
		return s
	}
	for k, v := range e.Attributes {
		if strings.HasSuffix(k, ".state") {
			if s, ok := v.(string); ok {
				return s
			}
		}
	}
	return ""
}

// dash shows an empty cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printEntities writes a collection.
func (x *execution) printEntities(es []*occi.Entity) error {
	if x.g.Quiet {
		return x.locations(es)
	}
	switch x.g.Output {
	case "json":
		return x.jsonEntities(es)
	case "text":
		return x.encode(func(c render.Codec, w *render.Writer) error { return c.EncodeCollection(w, es) })
	}
	rows := [][]string{{"LOCATION", "KIND", "TITLE", "STATE", "DETAILS"}}
	for _, e := range es {
		rows = append(rows, []string{e.Location, e.Kind.Term, dash(e.Title), dash(state(e)), details(e)})
	}
	return x.table(rows)
}

// details summarises an entity in a few words: the templates of a
// compute, the ends of a link, the size of a storage.
func details(e *occi.Entity) string {
	var parts []string
	if e.IsLink() {
		parts = append(parts, e.Source+" -> "+e.Target)
	}
	for _, m := range e.Mixins {
		parts = append(parts, m.Term)
	}
	for _, k := range []string{"occi.compute.cores", "occi.compute.memory", "occi.storage.size", "occi.network.address"} {
		if v, ok := e.Attributes[k]; ok {
			short := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(k, "occi.compute."), "occi.storage."), "occi.network.")
			parts = append(parts, short+"="+occiclient.FormatValue(v))
		}
	}
	return dash(strings.Join(parts, " "))
}

// printEntity writes one entity.
func (x *execution) printEntity(e *occi.Entity) error {
	if x.g.Quiet {
		return x.locations([]*occi.Entity{e})
	}
	switch x.g.Output {
	case "json":
		b, err := x.jsonEntity(e)
		if err != nil {
			return err
		}
		_, err = x.stdout.Write(append(b, '\n'))
		return err
	case "text":
		return x.encode(func(c render.Codec, w *render.Writer) error { return c.EncodeEntity(w, e) })
	}
	rows := [][]string{
		{"LOCATION", x.client.URL(e.Location)},
		{"ID", e.ID},
		{"KIND", e.Kind.String()},
	}
	for i, m := range e.Mixins {
		label := ""
		if i == 0 {
			label = "MIXINS"
		}
		rows = append(rows, []string{label, m.String()})
	}
	if e.Title != "" {
		rows = append(rows, []string{"TITLE", e.Title})
	}
	if e.Summary != "" {
		rows = append(rows, []string{"SUMMARY", e.Summary})
	}
	if e.IsLink() {
		rows = append(rows, []string{"SOURCE", e.Source}, []string{"TARGET", e.Target})
	}
	if s := state(e); s != "" {
		rows = append(rows, []string{"STATE", s})
	}
	if len(e.Actions) > 0 {
		terms := make([]string, len(e.Actions))
		for i, a := range e.Actions {
			terms[i] = a.Term
		}
		rows = append(rows, []string{"ACTIONS", strings.Join(terms, " ")})
	}
	names := make([]string, 0, len(e.Attributes))
	for k := range e.Attributes {
		names = append(names, k)
	}
	slices.Sort(names)
	for i, k := range names {
		label := ""
		if i == 0 {
			label = "ATTRIBUTES"
		}
		rows = append(rows, []string{label, k, occiclient.FormatValue(e.Attributes[k])})
	}
	for i, l := range e.Links {
		label := ""
		if i == 0 {
			label = "LINKS"
		}
		rows = append(rows, []string{label, l.Location, l.Kind.Term + " -> " + l.Target, dash(state(l))})
	}
	return x.table(rows)
}

// printMixin writes one mixin (a saved template, a tag).
func (x *execution) printMixin(m *occi.Mixin, st *occiclient.TemplateStatus) error {
	if x.g.Quiet {
		_, err := fmt.Fprintln(x.stdout, x.client.URL(m.Location))
		return err
	}
	switch x.g.Output {
	case "text", "json":
		return x.encode(func(c render.Codec, w *render.Writer) error { return c.EncodeMixin(w, m) })
	}
	rows := [][]string{
		{"LOCATION", x.client.URL(m.Location)},
		{"ID", m.ID.String()},
		{"TITLE", dash(m.Title)},
	}
	if len(m.Depends) > 0 {
		rows = append(rows, []string{"DEPENDS", joinIDs(m.Depends)})
	}
	if len(m.Applies) > 0 {
		rows = append(rows, []string{"APPLIES", joinIDs(m.Applies)})
	}
	if st != nil && st.Known {
		rows = append(rows, []string{"STATE", st.State})
	}
	return x.table(rows)
}

func joinIDs(ids []occi.CategoryID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, " ")
}

// printDiscovery writes the categories.
func (x *execution) printDiscovery(d *occi.Discovery) error {
	switch x.g.Output {
	case "text", "json":
		if x.g.Quiet {
			break
		}
		return x.encode(func(c render.Codec, w *render.Writer) error { return c.EncodeDiscovery(w, d) })
	}
	if x.g.Quiet {
		for _, k := range d.Kinds {
			fmt.Fprintln(x.stdout, k.ID)
		}
		for _, m := range d.Mixins {
			fmt.Fprintln(x.stdout, m.ID)
		}
		for _, a := range d.Actions {
			fmt.Fprintln(x.stdout, a.ID)
		}
		return nil
	}
	rows := [][]string{{"CLASS", "TERM", "SCHEME", "LOCATION", "TITLE"}}
	for _, k := range d.Kinds {
		rows = append(rows, []string{"kind", k.ID.Term, k.ID.Scheme, dash(k.Location), dash(k.Title)})
	}
	for _, m := range d.Mixins {
		rows = append(rows, []string{"mixin", m.ID.Term, m.ID.Scheme, dash(m.Location), dash(m.Title)})
	}
	for _, a := range d.Actions {
		rows = append(rows, []string{"action", a.ID.Term, a.ID.Scheme, "-", dash(a.Title)})
	}
	return x.table(rows)
}

// printDone reports an operation without a result (delete, unlink,
// removing from a mixin) in table output; the renderings print nothing.
func (x *execution) printDone(verb string, locs []string) error {
	if x.g.Quiet || x.g.Output != "table" {
		return nil
	}
	for _, l := range locs {
		if _, err := fmt.Fprintf(x.stdout, "%s %s\n", verb, x.client.URL(l)); err != nil {
			return err
		}
	}
	return nil
}
