#!/usr/bin/env bash
# Prints the fenced code block that follows a `<!-- test: NAME -->` line in a
# Markdown file, so tests run the code the documentation shows, as written:
#   tests/install/docblock.sh FILE NAME
# The marker is an HTML comment: invisible on GitHub and in Doxygen's guide.
# Exits 1, naming the marker, if the file has no such block.
set -euo pipefail
file=$1 name=$2
awk -v marker="<!-- test: $name -->" '
  $0 == marker { armed = 1; next }
  armed && /^```/ { if (inside) { found = 1; exit } inside = 1; next }
  inside { print }
  END { exit found ? 0 : 1 }
' "$file" || { echo "docblock: $file has no code block after '<!-- test: $name -->'" >&2; exit 1; }
