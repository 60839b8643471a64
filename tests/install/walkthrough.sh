#!/usr/bin/env bash
# Turns the marked code blocks of a Markdown file into a bash script, in the
# order they appear, so tests run the documentation as written:
#   tests/install/walkthrough.sh FILE > script.sh
# A block is marked by an HTML comment on the line before its fence (invisible
# on GitHub and in Doxygen's guide):
#   <!-- test: run -->        its lines are commands of the script;
#   <!-- test: file NAME -->  the script writes its text to NAME.
# Unmarked blocks (outputs, alternatives) are left out. Exits 1 when FILE
# has no marked block.
set -euo pipefail
awk '
  /^<!-- test: (run|file [^ ]+) -->$/ { mark = $3 == "run" ? "run" : $4; next }
  mark != "" && /^```/ {
    if (!inside) { inside = 1; n++
      if (mark != "run") print "cat > " mark " <<'\''BYOL_DOC_BLOCK'\''"
      next }
    if (mark != "run") print "BYOL_DOC_BLOCK"
    inside = 0; mark = ""; next
  }
  inside { print }
  END { if (!n) { print FILENAME ": no <!-- test: ... --> block" > "/dev/stderr"; exit 1 } }
' "$1"
