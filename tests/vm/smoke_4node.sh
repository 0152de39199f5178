#!/bin/sh
# tests/vm/smoke_4node.sh - the smoke test of smoke_2node.sh on a guest with
# four NUMA nodes.
NODES=4 exec /bin/sh "$(dirname "$0")/smoke_2node.sh" "$@"
