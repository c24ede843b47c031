#!/usr/bin/perl
# Do --help (printed from helper/config.c's settings table), the manual pages
# and helper/.env.example agree?  Prints one line per disagreement, saying
# exactly what to add or mend and where; nothing when they agree.
#   perl test/tools/settings_agree.pl HELPER TOP KIND
# KIND: env5 (the variables of chatgenius-tunnel.env.5), example
# (.env.example), events (chatgenius-tunnel.8's EVENTS and the event_emit
# calls in helper/*.c against helper/event_list.h), refusals
# (chatgenius-tunnel.8's CLIENTS against helper/refusal_list.h), commands (chatgenius-tunnel.8's COMMANDS against
# --help's usage).
use strict;
use warnings;

my ($helper, $top, $kind) = @ARGV;
my $help = `"$helper" --help`;
die "--help failed\n" if $? != 0;

# The table, as --help prints it: name, flag, default, range, reloadable.
my (@order, %t);
my @lines = split /\n/, $help;
for my $i (0 .. $#lines) {
	next unless $lines[$i] =~ /^  ([A-Z][A-Z0-9_]+) +(--[a-z0-9-]+|\(no flag: a secret\)) +default: (.*)$/;
	my ($name, $flag, $def) = ($1, $2, $3);
	my $desc = $lines[$i + 1] // '';
	my %v = (flag => $flag =~ /^--/ ? $flag : undef, def => $def, desc => $desc);
	$v{range} = "$1 to $2" if $desc =~ / \((-?\d+) to (-?\d+)\)/;
	$v{sighup} = $desc =~ /\[SIGHUP\]\s*$/ ? 1 : 0;
	($v{what} = $desc) =~ s/^\s+|\s*\((-?\d+) to (-?\d+)\)|\s*\[SIGHUP\]\s*$//g;
	push @order, $name;
	$t{$name} = \%v;
}
die "no settings found in --help\n" unless @order;

sub slurp { local $/; open my $f, '<', $_[0] or die "$_[0]: $!\n"; my $s = <$f>; close $f; $s }

# The line a setting's manual entry ends with.
sub default_line {
	my ($v) = @_;
	my $l = "Default: $v->{def}";
	$l .= "; range $v->{range}" if defined $v->{range};
	$l .= "; reloaded on SIGHUP" if $v->{sighup};
	return "$l.";
}

sub entry_head {
	my ($name, $v) = @_;
	return ".It Ev $name " . (defined $v->{flag} ? "Pq Fl -" . substr($v->{flag}, 2) : "Pq no flag");
}

if ($kind eq 'env5') {
	my $page = 'helper/chatgenius-tunnel.env.5';
	my $man = slurp("$top/$page");
	my ($vars) = $man =~ /^\.Sh VARIABLES\n(.*?)^\.Sh /ms or die "$page: no VARIABLES section\n";
	my (%m, @m_order, $cur);
	for my $l (split /\n/, $vars) {
		if ($l =~ /^\.It Ev ([A-Z][A-Z0-9_]+)(?: (.*))?$/) {
			$cur = $1;
			push @m_order, $cur;
			$m{$cur} = { head => $l };
		} elsif (defined $cur && !defined $m{$cur}{default} && $l =~ /^Default: /) {
			$m{$cur}{default} = $l;
		}
	}
	for my $name (@order) {
		my $v = $t{$name};
		if (!$m{$name}) {
			print "$page lacks $name: add to its VARIABLES list\n", entry_head($name, $v), "\n",
				"$v->{what}.\n.Pp\n", default_line($v), "\n";
			next;
		}
		print "$page: $name: the entry should start \"", entry_head($name, $v), "\", not \"$m{$name}{head}\"\n"
			if $m{$name}{head} ne entry_head($name, $v);
		my $want = default_line($v);
		print "$page: $name: the line \"", $m{$name}{default} // '(none)', "\" should read \"$want\"\n"
			if ($m{$name}{default} // '') ne $want;
	}
	for my $name (@m_order) {
		print "$page describes $name, which config.c's settings table does not have: remove it or add the setting\n"
			unless $t{$name};
	}
} elsif ($kind eq 'example') {
	my $file = 'helper/.env.example';
	my %seen;
	for my $l (split /\n/, slurp("$top/$file")) {
		next unless $l =~ /^(# )?([A-Z][A-Z0-9_]+)=(.*)$/;
		my ($commented, $name, $val) = ($1, $2, $3);
		$seen{$name} = 1;
		if (!$t{$name}) {
			print "$file sets $name, which config.c's settings table does not have\n";
			next;
		}
		next unless $commented;
		my $def = $t{$name}{def};
		$def = '' if $def eq '(none)' || $name eq 'TUNNEL_NAME';
		print "$file: \"# $name=$val\" should show the default: \"# $name=$def\"\n" if $val ne $def;
	}
	for my $name (@order) {
		next if $seen{$name};
		my $def = $t{$name}{def} eq '(none)' ? '' : $t{$name}{def};
		print "$file lacks $name: add \"# $t{$name}{what}", ($t{$name}{sighup} ? " [SIGHUP]" : ""),
			"\" and \"# $name=$def\"\n";
	}
} elsif ($kind eq 'events') {
	# helper/event_list.h is the one list: the manual describes each of its
	# names, and each is emitted somewhere (the compiler refuses an unlisted
	# one).
	my $page = 'helper/chatgenius-tunnel.8';
	my $man = slurp("$top/$page");
	my ($ev) = $man =~ /^\.Sh EVENTS\n(.*?)^\.Sh /ms or die "$page: no EVENTS section\n";
	my %m = map { $_ => 1 } $ev =~ /^\.It Sy ([A-Za-z_]+)$/mg;
	my (%list, @order);
	for (split /\n/, slurp("$top/helper/event_list.h")) {
		next unless /^EVENT_NAME\((EV_\w+),\s*"(\w+)",\s*LOG_\w+,\s*"[\d.]+"\)/;
		$list{$2} = $1;
		push @order, $2;
	}
	die "helper/event_list.h: no EVENT_NAME rows\n" unless @order;
	my $code = join '', map { slurp($_) } glob "$top/helper/*.c";
	my %used = map { $_ => 1 } $code =~ /\bevent_emit(?:_at)?\((?:\s*LOG_[A-Z]+,)?\s*(EV_\w+)/g;
	$used{EV_EVENTS_DROPPED} = 1 if $code =~ /event_name\(EV_EVENTS_DROPPED\)/;	# spool.c's own
	for my $e (@order) {
		print "$page lacks the event $e: add \".It Sy $e\" and when it happens to its EVENTS list\n"
			unless $m{$e};
		print "helper/event_list.h lists $e, which no event_emit in helper/*.c sends: remove the row\n"
			unless $used{$list{$e}};
	}
	for my $e (sort keys %m) {
		print "$page lists the event $e, which helper/event_list.h does not have\n" unless $list{$e};
	}
} elsif ($kind eq 'refusals') {
	# helper/refusal_list.h is the one list: the manual's CLIENTS section
	# has an entry per SQLSTATE that quotes the message's first words.
	my $page = 'helper/chatgenius-tunnel.8';
	my $man = slurp("$top/$page");
	my ($cl) = $man =~ /^\.Sh CLIENTS\n(.*?)^\.Sh /ms or die "$page: no CLIENTS section\n";
	my %entry;
	my @items = split /^\.It /m, $cl;
	shift @items;
	for (@items) {
		$entry{$1} = $2 if /^([0-9A-Z]{5})\n(.*?)(?=^\.El|\z)/ms;
	}
	my (%rows, @order);
	my $list = slurp("$top/helper/refusal_list.h");
	while ($list =~ /^REFUSAL\((REFUSAL_\w+),\s*"([0-9A-Z]{5})",\s*"\w+",\s*"([^"]+)"\)/mg) {
		$rows{$2} = $3;
		push @order, $2;
	}
	die "helper/refusal_list.h: no REFUSAL rows\n" unless @order;
	for my $code (@order) {
		if (!defined $entry{$code}) {
			print "$page lacks the SQLSTATE $code: add \".It $code\" to CLIENTS, with \".Dq $rows{$code} ...\"\n";
			next;
		}
		print "$page: the CLIENTS entry $code should quote its words: \".Dq $rows{$code} ...\"\n"
			unless $entry{$code} =~ /^\.Dq \Q$rows{$code}\E/m;
	}
	for my $code (sort keys %entry) {
		print "$page describes the SQLSTATE $code, which helper/refusal_list.h does not have\n"
			unless defined $rows{$code};
	}
} elsif ($kind eq 'commands') {
	my $page = 'helper/chatgenius-tunnel.8';
	my $man = slurp("$top/$page");
	my ($cmds) = $man =~ /^\.Sh COMMANDS\n(.*?)^\.Sh /ms or die "$page: no COMMANDS section\n";
	my %m = map { $_ => 1 } $cmds =~ /^\.It Cm ([a-z]+)$/mg;
	my %h = map { $_ => 1 } $help =~ /^  chatgenius-tunnel \[?([a-z]+)\]? /mg;
	for my $c (sort keys %h) {
		print "$page lacks the command $c: add \".It Cm $c\" to COMMANDS\n" unless $m{$c};
	}
	for my $c (sort keys %m) {
		print "$page describes the command $c, which --help does not list\n" unless $h{$c};
	}
} else {
	die "unknown kind $kind\n";
}
