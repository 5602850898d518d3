#!/usr/bin/env bash
# Runs every example of README.md ("Examples") against a live occid on
# 127.0.0.1:8080 started on a fresh data directory, and prints Markdown: each
# command and its real output. The text/plain part comes first, then a line
# "@@JSON@@", then the JSON part. To refresh the README:
#
#   go build -o /tmp/occid ./cmd/occid
#   mkdir /tmp/ex && cd /tmp/ex      # a fresh data directory; create.out lands here
#   /tmp/occid & sleep 1
#   bash "$OLDPWD/docs/readme-examples.sh" > /tmp/examples.md
#
# (If 127.0.0.1:8080 is taken, run occid and this script inside
# `unshare -n bash -c 'ip link set lo up; ...'`, a private loopback.)
# Then paste the two parts under "### In text/plain" and "### In JSON",
# with their "###" headings turned into "####".
set -u
out=$(mktemp)
trap 'rm -f "$out"' EXIT
ex() { # ex "title" 'command'
  [ -n "$1" ] && printf '%s\n\n' "$1"
  printf '```console\n'
  printf '$ %s\n' "$2"
  eval "$2" > "$out" 2>&1
  sed -e 's/\r$//' "$out"
  [ -n "$(tail -c1 "$out")" ] && echo
  printf '```\n\n'
}
h() { printf '%s\n\n' "$1"; }
h "### Discovery"
ex "The query interface lists every kind, mixin and action; the templates are mixins (first lines, then the OS and resource templates):" \
'curl -s http://127.0.0.1:8080/-/ | head -n 3'
ex "" "curl -s http://127.0.0.1:8080/-/ | grep -E 'os_tpl#|resource_tpl#'"
ex "Only one category and its actions (by term, or by full type identifier with \`%23\` for \`#\`):" \
"curl -s 'http://127.0.0.1:8080/-/?category=compute'"

h "### Create"
ex "A network at a location you choose (\`PUT\`; \`201\` with \`Location\`):" \
'curl -si -X PUT http://127.0.0.1:8080/network/backend -H '"'"'Content-Type: text/plain'"'"' --data-binary @- <<'"'"'EOF'"'"'
Category: network; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"
Category: ipnetwork; scheme="http://schemas.ogf.org/occi/infrastructure/network#"; class="mixin"
X-OCCI-Attribute: occi.core.title="backend"
X-OCCI-Attribute: occi.network.address="10.0.0.0/24"
EOF'
ex "A compute from an OS template and a resource template, with an inline network interface to that network (\`POST\` to the kind collection; the server picks the location):" \
'curl -si http://127.0.0.1:8080/compute/ -H '"'"'Content-Type: text/plain'"'"' --data-binary @- <<'"'"'EOF'"'"' | tee create.out
Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"
Category: debian-12; scheme="http://occid.local/occi/os_tpl#"; class="mixin"
Category: small; scheme="http://occid.local/occi/resource_tpl#"; class="mixin"
Link: </network/backend>; rel="http://schemas.ogf.org/occi/infrastructure#network"; category="http://schemas.ogf.org/occi/infrastructure#networkinterface"
X-OCCI-Attribute: occi.core.title="web-01"
EOF'
ex "Keep its location for the next commands:" \
"C=\$(sed -n 's/^Location: //p' create.out | tr -d '\\r'); echo \"\$C\""

h "### Get"
ex "" 'curl -s "$C"'
ex "The same in \`text/occi\` (the rendering travels in headers, the body is \`OK\`):" \
'curl -si "$C" -H '"'"'Accept: text/occi'"'"''
ex "A create in \`text/occi\`: the kind and the mixins in one \`Category\` header, comma-separated, the attributes in \`X-OCCI-Attribute\`, no body:" \
"curl -si -X POST http://127.0.0.1:8080/compute/ -H 'Content-Type: text/occi' -H 'Accept: text/occi' -H 'Category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\", debian-12; scheme=\"http://occid.local/occi/os_tpl#\"; class=\"mixin\"' -H 'X-OCCI-Attribute: occi.core.title=\"web-occi\", occi.compute.cores=2'"

h "### Update"
ex "A partial update (\`POST\` to the entity) changes only what it names and answers the full rendering; here the title:" \
'curl -s -X POST "$C" -H '"'"'Content-Type: text/plain'"'"' --data-binary '"'"'X-OCCI-Attribute: occi.core.title="web-01-renamed"'"'"' | grep title'
ex "Each entity answer carries an \`ETag\`; \`If-Match\` with a stale one is refused with \`412\`:" \
'curl -si -X POST "$C" -H '"'"'If-Match: "1"'"'"' -H '"'"'Content-Type: text/plain'"'"' --data-binary '"'"'X-OCCI-Attribute: occi.core.title="x"'"'"' | grep -E '"'"'^HTTP|^X-OCCI-Error'"'"''

h "### Actions"
ex "A new compute is \`inactive\`; \`start\` it. Every action answers \`200\` with the entity's new rendering:" \
'curl -s -X POST "$C?action=start" -H '"'"'Content-Type: text/plain'"'"' --data-binary '"'"'Category: start; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"'"'"''
ex "\`stop\`, \`restart\` and \`suspend\` take a \`method\` parameter:" \
'curl -s -X POST "$C?action=restart" -H '"'"'Content-Type: text/plain'"'"' --data-binary @- <<'"'"'EOF'"'"' | grep compute.state
Category: restart; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"
X-OCCI-Attribute: method="warm"
EOF'
ex "" \
'curl -s -X POST "$C?action=suspend" -H '"'"'Content-Type: text/plain'"'"' --data-binary '"'"'Category: suspend; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"'"'"' | grep compute.state'
ex "An action not allowed in the current state answers \`409\`:" \
'curl -si -X POST "$C?action=save" -H '"'"'Content-Type: text/plain'"'"' --data-binary '"'"'Category: save; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"'"'"' | grep -E '"'"'^HTTP|^X-OCCI-Error'"'"''
ex "The body may be left out: the term in the URL names the action." \
'curl -s -X POST "$C?action=start" | grep compute.state'
ex "\`save\` answers the new OS template (a mixin). It lives in the saving user's own name space (\`…users/<user>/os_tpl#\`, at \`/users/<user>/os_tpl/<term>/\`; without authentication the user is \`anonymous\`), so only that user sees or uses it and any name is free for every user. The copy runs in the background; until it is done, creating from the template answers \`409\`:" \
'curl -s -X POST "$C?action=save" -H '"'"'Content-Type: text/plain'"'"' --data-binary @- <<'"'"'EOF'"'"'
Category: save; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"
X-OCCI-Attribute: method="hot"
X-OCCI-Attribute: name="web-golden"
EOF'
ex "A compute from the saved template (after a moment):" \
'sleep 1; curl -si http://127.0.0.1:8080/compute/ -H '"'"'Content-Type: text/plain'"'"' --data-binary @- <<'"'"'EOF'"'"' | grep -E '"'"'^HTTP|^Location'"'"'
Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"
Category: web-golden; scheme="http://occid.local/occi/users/anonymous/os_tpl#"; class="mixin"
X-OCCI-Attribute: occi.core.title="web-02"
EOF'
ex "How far the copy is shows in JSON discovery, as the defaults of the template's \`occid.template.*\` attributes: \`occid.template.state\` is \`saving\` (with \`occid.template.progress\` in percent), then \`ready\`, or \`error\` (with \`occid.template.message\`). The text renderings have no place for the values of a category's attributes; \`occi save --wait\` waits for \`ready\` (docs/cli.md):" \
"curl -s 'http://127.0.0.1:8080/-/?category=web-golden' -H 'Accept: application/occi+json' | grep -o '\"occid.template.state\":{[^{]*'"
ex "Storage: create a volume, attach it with a storage link (a link created directly in its kind collection), take it \`online\` and \`offline\`; networks go \`up\` and \`down\` the same way:" \
'curl -s -o /dev/null -w '"'"'%{http_code} %header{location}\n'"'"' -X PUT http://127.0.0.1:8080/storage/data1 -H '"'"'Content-Type: text/plain'"'"' --data-binary @- <<'"'"'EOF'"'"'
Category: storage; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"
X-OCCI-Attribute: occi.storage.size=10.0
EOF'
ex "" \
'curl -si http://127.0.0.1:8080/storagelink/ -H '"'"'Content-Type: text/plain'"'"' --data-binary @- <<EOF | grep -E '"'"'^HTTP|^Location'"'"'
Category: storagelink; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"
X-OCCI-Attribute: occi.core.source="$C"
X-OCCI-Attribute: occi.core.target="/storage/data1"
X-OCCI-Attribute: occi.storagelink.deviceid="vdb"
EOF'
ex "" \
'curl -si -X POST "http://127.0.0.1:8080/storage/data1?action=online" | grep -E '"'"'^HTTP|^X-OCCI-Error|storage.state'"'"''
ex "" \
'curl -si -X POST "http://127.0.0.1:8080/storage/data1?action=offline" | grep -E '"'"'^HTTP|^X-OCCI-Error|storage.state'"'"''
ex "" \
'curl -si -X POST "http://127.0.0.1:8080/network/backend?action=up" | grep -E '"'"'^HTTP|^X-OCCI-Error|network.state'"'"''
ex "" \
'curl -si -X POST "http://127.0.0.1:8080/network/backend?action=down" | grep -E '"'"'^HTTP|^X-OCCI-Error|network.state'"'"''
h "### Collections, filters and pages"
ex "A collection lists locations in text (full entities in JSON); \`text/uri-list\` gives bare URLs:" \
'curl -s http://127.0.0.1:8080/compute/'
ex "" \
'curl -s http://127.0.0.1:8080/ -H '"'"'Accept: text/uri-list'"'"''
ex "Filter by attribute (query parameters, or \`X-OCCI-Attribute\` request headers) and by category; page with \`page\` (from 1) and \`number\` (\`&\` or \`;\`):" \
"curl -s 'http://127.0.0.1:8080/compute/?occi.core.title=web-02'"
ex "" \
'curl -s http://127.0.0.1:8080/compute/ -H '"'"'X-OCCI-Attribute: occi.core.title="web-02"'"'"''
ex "" \
"curl -s 'http://127.0.0.1:8080/compute/?category=web-golden'"
ex "" \
"curl -s 'http://127.0.0.1:8080/compute/?page=2;number=1'"
ex "A \`number\` above \`--max-page\` is refused:" \
"curl -si 'http://127.0.0.1:8080/compute/?number=5000' | grep -E '^HTTP|^X-OCCI-Error'"

h "### Mixins (tags)"
ex "Define a tag through the query interface; a user's tags live in \`http://occid.local/occi/users/<user>/tags#\` under \`/users/<user>/tags/\` (the user is \`anonymous\` until authentication is configured):" \
'curl -si http://127.0.0.1:8080/-/ -H '"'"'Content-Type: text/plain'"'"' --data-binary '"'"'Category: web; scheme="http://occid.local/occi/users/anonymous/tags#"; class="mixin"; title="web tier"; location="/users/anonymous/tags/web/"'"'"''
ex "Associate entities with it (\`POST\` adds, \`PUT\` replaces the membership):" \
'curl -s -X POST http://127.0.0.1:8080/users/anonymous/tags/web/ -H '"'"'Content-Type: text/plain'"'"' --data-binary "X-OCCI-Location: $C"'
ex "An action on a collection (a kind's or a mixin's) runs on every member, all or none, and answers the collection:" \
'curl -s -X POST "http://127.0.0.1:8080/users/anonymous/tags/web/?action=stop" -H '"'"'Content-Type: text/plain'"'"' --data-binary '"'"'Category: stop; scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#"; class="action"'"'"''
ex "List it, here as a URI list:" \
'curl -s http://127.0.0.1:8080/users/anonymous/tags/web/ -H '"'"'Accept: text/uri-list'"'"''
ex "Dissociate one member (a \`DELETE\` naming it; one without a body dissociates every member; the entities stay):" \
'curl -s -o /dev/null -w '"'"'%{http_code}\n'"'"' -X DELETE http://127.0.0.1:8080/users/anonymous/tags/web/ -H '"'"'Content-Type: text/plain'"'"' --data-binary "X-OCCI-Location: $C"'
ex "Delete the tag:" \
'curl -s -o /dev/null -w '"'"'%{http_code}\n'"'"' -X DELETE http://127.0.0.1:8080/-/ -H '"'"'Content-Type: text/plain'"'"' --data-binary '"'"'Category: web; scheme="http://occid.local/occi/users/anonymous/tags#"; class="mixin"'"'"''
ex "Provider mixins cannot be deleted:" \
'curl -si -X DELETE http://127.0.0.1:8080/-/ -H '"'"'Content-Type: text/plain'"'"' --data-binary '"'"'Category: debian-12; scheme="http://occid.local/occi/os_tpl#"; class="mixin"'"'"' | grep -E '"'"'^HTTP|^X-OCCI-Error'"'"''

h "### Delete"
ex "Deleting a resource deletes its links; every \`DELETE\` answers \`200\`:" \
'curl -s -o /dev/null -w '"'"'%{http_code}\n'"'"' -X DELETE "$C"'
ex "" 'curl -si "$C" | grep -E '"'"'^HTTP|^X-OCCI-Error'"'"''
ex "\`DELETE\` on a kind collection deletes every entity in it:" \
'curl -s -o /dev/null -w '"'"'%{http_code}\n'"'"' -X DELETE http://127.0.0.1:8080/compute/'
ex "A saved OS template is deleted through the query interface, like a tag (its image goes too; a \`DELETE\` on its location, \`/users/anonymous/os_tpl/web-golden/\`, would only dissociate it from every compute, as for any mixin collection):" \
'curl -s -o /dev/null -w '"'"'%{http_code}\n'"'"' -X DELETE http://127.0.0.1:8080/-/ -H '"'"'Content-Type: text/plain'"'"' --data-binary '"'"'Category: web-golden; scheme="http://occid.local/occi/users/anonymous/os_tpl#"; class="mixin"'"'"''
h "@@JSON@@"
h "### Discovery"
ex "The query interface is one object with \`kinds\`, \`mixins\` and \`actions\`; here filtered to one category:" \
"curl -s 'http://127.0.0.1:8080/-/?category=resource_tpl' -H 'Accept: application/occi+json'"

h "### Create"
ex "A network at a chosen location (\`PUT\`):" \
'curl -s -o /dev/null -w '"'"'%{http_code} %header{location}\n'"'"' -X PUT http://127.0.0.1:8080/network/front -H '"'"'Content-Type: application/occi+json'"'"' -d '"'"'{
  "kind": "http://schemas.ogf.org/occi/infrastructure#network",
  "mixins": ["http://schemas.ogf.org/occi/infrastructure/network#ipnetwork"],
  "title": "front",
  "attributes": {"occi.network.address": "10.1.0.0/24"}
}'"'"''
ex "A compute from an OS and a resource template with an inline network interface (\`POST\`; the body of a \`201\` is the list of new locations):" \
'curl -si http://127.0.0.1:8080/compute/ -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{
  "kind": "http://schemas.ogf.org/occi/infrastructure#compute",
  "mixins": ["http://occid.local/occi/os_tpl#ubuntu-24.04", "http://occid.local/occi/resource_tpl#medium"],
  "title": "web-03",
  "links": [{"kind": "http://schemas.ogf.org/occi/infrastructure#networkinterface",
             "target": {"location": "/network/front", "kind": "http://schemas.ogf.org/occi/infrastructure#network"}}]
}'"'"' | tee create.out'
ex "" "C=\$(sed -n 's/^Location: //p' create.out | tr -d '\\r'); echo \"\$C\""

h "### Get"
ex "" 'curl -s "$C" -H '"'"'Accept: application/occi+json'"'"''

h "### Update"
ex "" \
'curl -s -X POST "$C" -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{"title": "web-03-renamed", "attributes": {"occi.compute.hostname": "web03"}}'"'"''

h "### Actions"
ex "" \
'curl -s -X POST "$C?action=start" -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{"action": "http://schemas.ogf.org/occi/infrastructure/compute/action#start"}'"'"''
ex "" \
'curl -s -X POST "$C?action=stop" -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{"action": "http://schemas.ogf.org/occi/infrastructure/compute/action#stop", "attributes": {"method": "acpioff"}}'"'"' | grep -o '"'"'"occi.compute.state":"[a-z]*"'"'"''
ex "" \
'curl -s -X POST "$C?action=start" -H '"'"'Accept: application/occi+json'"'"' | grep -o '"'"'"occi.compute.state":"[a-z]*"'"'"''
ex "" \
'curl -s -X POST "$C?action=restart" -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{"action": "http://schemas.ogf.org/occi/infrastructure/compute/action#restart", "attributes": {"method": "cold"}}'"'"' | grep -o '"'"'"occi.compute.state":"[a-z]*"'"'"''
ex "" \
'curl -s -X POST "$C?action=suspend" -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{"action": "http://schemas.ogf.org/occi/infrastructure/compute/action#suspend"}'"'"' | grep -o '"'"'"occi.compute.state":"[a-z]*"'"'"''
ex "\`save\` answers the new OS template:" \
'curl -s -X POST "$C?action=start" -o /dev/null; curl -s -X POST "$C?action=save" -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{"action": "http://schemas.ogf.org/occi/infrastructure/compute/action#save", "attributes": {"method": "deferred", "name": "web-golden-2"}}'"'"''
ex "" \
'sleep 1; curl -s -o /dev/null -w '"'"'%{http_code} %header{location}\n'"'"' http://127.0.0.1:8080/compute/ -H '"'"'Content-Type: application/occi+json'"'"' -d '"'"'{"kind": "http://schemas.ogf.org/occi/infrastructure#compute", "mixins": ["http://occid.local/occi/users/anonymous/os_tpl#web-golden-2"], "title": "web-04"}'"'"''
ex "Storage and networks:" \
'curl -s -X PUT http://127.0.0.1:8080/storage/data2 -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{"kind": "http://schemas.ogf.org/occi/infrastructure#storage", "attributes": {"occi.storage.size": 20}}'"'"''
ex "" \
'curl -s -X POST "http://127.0.0.1:8080/storage/data2?action=online" -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{"action": "http://schemas.ogf.org/occi/infrastructure/storage/action#online"}'"'"' | grep -o '"'"'"occi.storage.state":"[a-z]*"'"'"''
ex "" \
'curl -s -X POST "http://127.0.0.1:8080/network/front?action=up" -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{"action": "http://schemas.ogf.org/occi/infrastructure/network/action#up"}'"'"' | grep -o '"'"'"occi.network.state":"[a-z]*"'"'"''
ex "" \
'curl -s -X POST "http://127.0.0.1:8080/storage/data2?action=offline" -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{"action": "http://schemas.ogf.org/occi/infrastructure/storage/action#offline"}'"'"' | grep -o '"'"'"occi.storage.state":"[a-z]*"'"'"''
ex "" \
'curl -s -X POST "http://127.0.0.1:8080/network/front?action=down" -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{"action": "http://schemas.ogf.org/occi/infrastructure/network/action#down"}'"'"' | grep -o '"'"'"occi.network.state":"[a-z]*"'"'"''
ex "A storage link, created directly:" \
'curl -s -o /dev/null -w '"'"'%{http_code} %header{location}\n'"'"' http://127.0.0.1:8080/storagelink/ -H '"'"'Content-Type: application/occi+json'"'"' -d '"'"'{"kind": "http://schemas.ogf.org/occi/infrastructure#storagelink", "source": {"location": "'"'"'"$C"'"'"'"}, "target": {"location": "/storage/data2", "kind": "http://schemas.ogf.org/occi/infrastructure#storage"}}'"'"''

h "### Collections, filters and pages"
ex "In JSON a collection holds the full entities:" \
"curl -s 'http://127.0.0.1:8080/compute/?occi.core.title=web-04' -H 'Accept: application/occi+json'"
ex "" \
"curl -s 'http://127.0.0.1:8080/storagelink/?page=1&number=10' -H 'Accept: application/occi+json' | head -c 300; echo"
ex "An empty collection is still \`200\`:" \
"curl -s 'http://127.0.0.1:8080/compute/?page=9&number=10' -H 'Accept: application/occi+json'"

h "### Mixins (tags)"
ex "" \
'curl -s http://127.0.0.1:8080/-/ -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{"mixins": [{"term": "db", "scheme": "http://occid.local/occi/users/anonymous/tags#", "title": "databases", "location": "/users/anonymous/tags/db/"}]}'"'"''
ex "Associate with a list of locations:" \
'curl -s -X POST http://127.0.0.1:8080/users/anonymous/tags/db/ -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: text/uri-list'"'"' -d "[\"$C\"]"'
ex "List it (in JSON, the full entities):" \
'curl -s http://127.0.0.1:8080/users/anonymous/tags/db/ -H '"'"'Accept: application/occi+json'"'"''
ex "Replace the membership:" \
'curl -s -X PUT http://127.0.0.1:8080/users/anonymous/tags/db/ -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: text/uri-list'"'"' -d '"'"'["/network/front"]'"'"''
ex "Dissociate all, then delete the tag:" \
'curl -s -o /dev/null -w '"'"'%{http_code}\n'"'"' -X DELETE http://127.0.0.1:8080/users/anonymous/tags/db/'
ex "" \
'curl -s -o /dev/null -w '"'"'%{http_code}\n'"'"' -X DELETE http://127.0.0.1:8080/-/ -H '"'"'Content-Type: application/occi+json'"'"' -d '"'"'{"mixins": [{"term": "db", "scheme": "http://occid.local/occi/users/anonymous/tags#"}]}'"'"''

h "### Errors"
ex "Every error carries \`X-OCCI-Error\` and a small body in the negotiated type:" \
'curl -si http://127.0.0.1:8080/compute/ -H '"'"'Content-Type: application/occi+json'"'"' -H '"'"'Accept: application/occi+json'"'"' -d '"'"'{"kind": "http://schemas.ogf.org/occi/infrastructure#compute", "attributes": {"occi.compute.cores": "many"}}'"'"''
ex "" \
'curl -si -X PUT http://127.0.0.1:8080/compute/ -H '"'"'Accept: application/occi+json'"'"' | grep -E '"'"'^HTTP|^Allow|^X-OCCI-Error'"'"''
ex "" \
'curl -si http://127.0.0.1:8080/-/ -H '"'"'Accept: application/xml'"'"' | grep -E '"'"'^HTTP|^X-OCCI-Error'"'"''
ex "" \
'curl -si http://127.0.0.1:8080/-/ -H '"'"'User-Agent: future-client OCCI/2.0'"'"' | grep -E '"'"'^HTTP|^X-OCCI-Error'"'"''

h "### Delete"
ex "" 'curl -s -o /dev/null -w '"'"'%{http_code}\n'"'"' -X DELETE "$C" -H '"'"'Accept: application/occi+json'"'"''
