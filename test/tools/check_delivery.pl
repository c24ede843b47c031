#!/usr/bin/perl
# check_delivery.pl LISTENER_LOG EXPECTED_IDS
# Checks what a listener received against the committed changes.
# EXPECTED_IDS: one line per committed message insert, "user_id<TAB>id".
# Prints one "name value" line per figure:
#   received, duplicates (a payload of an insert seen twice), missing
#   (committed, not received), extra (received, never committed),
#   out_of_order (a writer's messages not in the order it committed them:
#   its ids are ULIDs, increasing within its session), reaction_first (a
#   reaction received before the message of the same transaction).
use strict;
use warnings;

my ($log, $expected) = @ARGV;
my (%want, %seen, %dup, %last_by_user, %msg_seen);
my ($received, $dups, $extra, $order, $reaction_first) = (0, 0, 0, 0, 0);

open my $e, '<', $expected or die "$expected: $!";
while (<$e>) {
	chomp;
	my ($user, $id) = split /\t/;
	$want{$id} = $user;
}
close $e;

open my $l, '<', $log or die "$log: $!";
while (<$l>) {
	next unless /^\d+\t(\w+)\t(.*)$/;
	my ($channel, $payload) = ($1, $2);
	$received++;
	my ($op) = $payload =~ /"operation" : "(\w+)"/;
	my ($id) = $payload =~ /"id" : "(\w+)"/;
	if ($channel eq 'message_change' && $op eq 'INSERT') {
		my ($user) = $payload =~ /"user_id" : "(\w+)"/;
		$dups++ if $seen{$id}++;
		$extra++ unless exists $want{$id};
		$order++ if defined $last_by_user{$user} && $last_by_user{$user} ge $id;
		$last_by_user{$user} = $id;
		$msg_seen{$id} = 1;
	} elsif ($channel eq 'reaction_change' && $op eq 'INSERT') {
		my ($mid) = $payload =~ /"message_id" : "(\w+)"/;
		$dups++ if $seen{"r$id"}++;
		$reaction_first++ unless $msg_seen{$mid};
	}
}
close $l;
my $missing = grep { !$seen{$_} } keys %want;
print "received $received\nduplicates $dups\nmissing $missing\nextra $extra\n";
print "out_of_order $order\nreaction_first $reaction_first\n";
