#!/usr/bin/perl
# storm.pl PORT N [SECONDS]: open N TCP connections to 127.0.0.1:PORT at once
# (clients that send nothing: each waits for room in the tunnel's pool), keep
# them open, and wait up to SECONDS (default 30) for the helper to close them.
# Prints "opened=N closed_by_peer=M".  A refused-client storm for the tests.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;

my ($port, $n, $secs) = @ARGV;
$secs //= 30;
my @socks;
for (1 .. $n) {
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
		Proto => 'tcp', Timeout => 5) or next;
	push @socks, $s;
}
my $sel = IO::Select->new(@socks);
my $closed = 0;
my $deadline = time + $secs;
while ($sel->count && time < $deadline) {
	for my $s ($sel->can_read(0.5)) {
		my $buf;
		my $r = sysread($s, $buf, 4096);
		if (!defined $r || $r == 0) {
			$closed++;
			$sel->remove($s);
			close $s;
		}
	}
}
printf "opened=%d closed_by_peer=%d\n", scalar(@socks), $closed;
