#!/usr/bin/perl
# A TCP forwarder whose door can be shut, for the channel-open tests: on the
# server's side of the tunnel it stands between sshd and PostgreSQL.
#
#   gate_proxy.pl LISTEN_PORT TARGET_PORT STATE_FILE
#
# SIGUSR1 shuts the door: the proxy stops accepting and fills its own
# accept queue (backlog 1), so the kernel drops the SYNs of any further
# connect: sshd's connect for a new direct-tcpip channel then hangs in SYN
# retries, a blackholed open, with no firewall rule.  Connections already
# forwarded keep working.  SIGUSR2 opens the door again.  STATE_FILE holds
# "open" or "shut" once the change took effect.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Errno qw(EINPROGRESS);
use Socket qw(SOCK_STREAM);

my ($lport, $tport, $state_file) = @ARGV;
my $listen = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
	LocalPort => $lport, ReuseAddr => 1) or die "listen: $!";
my $sel = IO::Select->new($listen);
my %peer;			# socket -> its other end
my @fillers;		# our own connects that fill the accept queue
my ($shut, $want) = (0, 0);

sub state { open(my $f, '>', "$state_file.tmp") or die; print $f $_[0], "\n"; close $f;
	rename("$state_file.tmp", $state_file) }

$SIG{USR1} = sub { $want = 1 };
$SIG{USR2} = sub { $want = 0 };
state('open');

for (;;) {
	if ($want && !$shut) {
		$sel->remove($listen);
		for (1 .. 4) {
			my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $lport,
				Proto => 'tcp', Blocking => 0);
			push @fillers, $s if $s;
		}
		select(undef, undef, undef, 0.3);	# let the handshakes land in the queue
		$shut = 1;
		state('shut');
	} elsif (!$want && $shut) {
		close $_ for @fillers;
		@fillers = ();
		$sel->add($listen);
		$shut = 0;
		state('open');
	}
	my @ready = $sel->can_read(0.1);
	for my $s (@ready) {
		if ($s == $listen) {
			my $c = $listen->accept or next;
			my $t = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $tport,
				Proto => 'tcp');
			if (!$t) { close $c; next }
			$peer{$c} = $t; $peer{$t} = $c;
			$sel->add($c, $t);
			next;
		}
		my $o = $peer{$s} or next;
		my $n = sysread($s, my $buf, 65536);
		if (!$n) {
			$sel->remove($s, $o);
			delete @peer{$s, $o};
			close $s; close $o;
			next;
		}
		my $off = 0;
		while ($off < $n) {
			my $w = syswrite($o, $buf, $n - $off, $off);
			last unless defined $w;
			$off += $w;
		}
	}
}
