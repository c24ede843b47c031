#!/usr/bin/perl
# realtime_delay.pl LOG FROM EXPECTED
# Reads the listener's lines FROM (1-based) onwards; prints
#   received N  duplicates N  p50 MS  p99 MS  max MS
# The delay of a change is the time it was received minus the time in its
# row's ULID id (made by the id default at insert, millisecond resolution):
# the write's remaining time, its commit, the wait for the notifier and the
# NOTIFY itself.
use strict;
use warnings;

my ($log, $from) = @ARGV;
my $alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
my %value;
@value{split //, $alphabet} = (0 .. 31);

# ulid_ms ID: the 48-bit millisecond timestamp of a ULID.
sub ulid_ms {
	my ($id) = @_;
	my $ms = 0;
	$ms = $ms * 32 + $value{$_} for split //, substr($id, 0, 10);
	return $ms;
}

my (@delays, %seen);
my ($n, $received, $dups) = (0, 0, 0);
open my $fh, '<', $log or die "$log: $!";
while (<$fh>) {
	next unless /^(\d+)\t(\w+)\t(.*)$/;
	next if ++$n < $from;
	my ($us, $channel, $payload) = ($1, $2, $3);
	$received++;
	$dups++ if $seen{"$channel $payload"}++;
	my ($op) = $payload =~ /"operation" : "(\w+)"/;
	my ($id) = $payload =~ /"id" : "(\w{26})"/;
	next unless $op && $op eq 'INSERT' && $id;
	push @delays, $us / 1000 - ulid_ms($id);
}
close $fh;
@delays = sort { $a <=> $b } @delays;
sub pct {
	my ($p) = @_;
	return 'n/a' unless @delays;
	my $i = int($p / 100 * $#delays + 0.5);
	return sprintf '%.1f', $delays[$i];
}
printf "received %d\nduplicates %d\np50 %s\np99 %s\nmax %s\n",
	$received, $dups, pct(50), pct(99), pct(100);
