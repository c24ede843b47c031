#!/usr/bin/perl
# A stand-in for systemd's notification socket: a unix datagram socket at
# ARGV[0]; each datagram is printed as one line, "SECONDS.MS KEY=V|KEY=V".
#   perl test/tools/notify_recv.pl PATH >>LOG
use strict;
use warnings;
use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM);
use Time::HiRes qw(time);

unlink $ARGV[0];
my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $ARGV[0]) or die "socket: $!";
$| = 1;
while (1) {
	my $buf = '';
	defined $s->recv($buf, 65536) or next;
	$buf =~ s/\n/|/g;
	printf "%.3f %s\n", time, $buf;
}
