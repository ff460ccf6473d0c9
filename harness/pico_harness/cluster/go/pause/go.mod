// The pause program of the real node's pod sandboxes (standard library only).
module picotls.dev/devcluster/pause

go 1.24.0
