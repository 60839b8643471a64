#!/usr/bin/env bash
# docs/guarantees.md backs every statement with a named test; this checks
# that each name it gives still exists, so a renamed or deleted test cannot
# leave a promise without its proof. Quoted text is a case name of
# tests/cli/test_cli.sh ("... more" names continue the case before them and
# are looked up as they are).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
doc=$root/docs/guarantees.md
bad=0 n=0
# One line per paragraph, so a quoted name broken across lines is whole.
text=$(tr '\n' ' ' < "$doc" | sed 's/  */ /g')

# Names in `code` spans: "test_x:" is a program (tests/unit/test_x.c),
# "test_crash.sh" a script of tests/cli or tests/mpi, any other test_x a
# cmocka test.
for t in $(grep -o '`[^`]*`' <<<"$text" | grep -o 'test_[a-z0-9_]*[:.]\?' | sort -u); do
  n=$((n + 1))
  case $t in
    *:) [ -f "$root/tests/unit/${t%:}.c" ] || { echo "check-guarantees: no tests/unit/${t%:}.c"; bad=1; } ;;
    *.) [ -f "$root/tests/cli/${t}sh" ] || [ -f "$root/tests/mpi/${t}sh" ] ||
          { echo "check-guarantees: no tests/cli/${t}sh or tests/mpi/${t}sh"; bad=1; } ;;
    *) grep -q "^static void $t(" "$root"/tests/unit/*.c ||
         { echo "check-guarantees: no cmocka test $t"; bad=1; } ;;
  esac
done

while IFS= read -r name; do
  n=$((n + 1))
  grep -qF "\"$name\"" "$root/tests/cli/test_cli.sh" ||
    { echo "check-guarantees: no case \"$name\" in tests/cli/test_cli.sh"; bad=1; }
done < <(grep -o '"[^"]*"' <<<"$text" | sed 's/^"//; s/"$//' | sort -u)

[ $bad -eq 0 ] || exit 1
echo "check-guarantees: OK: the $n test names in docs/guarantees.md exist"
