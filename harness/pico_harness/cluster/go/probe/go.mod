// A network probe image for the real node's tests (standard library only).
module picotls.dev/devcluster/probe

go 1.24.0
