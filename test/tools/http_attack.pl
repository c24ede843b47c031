#!/usr/bin/perl
# Hostile HTTP clients against the helper's endpoint on 127.0.0.1:PORT,
# bounded in count and time.  Prints one line: what it did and saw.
#   http_attack.pl PORT slowloris N SECONDS   N clients that send a request
#       head one byte every 300 ms and never finish it
#   http_attack.pl PORT huge BYTES            one request head of BYTES bytes;
#       prints the status line it got back
#   http_attack.pl PORT flood N SECONDS       N connections opened at once and
#       held open, silent, for SECONDS
#   http_attack.pl PORT burst N PID           a prober's request, then N silent
#       connections, all made while the helper PID is stopped (SIGSTOP) and
#       so accepted in one burst once it goes on (SIGCONT, sent here);
#       prints the prober's status line
use strict;
use warnings;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my ($port, $mode, $n, $secs) = @ARGV;
$SIG{PIPE} = 'IGNORE';

sub connect_one {
	return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 5);
}

if ($mode eq 'slowloris') {
	my @s = grep { defined } map { connect_one() } 1 .. $n;
	my $head = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " . ('a' x 10000);
	my ($sent, $closed, $deadline) = (0, 0, time + $secs);
	my $i = 0;
	while (time < $deadline) {
		for my $s (@s) {
			next unless defined $s;
			if (!defined syswrite($s, substr($head, $i % length($head), 1))) {
				$s = undef;
				$closed++;
				next;
			}
			$sent++;
		}
		$i++;
		sleep 0.3;
	}
	printf "slowloris: %d connections, %d bytes sent, %d closed by the server\n", scalar(@s), $sent, $closed;
} elsif ($mode eq 'huge') {
	my $s = connect_one() or die "connect: $!";
	my $head = "GET /metrics HTTP/1.1\r\nX-Huge: " . ('b' x $n) . "\r\n\r\n";
	my $off = 0;
	while ($off < length $head) {
		my $w = syswrite($s, $head, 65536, $off);
		last unless defined $w && $w > 0;
		$off += $w;
	}
	my $line = <$s>;
	$line = 'no answer' unless defined $line;
	$line =~ s/\r?\n$//;
	printf "huge: %d of %d bytes taken, answer: %s\n", $off, length $head, $line;
} elsif ($mode eq 'flood') {
	my @s;
	for (1 .. $n) {
		my $s = connect_one();
		push @s, $s if defined $s;
	}
	sleep $secs;
	printf "flood: %d connections held for %d s\n", scalar(@s), $secs;
} elsif ($mode eq 'burst') {
	my $p = connect_one() or die "connect: $!";
	syswrite($p, "GET /liveness HTTP/1.1\r\nHost: x\r\n\r\n") or die "send: $!";
	my @s = grep { defined } map { connect_one() } 1 .. $n;
	kill 'CONT', $secs or die "SIGCONT $secs: $!";
	my $line;
	eval {
		local $SIG{ALRM} = sub { die "alarm\n" };
		alarm 10;
		$line = <$p>;
		alarm 0;
	};
	$line = 'no answer' unless defined $line;
	$line =~ s/\r?\n$//;
	printf "burst: %d connections behind the prober, its answer: %s\n", scalar(@s), $line;
} else {
	die "usage: http_attack.pl PORT slowloris|huge|flood|burst ...\n";
}
