#!/usr/bin/perl
# The per-address cost of Sixgate.pm's synthesize from Perl: one sixgate
# process per address, against batch mode (synthesize_list, one process
# over --stdin) at several list sizes. Bounded: each row stops after about
# --seconds of work (default 2) or its repeat cap, whichever comes first.
#
#   SIXGATE=target/release/sixgate perl examples/perl/bench.pl
#   perl examples/perl/bench.pl --sizes 1,100,10000,100000 --seconds 2

use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;

use Getopt::Long qw(GetOptions);
use Time::HiRes qw(time);

use Sixgate ();

my $seconds = 2;
my $sizes   = '1,100,10000,100000';
my $json    = 1;
GetOptions('seconds=f' => \$seconds, 'sizes=s' => \$sizes, 'json!' => \$json)
  or die "usage: $0 [--seconds S] [--sizes N,N,...] [--no-json]\n";
my @sizes = grep { $_ >= 1 && $_ <= 1_000_000 } split /,/, $sizes;

my $sg     = Sixgate->new;
my $prefix = '2001:db8:64::/96';
my @pool   = map { join '.', 1 + $_ % 223, ($_ >> 16) % 256, ($_ >> 8) % 256, $_ % 256 } 0 .. 99_999;
my $bin    = $sg->bin;
my $version = eval { $sg->_run(['--version']) } // 'unknown';
chomp $version;
printf "sixgate: %s (%s)\nperl %vd, %s\n\n", $bin, $version, $^V, scalar localtime;

# Runs $code (which handles $n addresses) until $seconds have passed or
# $max repeats; returns microseconds per address (the median repeat) and the
# number of repeats.
sub measure {
    my ($n, $max, $code) = @_;
    my @t;
    my $start = time;
    while (@t < $max) {
        my $t = time;
        $code->();
        push @t, time - $t;
        last if time - $start > $seconds && @t >= 1;
    }
    @t = sort { $a <=> $b } @t;
    return ($t[$#t / 2] / $n * 1e6, scalar @t);
}

sub row {
    my ($what, $n, $us, $reps) = @_;
    printf "%-44s %9d %12.2f %12.0f %6d\n", $what, $n, $us, $n * $us, $reps;
}

printf "%-44s %9s %12s %12s %6s\n", 'mode', 'addresses', 'us/address', 'us/call', 'runs';

# One process per address.
{
    my $i = 0;
    my ($us, $reps) = measure(1, 2000, sub {
        my $v6 = $sg->synthesize($pool[ $i++ % @pool ], prefix => $prefix);
        die "bad result $v6" unless $v6 =~ /^2001:db8:64::/;
    });
    row('synthesize($a), one spawn per address', 1, $us, $reps);
}

# Batch mode: one process per list.
for my $n (@sizes) {
    my @list = map { $pool[ $_ % @pool ] } 0 .. $n - 1;
    my $max = $n <= 100 ? 2000 : $n <= 10_000 ? 50 : 10;
    my ($us, $reps) = measure($n, $max, sub {
        my $got = $sg->synthesize_list(\@list, prefix => $prefix);
        die "got " . scalar(@$got) . " results for $n" unless @$got == $n;
    });
    row('synthesize_list(\@a), batch (--stdin)', $n, $us, $reps);
}

# What the same batch costs read through --json and JSON::PP instead of
# plain lines (why the *_list functions read plain lines).
if ($json) {
    for my $n (grep { $_ <= 10_000 } @sizes) {
        my $input = join("\n", map { $pool[ $_ % @pool ] } 0 .. $n - 1) . "\n";
        my ($us, $reps) = measure($n, $n <= 100 ? 500 : 10, sub {
            my $rows = $sg->_json([ 'addr', 'synth', "--prefix=$prefix", '--json', '--stdin' ], $input);
            die 'short' unless @$rows == $n;
        });
        row('the same batch through --json + JSON::PP', $n, $us, $reps);
    }
}
