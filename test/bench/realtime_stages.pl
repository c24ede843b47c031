#!/usr/bin/perl
# realtime_stages.pl COMMITS LISTENER_LOG FROM_LINE SERVER_LOG FROM_BYTE
# Where the delivery delay of each change is spent.  Joins, per change:
#   insert   the time in its row's ULID (made at insert, millisecond resolution)
#   commit   its transaction's commit time (COMMITS: id, xid, commit time
#            in µs since the epoch; track_commit_timestamp)
#   snapshot, read, sent
#            the notifier's batch snapshot, its read of the rows and the
#            commit of their NOTIFYs (the notifier's DEBUG1 trace lines in
#            SERVER_LOG from FROM_BYTE, which name the xids they sent)
#   receipt  the listener's receive time (LISTENER_LOG from FROM_LINE)
# and prints, for each stage, its p50, its p99 and its median among the
# slowest 1% of changes (by total delay), in ms:
#   stage NAME P50 P99 SLOW
# then
#   matched N        changes with every time known
#   passed_over N    changes committed over 1 ms before a snapshot that did
#                    not send them
#   slow_woken_by    what woke the notifier for the batches of the slowest 1%
use strict;
use warnings;

my ($commits, $log, $from_line, $slog, $from_byte) = @ARGV;
my $alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
my %value;
@value{split //, $alphabet} = (0 .. 31);

# ulid_us ID: the ULID's millisecond time, in µs.
sub ulid_us {
	my $ms = 0;
	$ms = $ms * 32 + $value{$_} for split //, substr($_[0], 0, 10);
	return $ms * 1000;
}

my %commit;
open my $fh, '<', $commits or die "$commits: $!";
while (<$fh>) {
	chomp;
	my ($id, $xid, $us) = split /\t/;
	$commit{$id} = [$xid, $us] if defined $us && $us ne '';
}
close $fh;

# The notifier's pieces, and which piece sent each xid.
my (%piece_of, %snapshots);
open $fh, '<', $slog or die "$slog: $!";
seek $fh, $from_byte, 0;
while (<$fh>) {
	next unless /chatgenius notifier trace: woke=(\d+) by=(\w+) snap=(\d+) read=(\d+) sent=(\d+) part=\d rows=\d+ xids=(\S+)/;
	my $p = {woke => $1, by => $2, snap => $3, read => $4, sent => $5};
	$snapshots{$3} = 1;
	for my $run (split /,/, $6) {
		my ($first, $last) = split /-/, $run;
		$piece_of{$_} = $p for $first .. ($last // $first);
	}
}
close $fh;

my @changes;
my $n = 0;
open $fh, '<', $log or die "$log: $!";
while (<$fh>) {
	next unless /^(\d+)\t\w+\t(.*)$/;
	next if ++$n < $from_line;
	my ($us, $payload) = ($1, $2);
	my ($op) = $payload =~ /"operation" : "(\w+)"/;
	my ($id) = $payload =~ /"id" : "(\w{26})"/;
	next unless $op && $op eq 'INSERT' && $id && $commit{$id};
	my ($xid, $cts) = @{$commit{$id}};
	my $p = $piece_of{$xid} or next;
	push @changes, {insert => ulid_us($id), commit => $cts, snapshot => $p->{snap},
		read => $p->{read}, sent => $p->{sent}, receipt => $us, by => $p->{by}};
}
close $fh;

my @stages = (
	['write', 'insert', 'commit'],
	['to_snapshot', 'commit', 'snapshot'],
	['read', 'snapshot', 'read'],
	['notify', 'read', 'sent'],
	['listener', 'sent', 'receipt'],
	['total', 'insert', 'receipt'],
);

# pct REF Q: the Q-quantile (0..1) of the numbers in REF.
sub pct {
	my ($ref, $q) = @_;
	return '-' unless @$ref;
	my @s = sort { $a <=> $b } @$ref;
	return sprintf '%.1f', $s[int($q * $#s + 0.5)];
}

my @by_total = sort { ($a->{receipt} - $a->{insert}) <=> ($b->{receipt} - $b->{insert}) } @changes;
my @slow = @by_total ? @by_total[int(0.99 * $#by_total) .. $#by_total] : ();
for my $s (@stages) {
	my ($name, $from, $to) = @$s;
	my @all = map { ($_->{$to} - $_->{$from}) / 1000 } @changes;
	my @sl = map { ($_->{$to} - $_->{$from}) / 1000 } @slow;
	printf "stage %s %s %s %s\n", $name, pct(\@all, 0.5), pct(\@all, 0.99), pct(\@sl, 0.5);
}
printf "matched %d\n", scalar @changes;

# A change is passed over when a batch snapshot taken more than 1 ms after
# its commit time did not send it (the commit time is taken just before the
# commit becomes visible).
my @snaps = sort { $a <=> $b } keys %snapshots;
my $passed = 0;
for my $c (@changes) {
	my ($lo, $hi) = (0, scalar @snaps);
	while ($lo < $hi) {
		my $mid = int(($lo + $hi) / 2);
		if ($snaps[$mid] <= $c->{commit} + 1000) { $lo = $mid + 1 } else { $hi = $mid }
	}
	$passed++ if $lo < @snaps && $snaps[$lo] < $c->{snapshot};
}
printf "passed_over %d\n", $passed;
my %by;
$by{$_->{by}}++ for @slow;
printf "slow_woken_by %s\n", join(',', map { "$_:$by{$_}" } sort keys %by) || '-';
