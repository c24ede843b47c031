# shellcheck shell=bash
# test/lib/doc.sh: the procedures that the documents give word for word, for
# the tests that run them.  A block is marked by an HTML comment on the line
# above its fence, "<!-- MARKER -->" or "<!-- MARKER runs the block below
# ... -->", and is found by its marker in README.md or doc/*.md, wherever it
# has moved to.
#
#   . test/lib/doc.sh
#   doc_block deploy:install                  the block's lines, fences left out
#   doc_block test/upgrade/restore.t

DOC_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# doc_block MARKER: prints the body of the fenced block below MARKER's
# comment.  Fails (and prints nothing) unless exactly one document line
# carries that marker, so that a block is never taken from the wrong place.
doc_block()
{
	local files=("$DOC_TOP/README.md" "$DOC_TOP"/doc/*.md) n
	n=$(awk -v m="<!-- $1 " 'index($0, m) == 1' "${files[@]}" | wc -l)
	if [ "$n" -ne 1 ]; then
		echo "doc_block: marker '$1' is on $n lines of README.md and doc/*.md, not on one" >&2
		return 1
	fi
	awk -v m="<!-- $1 " '
		index($0, m) == 1 { f = 1; next }
		f == 1 && /^```/ { f = 2; next }
		f == 2 && /^```/ { exit }
		f == 2 { print }' "${files[@]}"
}
