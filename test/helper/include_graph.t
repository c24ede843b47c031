#!/usr/bin/env bash
# The code's structure flows one way: in helper/ and in src/, no module
# reaches back up to one that includes it.  Modules are the .c/.h pairs; an
# edge is `#include "other.h"` in either file of a module; any cycle of the
# graph (a strongly connected part of two or more modules) fails, named.
# A module that must call upward takes a callback instead (pool_init and
# prober_init take janitor_wake).
#
#   prove test/helper/include_graph.t
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 1
. test/lib/tap.sh

# cycles DIR: one line per cycle, its modules sorted.
cycles()
{
	perl -e '
		use strict;
		use warnings;
		my $dir = shift;
		my %edges;
		opendir(my $d, $dir) or die "$dir: $!\n";
		for my $f (sort grep { /\.[ch]$/ } readdir $d) {
			(my $m = $f) =~ s/\.[ch]$//;
			open(my $fh, "<", "$dir/$f") or die "$dir/$f: $!\n";
			while (<$fh>) {
				$edges{$m}{$1} = 1 if /^\s*#\s*include\s+"([^"\/]+)\.h"/ && $1 ne $m;
			}
			$edges{$m} //= {};
		}
		# Tarjan: the strongly connected parts of the graph.
		my ($n, %index, %low, @stack, %on);
		$n = 0;
		my $visit;
		$visit = sub {
			my $v = shift;
			$index{$v} = $low{$v} = $n++;
			push @stack, $v;
			$on{$v} = 1;
			for my $w (sort keys %{$edges{$v} || {}}) {
				if (!exists $index{$w}) {
					$visit->($w);
					$low{$v} = $low{$w} if $low{$w} < $low{$v};
				} elsif ($on{$w}) {
					$low{$v} = $index{$w} if $index{$w} < $low{$v};
				}
			}
			return unless $low{$v} == $index{$v};
			my @part;
			my $w;
			do {
				$w = pop @stack;
				$on{$w} = 0;
				push @part, $w;
			} while ($w ne $v);
			print join(" <-> ", sort @part), "\n" if @part > 1;
		};
		$visit->($_) for grep { !exists $index{$_} } sort keys %edges;
	' "$1"
}

for dir in helper src; do
	found=$(cycles "$dir")
	is "$found" "" "$dir/: no include cycle between modules"
	cmp_ok "$(find "$dir" -maxdepth 1 -name '*.c' | wc -l)" -gt 10 "$dir/: the modules were read"
done
done_testing
