#!/usr/bin/env bash
# The house as the README draws it: the top level holds the design card's
# entries (plus .ci/, debian/, doc/, NEWS.md and dotfiles) and nothing else;
# the README's file map names every src/*.c and helper/*.c, and no file that
# is gone; every document in doc/ is linked from the README; and every
# relative link of README.md, NEWS.md and doc/*.md leads to a file that
# exists and, with a #fragment, to one of its headings.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tap.sh"
cd "$TOP" || bail_out "cannot enter $TOP"
[ -f README.md ] || bail_out "no README.md in $TOP"

# ---------------------------------------------------------------- the top level
ALLOWED="Makefile chatgenius.control sql src helper test expected README.md .ci debian doc NEWS.md"
# What a clone holds (tracked files, and new ones not ignored), else what is here.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	entries=$({ git ls-files; git ls-files --others --exclude-standard; } | cut -d/ -f1 | sort -u)
else
	entries=$(ls -A | grep -v -e '\.o$' -e '\.so$' -e '\.bc$' | sort -u)
fi
stray=
for e in $entries; do
	case " $ALLOWED " in *" $e "*) continue ;; esac
	case $e in .*) continue ;; esac	# dotfiles (.gitignore, ...)
	stray="$stray $e"
done
is "${stray# }" "" "the top level holds only the design card's entries, .ci/, debian/, doc/, NEWS.md and dotfiles"
for e in Makefile chatgenius.control sql src helper test expected README.md doc NEWS.md; do
	[ -e "$e" ]
	ok $? "the top level has $e"
done

# The README's folder table names each entry of the top level but dotfiles
# (.ci/ is named, being the CI entry point).
map=$(awk '/^## File map/ { f = 1; next } f && /^## / { exit } f' README.md)
[ -n "$map" ] || bail_out "README.md has no \"## File map\" section"
missing=
for e in $ALLOWED; do
	[ -e "$e" ] || continue
	grep -qF "\`$e\`" <<<"$map" || grep -qF "\`$e/\`" <<<"$map" || missing="$missing $e"
done
is "${missing# }" "" "the README's file map names every top-level entry"

# ---------------------------------------------------------------- every module
# map_files SECTION: the file names in the table that follows the README line
# starting with SECTION ("The extension's C", "The helper,").
map_files()
{
	awk -v s="$1" 'index($0, s) == 1 { f = 1; next }
		f == 1 && /^\|/ { f = 2 }
		f == 2 && !/^\|/ { exit }
		f == 2 { print }' <<<"$map" |
		sed -n 's/^| `\([^`|]*\.c\)` |.*/\1/p' | sort
}
for dir in src helper; do
	case $dir in
	src) section="The extension's C, \`src/\`" ;;
	helper) section="The helper, \`helper/\`" ;;
	esac
	named=$(map_files "$section")
	[ -n "$named" ] || bail_out "the README's file map has no table under \"$section\""
	files=$(cd "$dir" && ls -- *.c | sort)
	is "$(comm -23 <(echo "$files") <(echo "$named") | tr '\n' ' ' | sed 's/ $//')" "" \
		"every $dir/*.c has its line in the README's file map ($(echo "$files" | wc -l) files)"
	is "$(comm -13 <(echo "$files") <(echo "$named") | tr '\n' ' ' | sed 's/ $//')" "" \
		"the README's file map names no $dir/*.c that is gone"
	# one line each, saying its concern
	empty=$(awk -v s="$section" 'index($0, s) == 1 { f = 1; next }
		f == 1 && /^\|/ { f = 2 }
		f == 2 && !/^\|/ { exit }
		f == 2 && /^\| `[^`]*\.c` \| *\|/ { print $2 }' <<<"$map")
	is "$empty" "" "each $dir file's line in the map says its concern"
done

# ---------------------------------------------------------------- the documents
docs=$(ls doc/*.md 2>/dev/null | sort)
[ -n "$docs" ] || bail_out "no doc/*.md"
unlinked=
for d in $docs NEWS.md; do
	grep -qF "]($d)" README.md || unlinked="$unlinked $d"
done
is "${unlinked# }" "" "the README links every document ($(echo "$docs" | wc -l) in doc/, and NEWS.md)"

# Relative links and their fragments.  A fragment is the heading's anchor as
# GitHub makes it: lower case, punctuation but - and _ dropped, spaces to -.
broken=$(perl -e '
	use strict; use warnings;
	sub anchor { my $h = lc shift; $h =~ s/[^\w\- ]//g; $h =~ s/ /-/g; return $h; }
	my %anchors;
	sub anchors_of {
		my $f = shift;
		return $anchors{$f} if $anchors{$f};
		my %a; my $fence = 0;
		open my $fh, "<", $f or return {};
		while (<$fh>) {
			$fence = !$fence if /^```/;
			next if $fence;
			$a{anchor($1)} = 1 if /^#+\s+(.*?)\s*$/;
		}
		return $anchors{$f} = \%a;
	}
	for my $f (@ARGV) {
		open my $fh, "<", $f or die;
		(my $dir = $f) =~ s{[^/]*$}{};
		my $fence = 0;
		while (my $line = <$fh>) {
			$fence = !$fence if $line =~ /^```/;
			next if $fence;
			while ($line =~ /\]\(([^)\s]+)\)/g) {
				my $t = $1;
				next if $t =~ m{^[a-z]+:};
				my ($path, $frag) = split /#/, $t, 2;
				my $target = $path eq "" ? $f : "$dir$path";
				1 while $target =~ s{[^/]+/\.\./}{};
				if (!-e $target) { print "$f:$.: $t (no $target)\n"; next; }
				next unless defined $frag && $target =~ /\.md$/;
				print "$f:$.: $t (no heading #$frag in $target)\n"
					unless anchors_of($target)->{$frag};
			}
		}
	}' README.md NEWS.md $docs)
is "$broken" "" "every relative link of README.md, NEWS.md and doc/*.md leads somewhere"

# ---------------------------------------------------------------- its size
lines=$(wc -l <README.md)
cmp_ok "$lines" -lt 300 "the README stays short: $lines lines (the rest lives in doc/)"

done_testing
