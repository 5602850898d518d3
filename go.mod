module github.com/occid/occi

go 1.26
