#!/usr/bin/perl
# tunnel_encrypted_clients.pl MODE PORT N SECONDS: local clients that start
# an encrypted PostgreSQL start-up through the tunnel and never finish it,
# for test/security/tunnel_login_encrypted.t.  Every mode opens N sockets to
# 127.0.0.1:PORT, says "opened=N answers=A" on stderr once all of them are
# in place, waits up to SECONDS for the tunnel to close each one, and prints
#   opened=N closed_by_peer=M max_held_ms=T min_held_ms=T answers=A
# (held: from the socket's connect to the tunnel's close; answers: the
# server's one-byte answer on each, '-' where none was asked or none came).
# Modes:
#   tls_byte    one byte 0x16 (a TLS record's first byte) and nothing more
#   gssenc      a GSSENCRequest; the answer is read, then silence
#   sslrequest  an SSLRequest; the answer is read, then silence
#   hello       an SSLRequest, then a real TLS client (openssl s_client,
#               one per socket, behind a relay here) whose first record,
#               its ClientHello, is passed on, and nothing after it; the
#               server's records are passed back
#   finished    the same, passing on every client record before its first
#               encrypted one (0x17, TLS 1.3's Finished): the handshake
#               stalls one step before its end, after a HelloRetryRequest's
#               second ClientHello where the server asks for one
#   complete    the same, passing everything: the handshake completes, and
#               the client then sends nothing
#   startup     the handshake completes, the client sends a StartupMessage
#               (user chat, database chatgenius) inside TLS and then nothing:
#               it stalls in the authentication, where only the server's
#               authentication_timeout can end it
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Errno qw(EAGAIN EINTR);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

$SIG{PIPE} = 'IGNORE';
$| = 1;
my ($mode, $port, $n, $secs) = @ARGV;
die "usage: $0 tls_byte|gssenc|sslrequest|hello|finished|complete|startup PORT N SECONDS\n"
	unless $mode && $port && $n && $secs;

my $SSL_REQUEST = pack('NN', 8, 80877103);
my $GSSENC_REQUEST = pack('NN', 8, 80877104);

sub connect_one
{
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
		Proto => 'tcp', Timeout => 5);
	die "connect to $port: $!\n" unless $s;
	return $s;
}

# answer SOCKET: the server's one-byte answer to a request ('-': none in 10 s).
sub answer
{
	my $s = shift;
	my $a = '';
	sysread($s, $a, 1) if IO::Select->new($s)->can_read(10);
	return $a eq '' ? '-' : $a;
}

# One attacking connection: {sock, t0, ended, relay state}.
my @conns;
my @kids;
my $answers = '';

# A StartupMessage for user chat, database chatgenius (protocol 3.0).
sub startup_packet
{
	my $body = pack('N', 196608) . "user\0chat\0database\0chatgenius\0\0";
	return pack('N', 4 + length $body) . $body;
}

# tls_client [DATA]: a listening socket on 127.0.0.1 and an openssl s_client
# connected to it, sending DATA once its handshake is done; returns the
# accepted socket (the client's side).
my @pipes;
sub tls_client
{
	my $data = shift;
	my $l = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0,
		Proto => 'tcp', ReuseAddr => 1) or die "listen: $!\n";
	pipe(my $r, my $w) or die "pipe: $!\n";
	my $pid = fork;
	die "fork: $!\n" unless defined $pid;
	if ($pid == 0) {
		close $w;
		open(STDIN, '<&', $r);
		open(STDOUT, '>', '/dev/null');
		open(STDERR, '>', '/dev/null');
		exec('openssl', 's_client', '-connect', '127.0.0.1:' . $l->sockport, '-ign_eof', '-quiet')
			or exit 127;
	}
	close $r;
	syswrite($w, $data) if defined $data;
	push @pipes, $w;		# kept open: s_client reads no end of input
	push @kids, $pid;
	IO::Select->new($l)->can_read(10) or die "openssl s_client did not connect\n";
	my $c = $l->accept or die "accept: $!\n";
	close $l;
	return $c;
}

for (1 .. $n) {
	my $t0 = time;
	my $s = connect_one();
	my $c = {sock => $s, t0 => $t0, ended => 0};
	if ($mode eq 'tls_byte') {
		syswrite($s, "\x16");
		$answers .= '-';
	} elsif ($mode eq 'gssenc') {
		syswrite($s, $GSSENC_REQUEST);
		$answers .= answer($s);
	} elsif ($mode eq 'sslrequest') {
		syswrite($s, $SSL_REQUEST);
		$answers .= answer($s);
	} elsif ($mode =~ /^(hello|finished|complete|startup)$/) {
		syswrite($s, $SSL_REQUEST);
		my $a = answer($s);
		$answers .= $a;
		die "the server did not accept TLS (answer $a)\n" unless $a eq 'S';
		$c->{client} = tls_client($mode eq 'startup' ? startup_packet() : undef);
		$c->{cbuf} = '';
		$c->{passed} = 0;		# client records passed on
		$c->{stopped} = 0;		# nothing more is passed on
	} else {
		die "unknown mode $mode\n";
	}
	push @conns, $c;
}

# relay_client C: pass the TLS client's whole records on while the mode allows.
sub relay_client
{
	my $c = shift;
	my $buf;
	my $r = sysread($c->{client}, $buf, 65536);
	return if !defined $r || $r == 0;
	return if $c->{stopped};
	$c->{cbuf} .= $buf;
	while (length($c->{cbuf}) >= 5) {
		my ($type, undef, $len) = unpack('C n n', $c->{cbuf});
		last if length($c->{cbuf}) < 5 + $len;
		if (($mode eq 'hello' && $c->{passed} >= 1) || ($mode eq 'finished' && $type == 0x17)) {
			$c->{stopped} = 1;
			$c->{cbuf} = '';
			return;
		}
		syswrite($c->{sock}, substr($c->{cbuf}, 0, 5 + $len));
		$c->{cbuf} = substr($c->{cbuf}, 5 + $len);
		$c->{passed}++;
	}
}

print STDERR "opened=" . scalar(@conns) . " answers=$answers\n";
my $deadline = time + $secs;
my ($closed, $max, $min) = (0, 0, -1);
while ($closed < @conns && time < $deadline) {
	my $sel = IO::Select->new();
	for my $c (grep { !$_->{ended} } @conns) {
		$sel->add($c->{sock});
		$sel->add($c->{client}) if $c->{client};
	}
	for my $h ($sel->can_read(0.05)) {
		my ($c) = grep { $_->{sock} == $h || ($_->{client} && $_->{client} == $h) } @conns;
		next unless $c && !$c->{ended};
		if ($c->{client} && $h == $c->{client}) {
			relay_client($c);
			next;
		}
		my $buf;
		my $r = sysread($h, $buf, 65536);
		next if !defined $r && ($! == EAGAIN || $! == EINTR);
		if (defined $r && $r > 0) {
			syswrite($c->{client}, $buf) if $c->{client};
			next;
		}
		my $held = int((time - $c->{t0}) * 1000);
		$c->{ended} = 1;
		$closed++;
		$max = $held if $held > $max;
		$min = $held if $min < 0 || $held < $min;
	}
}
for my $c (@conns) {
	next if $c->{ended};
	my $held = int((time - $c->{t0}) * 1000);
	$max = $held if $held > $max;
	$min = $held if $min < 0 || $held < $min;
}
printf "opened=%d closed_by_peer=%d max_held_ms=%d min_held_ms=%d answers=%s\n", scalar(@conns),
	$closed, $max, $min, $answers;
kill 'TERM', @kids;
waitpid($_, 0) for @kids;
