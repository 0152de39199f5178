#!/bin/sh
# tests/vm/migrate_basic_4node.sh - migrate_basic.sh on a guest with four
# NUMA nodes: pages move from node 0 to node 3 and back.
NODES=4 TARGET=3 exec /bin/sh "$(dirname "$0")/migrate_basic.sh" "$@"
