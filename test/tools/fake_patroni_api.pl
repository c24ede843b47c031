#!/usr/bin/perl
# fake_patroni_api.pl ADDRESS PORT PG_PORT: an attacker's HTTP server where a
# Patroni REST API is expected (test/security/tunnel_patroni_leader.t).  It
# runs from its own folder and reads its behaviour, for every request, from
# the file ./mode there; each request is appended to ./requests as "MODE
# PATH".  Says "listening" on stderr once bound, and leads a process group
# of its own whose id it writes to ./pid (kill -TERM -- -PID ends it and
# the connections it serves).  Modes:
#   neutral  503 to everything (a node whose Patroni is not leader)
#   claim    the issue's attack: 200 to every path, the body of a leader
#            whose "timeline" is 999999 (in a header too)
#   liar     claim, and GET /cluster answers a DCS view that names this
#            address (ADDRESS:PG_PORT) the leader and 127.0.0.2 a replica
#   flip     liar's /cluster; /primary alternates 200 and 503 per request
#   slow     200 with the leader's body, one byte every 300 ms after the
#            status line and a "timeline": 999999 header (past any bound)
#   huge     200, a leader's body of 20 MB (its "timeline" first)
#   chunked  200, a chunked body whose first chunk size is "-1" (a reader
#            that takes it for a number wraps its sums around)
use strict;
use warnings;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep);

$SIG{PIPE} = 'IGNORE';
$SIG{CHLD} = sub { 1 while waitpid(-1, WNOHANG) > 0 };
my ($addr, $port, $pg_port) = @ARGV;
die "usage: $0 ADDRESS PORT PG_PORT\n" unless $addr && $port && $pg_port;
my $l = IO::Socket::INET->new(Listen => 64, LocalAddr => $addr, LocalPort => $port,
	Proto => 'tcp', ReuseAddr => 1) or die "cannot listen on $addr:$port: $!\n";
setpgrp(0, 0);
if (open(my $p, '>', 'pid')) {
	print $p "$$\n";
	close $p;
}
print STDERR "listening on $addr:$port\n";

my $status_body = '{"state": "running", "postmaster_start_time": "2024-01-01 00:00:00+00:00", '
	. '"role": "master", "server_version": 150000, "xlog": {"location": 99999999}, '
	. '"timeline": 999999, "replication": [], "dcs_last_seen": 1700000000, '
	. '"database_system_identifier": "7000000000000000000", '
	. '"patroni": {"version": "3.0.2", "scope": "chatgenius-test"}}';
my $view = '{"members": [{"name": "n1", "role": "replica", "state": "running", '
	. '"api_url": "http://127.0.0.2:' . $port . '/patroni", "host": "127.0.0.2", "port": ' . $pg_port
	. ', "timeline": 1, "lag": 0}, {"name": "evil", "role": "leader", "state": "running", '
	. '"api_url": "http://' . $addr . ':' . $port . '/patroni", "host": "' . $addr . '", "port": '
	. $pg_port . ', "timeline": 999999}]}';

sub mode
{
	open(my $f, '<', 'mode') or return 'neutral';
	my $m = <$f> // 'neutral';
	chomp $m;
	return $m;
}

# requests_like PATTERN: how many logged requests match.
sub requests_like
{
	my $re = shift;
	open(my $f, '<', 'requests') or return 0;
	return scalar grep { /$re/ } <$f>;
}

sub answer
{
	my ($c, $code, $body, $extra) = @_;
	my $reason = $code == 200 ? 'OK' : 'Service Unavailable';
	print $c "HTTP/1.0 $code $reason\r\nServer: BaseHTTP/0.6 Python/3.11.2\r\n"
		. ($extra // '') . "Content-Type: application/json\r\n\r\n$body";
}

sub serve
{
	my $c = shift;
	my $req = '';
	while ($req !~ /\r?\n\r?\n/) {
		my $n = sysread($c, my $buf, 4096);
		return unless $n;
		$req .= $buf;
	}
	my ($path) = $req =~ m{^GET (\S+) HTTP/};
	$path //= '?';
	my $mode = mode();
	if (open(my $log, '>>', 'requests')) {
		print $log "$mode $path\n";
		close $log;
	}
	my $hdr = "X-Patroni-Note: \"timeline\": 999999\r\n";
	if ($mode eq 'claim') {
		answer($c, 200, $status_body, $hdr);
	} elsif ($mode eq 'liar') {
		answer($c, 200, $path eq '/cluster' ? $view : $status_body, $hdr);
	} elsif ($mode eq 'flip') {
		if ($path eq '/cluster') {
			answer($c, 200, $view, $hdr);
		} elsif ($path eq '/primary') {
			my $n = requests_like(qr{^flip /primary$});
			answer($c, $n % 2 ? 200 : 503, $status_body, $hdr);
		} else {
			answer($c, 503, $status_body, $hdr);
		}
	} elsif ($mode eq 'slow') {
		syswrite($c, "HTTP/1.0 200 OK\r\n$hdr");
		for my $ch (split //, "Content-Type: application/json\r\n\r\n$status_body") {
			syswrite($c, $ch) or last;
			sleep 0.3;
		}
	} elsif ($mode eq 'huge') {
		syswrite($c, "HTTP/1.0 200 OK\r\n${hdr}Content-Type: application/json\r\n\r\n"
			. '{"timeline": 999999, "role": "master", "pad": "');
		my $chunk = 'x' x 65536;
		for (1 .. 320) {
			syswrite($c, $chunk) or last;
		}
		syswrite($c, '"}');
	} elsif ($mode eq 'chunked') {
		syswrite($c, "HTTP/1.1 200 OK\r\n${hdr}Content-Type: application/json\r\n"
			. "Transfer-Encoding: chunked\r\n\r\n-1\r\n0\r\n\r\n");
	} else {
		answer($c, 503, '{"state": "running", "role": "replica", "timeline": 1}');
	}
}

for (;;) {
	my $c = $l->accept or next;
	my $pid = fork;
	if (defined $pid && $pid == 0) {
		close $l;
		serve($c);
		close $c;
		exit 0;
	}
	close $c;
}
