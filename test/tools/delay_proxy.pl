#!/usr/bin/perl
# A TCP forwarder that delays every byte by a fixed time each way, as a
# wide-area path would (a round trip of twice the delay), for the tests
# that need a normal path that is not loopback-fast.  Order is kept; a
# close is passed on once what came before it was delivered.
#
#   delay_proxy.pl LISTEN_PORT TARGET_PORT DELAY_MS
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);

my ($lport, $tport, $delay_ms) = @ARGV;
my $delay = $delay_ms / 1000;
my $listen = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
	LocalPort => $lport, ReuseAddr => 1) or die "listen: $!";
my $sel = IO::Select->new($listen);
my %peer;			# fileno -> the other end's socket
my %sock;			# fileno -> socket
my %queue;			# fileno -> [[due, bytes, or undef for the close], ...] to write to it

# Drop both ends of the connection of socket s.
sub drop
{
	my ($s) = @_;
	my @ends = ($s, $peer{fileno $s});
	for my $x (@ends) {
		next unless defined $x && defined fileno $x;
		my $fd = fileno $x;
		$sel->remove($x);
		delete $peer{$fd};
		delete $sock{$fd};
		delete $queue{$fd};
		close $x;
	}
}

for (;;) {
	my $now = time;
	my $next = $now + 0.05;
	for my $fd (keys %queue) {
		my $q = $queue{$fd};
		while ($q && @$q && $q->[0][0] <= $now) {
			my (undef, $data) = @{shift @$q};
			if (!defined $data) { drop($sock{$fd}); $q = undef; last }
			my $off = 0;
			while ($off < length $data) {
				my $w = syswrite($sock{$fd}, $data, length($data) - $off, $off);
				if (!defined $w) { drop($sock{$fd}); $q = undef; last }
				$off += $w;
			}
		}
		$next = $q->[0][0] if $q && @$q && $q->[0][0] < $next;
	}
	my $wait = $next - time;
	for my $s ($sel->can_read($wait > 0 ? $wait : 0)) {
		if ($s == $listen) {
			my $c = $listen->accept or next;
			my $t = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $tport,
				Proto => 'tcp');
			if (!$t) { close $c; next }
			@peer{fileno $c, fileno $t} = ($t, $c);
			@sock{fileno $c, fileno $t} = ($c, $t);
			@queue{fileno $c, fileno $t} = ([], []);
			$sel->add($c, $t);
			next;
		}
		my $o = $peer{fileno $s} or next;
		my $n = sysread($s, my $buf, 65536);
		push @{$queue{fileno $o}}, [time + $delay, $n ? $buf : undef];
		$sel->remove($s) unless $n;
	}
}
