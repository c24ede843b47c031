#!/usr/bin/perl
# tunnel_hostile_clients.pl MODE PORT ARGS...: local clients that never log
# in, for the tunnel's security tests (test/security/tunnel_*.t and
# test/helper/login_timeout.t).  Every mode prints one line of key=value.
#
#   idle PORT N WAVES GAP_MS SECONDS
#       N sockets in WAVES waves GAP_MS apart that send nothing and never
#       close; prints "opened=N" on stderr once all are open, waits up to
#       SECONDS for the tunnel's EOF on each, then probes which ones the
#       tunnel closed fully: "opened=N eof=E last_eof_ms=T reset=R" (T from
#       the last wave), and holds the sockets until killed.
#   sslidle PORT N SECONDS
#       the same after an SSLRequest (8 bytes) whose answer is read: the
#       line adds "answers=S..." (one letter per socket).
#   slow PORT N GAP_MS SECONDS
#       N clients sending a valid StartupMessage one byte per GAP_MS (a
#       slowloris); "opened=N closed_by_peer=M last_close_ms=T sent=B".
#   keep PORT N SECONDS
#       a sustained flood: N idle sockets kept open for SECONDS, each one
#       the tunnel closes opened again (after 50 ms, to spare the CPU);
#       "opened=N closed_by_peer=M".
#   flood PORT SECONDS
#       connects and closes again, as fast as it can, for SECONDS:
#       "connects=N".
#   zeros PORT SECONDS
#       one client streaming zeros as fast as the tunnel takes them;
#       "result=EPIPE|ECONNRESET|blocked|open bytes=B ms=T": blocked when no
#       byte went out for SECONDS, open when it still streamed at the end.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Errno qw(EAGAIN EWOULDBLOCK EPIPE ECONNRESET EINTR);
use Time::HiRes qw(time sleep);

$SIG{PIPE} = 'IGNORE';
$| = 1;		# the report is read while the sockets are still held
my ($mode, $port, @args) = @ARGV;
die "usage: $0 idle|sslidle|slow|keep|flood|zeros PORT ARGS...\n" unless $mode && $port;

sub connect_one
{
	return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
		Proto => 'tcp', Timeout => 5);
}

# wait_peer DEADLINE CLOSE SOCKETS...: read until the peer ended each
# socket (EOF or error); returns (count, ms of the last end since $t0).
# With CLOSE the socket is closed then; without, it stays open, as an
# attacker who ignores the EOF keeps it.
my $t0;
sub wait_peer
{
	my ($deadline, $close, @socks) = @_;
	my $sel = IO::Select->new(@socks);
	my ($ended, $last) = (0, 0);
	while ($sel->count && time < $deadline) {
		for my $s ($sel->can_read(0.05)) {
			my $buf;
			my $r = sysread($s, $buf, 65536);
			next if defined $r && $r > 0;
			next if !defined $r && ($! == EAGAIN || $! == EINTR);
			$ended++;
			$last = int((time - $t0) * 1000);
			$sel->remove($s);
			close $s if $close;
		}
	}
	return ($ended, $last);
}

# probe_reset SOCKETS...: how many the peer closed fully (not only shut
# down for writing): a byte written to such a socket draws a reset, and
# the next write fails with EPIPE or ECONNRESET.
sub probe_reset
{
	my @socks = @_;
	syswrite($_, "\0") for @socks;
	sleep 0.3;
	return scalar grep { !defined syswrite($_, "\0") } @socks;
}

# A StartupMessage for user chat, database chatgenius (protocol 3.0).
sub startup_packet
{
	my $body = pack('N', 196608) . "user\0chat\0database\0chatgenius\0\0";
	return pack('N', 4 + length $body) . $body;
}

if ($mode eq 'idle') {
	my ($n, $waves, $gap_ms, $secs) = @args;
	my @socks;
	my $per = int(($n + $waves - 1) / $waves);
	for my $w (1 .. $waves) {
		for (1 .. $per) {
			last if @socks >= $n;
			my $s = connect_one() or next;
			push @socks, $s;
		}
		sleep($gap_ms / 1000) if $w < $waves;
	}
	$t0 = time;
	print STDERR "opened=" . scalar(@socks) . "\n";
	my ($eof, $last) = wait_peer(time + $secs, 0, @socks);
	my $reset = probe_reset(@socks);
	printf "opened=%d eof=%d last_eof_ms=%d reset=%d\n", scalar(@socks), $eof, $last, $reset;
	# Held until killed, as an attacker would: never closed from this side.
	sleep 1 while 1;
} elsif ($mode eq 'sslidle') {
	my ($n, $secs) = @args;
	my (@socks, $answers);
	$answers = '';
	for (1 .. $n) {
		my $s = connect_one() or next;
		syswrite($s, pack('NN', 8, 80877103));
		my $sel = IO::Select->new($s);
		my $a = '';
		sysread($s, $a, 1) if $sel->can_read(10);
		$answers .= $a eq '' ? '-' : $a;
		push @socks, $s;
	}
	$t0 = time;
	print STDERR "opened=" . scalar(@socks) . "\n";
	my ($closed, $last) = wait_peer(time + $secs, 1, @socks);
	printf "opened=%d closed_by_peer=%d last_close_ms=%d answers=%s\n", scalar(@socks),
		$closed, $last, $answers;
} elsif ($mode eq 'slow') {
	my ($n, $gap_ms, $secs) = @args;
	my @socks = grep { defined } map { connect_one() } 1 .. $n;
	my %open = map { ($_ => $_) } @socks;
	my $pkt = startup_packet();
	my ($sent, $i, $closed, $last) = (0, 0, 0, 0);
	$t0 = time;
	print STDERR "opened=" . scalar(@socks) . "\n";
	my $deadline = time + $secs;
	while (%open && time < $deadline) {
		for my $s (values %open) {
			my $r = $i < length $pkt ? syswrite($s, substr($pkt, $i, 1)) : 1;
			$sent++ if defined $r && $r > 0 && $i < length $pkt;
			my $buf;
			my $sel = IO::Select->new($s);
			my $gone = !defined $r;
			if (!$gone && $sel->can_read(0)) {
				my $rr = sysread($s, $buf, 4096);
				$gone = !defined $rr || $rr == 0;
			}
			if ($gone) {
				$closed++;
				$last = int((time - $t0) * 1000);
				delete $open{$s};
				close $s;
			}
		}
		$i++;
		sleep($gap_ms / 1000);
	}
	printf "opened=%d closed_by_peer=%d last_close_ms=%d sent=%d\n", scalar(@socks), $closed,
		$last, $sent;
} elsif ($mode eq 'keep') {
	my ($n, $secs) = @args;
	my (%socks, $opened, $closed);
	($opened, $closed) = (0, 0);
	$t0 = time;
	while (time - $t0 < $secs) {
		while (keys %socks < $n) {
			my $s = connect_one() or last;
			$socks{$s} = $s;
			$opened++;
		}
		print STDERR "full\n" if $opened == $n;
		my $sel = IO::Select->new(values %socks);
		my $lost = 0;
		for my $s ($sel->can_read(0.05)) {
			my $buf;
			my $r = sysread($s, $buf, 4096);
			next if defined $r && $r > 0;
			next if !defined $r && ($! == EAGAIN || $! == EINTR);
			delete $socks{$s};
			close $s;
			$closed++;
			$lost++;
		}
		sleep 0.05 if $lost;
	}
	printf "opened=%d closed_by_peer=%d\n", $opened, $closed;
} elsif ($mode eq 'flood') {
	my ($secs) = @args;
	my $n = 0;
	$t0 = time;
	while (time - $t0 < $secs) {
		my $s = connect_one() or next;
		$n++;
		close $s;
	}
	printf "connects=%d\n", $n;
} elsif ($mode eq 'zeros') {
	my ($secs) = @args;
	my $s = connect_one() or die "connect: $!\n";
	$s->blocking(0);
	my $chunk = "\0" x 65536;
	my ($bytes, $result, $last_progress) = (0, 'open', time);
	$t0 = time;
	my $sel = IO::Select->new($s);
	while (time - $t0 < $secs) {
		my $r = syswrite($s, $chunk);
		if (defined $r) {
			$bytes += $r;
			$last_progress = time;
			next;
		}
		if ($! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR) {
			if (time - $last_progress >= $secs / 2) {
				$result = 'blocked';
				last;
			}
			$sel->can_write(0.1);
			next;
		}
		$result = $! == EPIPE ? 'EPIPE' : $! == ECONNRESET ? 'ECONNRESET' : "error($!)";
		last;
	}
	printf "result=%s bytes=%d ms=%d\n", $result, $bytes, int((time - $t0) * 1000);
} else {
	die "unknown mode $mode\n";
}
