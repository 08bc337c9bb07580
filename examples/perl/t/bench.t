#!/usr/bin/perl
# bench.pl still runs and reports a cost per address for each mode (a tiny
# run: the figures themselves are in examples/perl/README.md).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use SixgateTest;

use Test::More;

my $bench = "$FindBin::Bin/../bench.pl";
my $out = qx{$^X $bench --seconds 0.05 --sizes 1,10,1000 --no-json 2>&1};
is($?, 0, 'bench.pl exits 0') or diag $out;
like($out, qr/^sixgate: \Q$ENV{SIXGATE}\E \(sixgate \d+\.\d+\.\d+\)$/m, 'names the binary and its version');
like($out, qr/^synthesize\(\$a\), one spawn per address\s+1\s+[\d.]+\s+\d+\s+\d+$/m, 'one spawn per address');
for my $n (1, 10, 1000) {
    like($out, qr/^synthesize_list\(\\\@a\), batch \(--stdin\)\s+$n\s+[\d.]+\s+\d+\s+\d+$/m, "batch of $n");
}
my ($one) = $out =~ /one spawn per address\s+1\s+([\d.]+)/;
my ($thousand) = $out =~ /batch \(--stdin\)\s+1000\s+([\d.]+)/;
cmp_ok($thousand, '<', $one, 'a batch of 1000 costs less per address than a process each');

done_testing;
