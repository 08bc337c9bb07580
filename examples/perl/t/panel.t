#!/usr/bin/perl
# examples/perl/panel.pl runs, writes what it says, finds the owner of each
# form of a log address, and is idempotent (a second run allocates nothing).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use SixgateTest;

use File::Temp qw(tempdir);
use Test::More;

use Sixgate ();

my $dir   = tempdir(CLEANUP => 1);
my $panel = "$FindBin::Bin/../panel.pl";
my $zone  = '0.0.0.0.0.0.1.0.8.b.d.0.1.0.0.2.ip6.arpa.';

for my $run (1, 2) {
    my $out = qx{$^X $panel $dir 2>&1};
    is($?, 0, "run $run exits 0") or diag $out;
    like($out, qr/^customer 42: 2001:db8:100::\/64$/m, "run $run: customer 42's /64");
    like($out, qr/^::ffff:198\.51\.100\.1\s+-> 198\.51\.100\.1\s+web1\.example\.com \(customer 42\)$/m,
         'the v4-mapped form is web1');
    like($out, qr/^64:ff9b::c633:6401\s+-> 198\.51\.100\.1\s+web1\.example\.com/m, 'so is the NAT64 form');
    like($out, qr/^2001:DB8:100::1\s+-> 2001:db8:100::1\s+web1\.example\.com/m, 'and its IPv6 address');
    like($out, qr/^203\.0\.113\.9\s+-> 203\.0\.113\.9\s+not ours$/m, 'a stranger is nobody');
}

my $plan = Sixgate::Plan->new(file => "$dir/plan.json");
is_deeply([ sort map { $_->{prefix} } $plan->show_customer(42) ],
          [ '198.51.100.1/32', '2001:db8:100::/64', '2001:db8:100::1/128' ],
          'two runs, one set of allocations');

open my $fh, '<', "$dir/munin-node.conf" or die $!;
my @munin = <$fh>;
chomp @munin;
is_deeply([ @munin[ 1 .. 3 ] ],
          [ 'allow ^2001:db8:ffff::10$', 'allow ^(::ffff:)?198\.51\.100\.10$', 'cidr_allow 2001:db8:ffff:1::/64' ],
          'munin-node access lines');

open $fh, '<', "$dir/${zone}zone" or die $!;
my $text = do { local $/; <$fh> };
like($text, qr/^\$ORIGIN \Q$zone\E$/m, 'the reverse zone file');
my $ptr = Sixgate::ptr('2001:db8:100::1');
like($text, qr/^\Q$ptr\E IN PTR web1\.example\.com\.$/m, "web1's PTR record");

done_testing;
