#!/usr/bin/perl
# tunnel_report.pl HZ "WORKLOADS" "PATHS" DATA < RESULTS
# The table of test/bench/tunnel_vs_ssh.sh from its result lines
#   workload path tps txns helper_ticks ssh_ticks sshd_ticks p50 p99 max
#   round load0 load1 other busy sessions spread
# per workload and path: the median of the rounds with the spread
# [min-max]; the ratio to ssh -L of the same round, median [lowest], and
# every round's; CPU µs per transaction (median); latencies; busy runs; a
# helper's SSH sessions after the run (median) and whether its pool had
# spread (msg=pool_spread) by then.
# Then the targets, each met or missed, for every tunnel path.  Writes the
# chart's data (medians) to DATA.
use strict;
use warnings;

my ($hz, $workloads, $paths, $data) = @ARGV;
my @works = split ' ', $workloads;
my @paths = split ' ', $paths;
my (%runs, %by_round);
while (<STDIN>) {
	my @f = split;
	next unless @f >= 15;
	push @{$runs{"$f[0] $f[1]"}}, \@f;
	$by_round{"$f[0] $f[1] $f[10]"} = \@f;
}

sub median {
	my @v = sort { $a <=> $b } grep { defined && $_ ne '-' } @_;
	return undef unless @v;
	return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}
sub lowest { my @v = sort { $a <=> $b } @_; return $v[0]; }
sub highest { my @v = sort { $b <=> $a } @_; return $v[0]; }
sub cpu { my ($f, $i) = @_; return $f->[$i] * 1e6 / $hz / $f->[3]; }
sub fmt { my ($x, $p) = @_; return defined $x ? sprintf("%.${p}f", $x) : '-'; }

# ratios W PATH: this path's tps over ssh -L's in the same round, per round.
sub ratios {
	my ($w, $p) = @_;
	my @r;
	for my $f (@{$runs{"$w $p"} || []}) {
		my $s = $by_round{"$w ssh_l $f->[10]"};
		push @r, $f->[2] / $s->[2] if $s && $s->[2] > 0;
	}
	return @r;
}

my %med;
printf "%-8s %-12s %9s %19s %8s %11s %7s %7s %7s %7s %8s %9s %5s %5s\n",
	'work', 'path', 'tps', '[min-max]', 'vs_ssh_L', '[lowest]', 'helper', 'ssh', 'sshd',
	'p50_ms', 'p99_ms', 'worst_ms', 'busy', 'sess';
for my $w (@works) {
	for my $p (@paths) {
		my @f = @{$runs{"$w $p"} || []};
		next unless @f;
		my @tps = map { $_->[2] } @f;
		my @r = ratios($w, $p);
		my %m = (
			tps => median(@tps),
			ratio => median(@r),
			low => @r ? lowest(@r) : undef,
			helper => median(map { cpu($_, 4) } @f),
			ssh => median(map { cpu($_, 5) } @f),
			sshd => median(map { cpu($_, 6) } @f),
		);
		$med{"$w $p"} = \%m;
		my @sess = grep { defined && $_ ne '-' } map { $_->[15] } @f;
		my $spread = grep { defined $_->[16] && $_->[16] ne '-' && $_->[16] > 0 } @f;
		printf "%-8s %-12s %9.0f %19s %8s %11s %7.1f %7.1f %7.1f %7s %8s %9s %5s %5s\n",
			$w, $p, $m{tps}, sprintf('[%.0f-%.0f]', lowest(@tps), highest(@tps)),
			fmt($m{ratio}, 2), '[' . fmt($m{low}, 2) . ']', $m{helper}, $m{ssh}, $m{sshd},
			fmt(median(map { $_->[7] } @f), 2), fmt(median(map { $_->[8] } @f), 2),
			fmt(median(map { $_->[9] } @f), 2),
			sprintf('%d/%d', scalar(grep { $_->[14] } @f), scalar @f),
			@sess ? median(@sess) . ($spread ? '*' : '') : '-';
	}
}
print "sess: a helper's SSH sessions after the run (median); *: its pool had spread (msg=pool_spread)\n";
print "\ntunnel / ssh -L in every round (rounds in order):\n";
for my $p (grep { /^tunnel/ } @paths) {
	for my $w (@works) {
		my @r = ratios($w, $p);
		printf "%-8s %-12s %s\n", $w, $p, join(' ', map { sprintf '%.2f', $_ } @r) if @r;
	}
}

# The targets, for every tunnel path.
print "\ntargets:\n";
for my $p (grep { /^tunnel/ } @paths) {
	my @every;
	for my $w (@works) {
		my @r = ratios($w, $p);
		push @every, [$w, lowest(@r)] if @r;
	}
	my @below = grep { $_->[1] < 1.0 } @every;
	printf "%-12s every workload >= 1.0x ssh -L in every round: %s\n", $p,
		!@every ? 'not measured'
		: @below ? 'missed (' . join(', ', map { sprintf '%s %.2f', @$_ } @below) . ')'
		: sprintf('met (lowest %.2f)', lowest(map { $_->[1] } @every));
	for my $t (['S16', 1.2], ['S32', 1.2], ['C4', 1.5]) {
		my ($w, $want) = @$t;
		my $m = $med{"$w $p"};
		next unless $m && defined $m->{ratio};
		printf "%-12s %s >= %.1fx ssh -L: %.2f [lowest %.2f], %s\n", $p, $w, $want, $m->{ratio},
			$m->{low}, $m->{ratio} >= $want ? 'met' : sprintf('missed by %.2f', $want - $m->{ratio});
	}
	for my $w (qw(S8 S16)) {
		my ($m, $s) = ($med{"$w $p"}, $med{"$w ssh_l"});
		next unless $m && $s;
		printf "%-12s %s helper CPU <= ssh client's: %.1f against %.1f us (%.2fx), %s\n", $p, $w,
			$m->{helper}, $s->{ssh}, $s->{ssh} > 0 ? $m->{helper} / $s->{ssh} : 0,
			$m->{helper} <= $s->{ssh} ? 'met' : 'missed';
	}
}

# Chart data: workload, tunnel/ssh-L and direct/ssh-L throughput, CPU µs
# per transaction of helper vs ssh client and tunnel-sshd vs ssh-L-sshd.
open my $out, '>', $data or die "$data: $!";
print $out "# work tunnel_ratio direct_ratio helper_us ssh_us sshd_tunnel_us sshd_ssh_l_us\n";
for my $w (@works) {
	my ($t, $d, $s) = map { $med{"$w $_"} } qw(tunnel direct ssh_l);
	next unless $t && $d && $s;
	printf $out "%s %s %s %s %s %s %s\n", $w, fmt($t->{ratio}, 3), fmt($d->{ratio}, 3),
		fmt($t->{helper}, 1), fmt($s->{ssh}, 1), fmt($t->{sshd}, 1), fmt($s->{sshd}, 1);
}
close $out;
