#!/usr/bin/env bash
# Checks what doxygen cannot: the doc comment of every BYOL_API function in
# include/byol/*.h says who owns the memory it touches and how it fails.
#   - ownership: "borrowed", "owned"/"owns", "copied", "static storage",
#     "caller memory" or "no memory is owned or borrowed";
#   - errors: an @return, or "Cannot fail" / "Sets no error" for the few
#     calls that have no status.
# `make docs` runs it after doxygen (which checks @param/@return and names).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
perl -0777 -ne '
  while (/(\/\*\*(?:(?!\*\/).)*\*\/)?\s*BYOL_API\s[^;(]*?\b(byol_\w+)\s*\(/gs) {
    my ($c, $f) = ($1 // "", $2);
    if ($c eq "") { print "$ARGV: $f: no doc comment right before it\n"; $bad++; next }
    if ($c !~ /borrowed|\bowned\b|\bowns\b|copied|static storage|caller memory|no memory is owned/i) {
      print "$ARGV: $f: the comment does not state ownership\n"; $bad++ }
    if ($c !~ /\@return|cannot fail|sets no error/i) {
      print "$ARGV: $f: the comment states no status or error codes\n"; $bad++ }
    $n++;
  }
  END { if ($bad) { exit 1 }
        print "check-api-docs: OK: $n BYOL_API functions state ownership and errors\n" }
' "$root"/include/byol/*.h
