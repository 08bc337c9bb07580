#!/usr/bin/perl
# Batch mode (the *_list functions, one sixgate process over --stdin) gives
# exactly what one call per value gives, for every vector; large lists work
# without deadlock; errors name the line.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use SixgateTest;

use Test::More;

use Sixgate qw(:all);

my $v = vectors();

# Rows grouped by the options they share, so each group is one batch.
sub groups {
    my ($rows, $key) = @_;
    my (%g, @order);
    for my $r (@$rows) {
        my $k = $key->($r);
        push @order, $k unless $g{$k};
        push @{ $g{$k} }, $r;
    }
    return map { [ $_, $g{$_} ] } @order;
}

subtest 'synthesize_list and extract_list equal one call each' => sub {
    for my $g (groups($v->{rfc6052}{embed}, sub { $_[0]{prefix} })) {
        my ($prefix, $rows) = @$g;
        my @v4 = map { $_->{ipv4} } @$rows;
        my @one = map { synthesize($_, prefix => $prefix, allow_non_global => 1) } @v4;
        my @many = synthesize_list(\@v4, prefix => $prefix, allow_non_global => 1);
        is_deeply(\@many, \@one, "synthesize_list under $prefix");
        is_deeply(\@many, [ map { $_->{ipv6} } @$rows ], 'and equal the vectors');
        is_deeply([ extract_list(\@many, prefix => $prefix) ], \@v4, "extract_list under $prefix");
    }
    my @ng = map { $_->{ipv4} } @{ $v->{rfc6052}{non_global} };
    is_deeply([ synthesize_list(\@ng, allow_non_global => 1) ],
              [ map { synthesize($_, allow_non_global => 1) } @ng ], 'non-global, allowed');
    my $ref = synthesize_list($v->{rfc6052}{global});
    is(ref $ref, 'ARRAY', 'an array reference in scalar context');
    is_deeply($ref, [ map { synthesize($_) } @{ $v->{rfc6052}{global} } ], 'global addresses');
    is_deeply([ synthesize_list([]) ], [], 'an empty list runs nothing and gives nothing');
};

subtest 'canonical_list, ptr_list, normalize_list' => sub {
    my @in = map { $_->{input} } @{ $v->{text}{canonical} };
    is_deeply([ canonical_list(\@in) ], [ map { canonical($_) } @in ], 'canonical_list');
    is_deeply([ canonical_list(\@in) ], [ map { $_->{output} } @{ $v->{text}{canonical} } ],
              'canonical_list equals the vectors');
    my @addrs = map { $_->{address} } @{ $v->{text}{ptr} };
    is_deeply([ ptr_list(\@addrs) ], [ map { $_->{ptr} } @{ $v->{text}{ptr} } ], 'ptr_list');
    is_deeply([ ptr_list([ map { uc } @addrs ]) ], [ map { ptr($_) } @addrs ], 'any case in');
    for my $g (groups($v->{text}{normalize}, sub { join ',', @{ $_[0]{nat64_prefixes} } })) {
        my ($key, $rows) = @$g;
        my @p = @{ $rows->[0]{nat64_prefixes} };
        my @a = map { $_->{address} } @$rows;
        is_deeply([ normalize_list(\@a, nat64_prefixes => \@p) ],
                  [ map { normalize($_, nat64_prefixes => \@p) } @a ], "normalize_list with [$key]");
        is_deeply([ normalize_list(\@a, nat64_prefixes => \@p) ], [ map { $_->{output} } @$rows ],
                  'equals the vectors');
    }
};

subtest 'fmt_list for every style and port of the vectors' => sub {
    my @good = grep { exists $_->{output} } @{ $v->{text}{fmt} };
    for my $g (groups(\@good, sub { "$_[0]{style} " . ($_[0]{port} // '-') })) {
        my ($key, $rows) = @$g;
        my @port = defined $rows->[0]{port} ? (port => $rows->[0]{port}) : ();
        my @a = map { $_->{address} } @$rows;
        is_deeply([ fmt_list(\@a, style => $rows->[0]{style}, @port) ],
                  [ map { fmt($_, style => $rows->[0]{style}, @port) } @a ], "fmt_list $key");
        is_deeply([ fmt_list(\@a, style => $rows->[0]{style}, @port) ], [ map { $_->{output} } @$rows ],
                  'equals the vectors');
    }
};

subtest 'reverse_zones_list' => sub {
    my @p = map { $_->{prefix} } @{ $v->{text}{reverse_zones} };
    my @zones = reverse_zones_list(\@p);
    is(scalar @zones, scalar @p, 'one entry per prefix');
    is_deeply(\@zones, [ map { [ reverse_zones($_) ] } @p ], 'each equals reverse_zones');
    is_deeply(\@zones, [ map { $_->{zones} } @{ $v->{text}{reverse_zones} } ], 'and the vectors');
};

subtest 'batch mode trims whitespace around each value (one call does not)' => sub {
    is_deeply([ canonical_list([ ' 192.0.2.1', "2001:DB8::1\t" ]) ], [ '192.0.2.1', '2001:db8::1' ],
              'trimmed, as sixgate addr --stdin does');
    ok(!eval { canonical(' 192.0.2.1'); 1 }, 'a single value is taken exactly');
};

subtest 'batch errors name the line and the value, and return nothing' => sub {
    my @in = ('192.0.2.1', '198.51.100.7', '192.0.2.300', '203.0.113.5');
    my @got;
    ok(!eval { @got = synthesize_list(\@in, allow_non_global => 1); 1 }, 'a bad value croaks');
    like($@, qr/^sixgate: error: stdin line 3: "192\.0\.2\.300" is not an IPv4 address at /,
         'line 3 is the third element');
    is(scalar @got, 0, 'no partial result');
    is($Sixgate::EXIT, 2, 'exit status 2: refused input');
    ok(!eval { synthesize_list([ '131.111.150.25', '10.1.2.3' ]); 1 }, 'non-global in a batch');
    like($@, qr/stdin line 2: 10\.1\.2\.3 is in 10\.0\.0\.0\/8/, 'names line and value');
    ok(!eval { extract_list([ '64:ff9b::c000:221', '2001:DB8::1' ]); 1 }, 'outside the prefix');
    like($@, qr/stdin line 2: "2001:DB8::1": 2001:db8::1 is not inside/, 'quotes the value as given');
    ok(!eval { ptr_list([ '::1', '' ]); 1 }, 'an empty value');
    like($@, qr/stdin line 2 is empty/, 'is an empty line to sixgate');
    ok(!eval { ptr_list([ '::1', "::2\n::3" ]); 1 }, 'a value with a line break');
    like($@, qr/^Sixgate: input 2 "::2\\n::3" holds a line break/, 'is refused before sending');
    ok(!eval { ptr_list([ '::1', undef ]); 1 }, 'an undefined value');
    like($@, qr/^Sixgate: input 2 is undefined/, 'is refused too');
    ok(!eval { ptr_list('::1'); 1 }, 'a string where a list belongs');
    like($@, qr/array reference/, 'says what it expects');
};

# 100,000 values: about 1.3 MB in and 2.5 MB out, far more than a pipe
# buffer (64 KiB) in each direction.
subtest '100,000 values in one call' => sub {
    my $n = 100_000;
    my @v4 = map { join '.', 1 + $_ % 200, ($_ >> 16) % 256, ($_ >> 8) % 256, $_ % 256 } 0 .. $n - 1;
    my @v6 = synthesize_list(\@v4, prefix => '2001:db8:64::/96');
    is(scalar @v6, $n, "$n results");
    my $bad = grep { !/^2001:db8:64::[0-9a-f]{1,4}:[0-9a-f]{1,4}$/ } @v6;
    is($bad, 0, 'every one lowercase, under the prefix');
    my @back = extract_list(\@v6, prefix => '2001:db8:64::/96');
    is_deeply(\@back, \@v4, 'extract_list gives every input back, in order');
    for my $i (0, 1, 4_095, 65_536, $n - 1) {
        is($v6[$i], synthesize($v4[$i], prefix => '2001:db8:64::/96'), "element $i equals one call");
    }
    my @zones = reverse_zones_list([ map { "10.$_.0.0/16" } 0 .. 255 ]);
    is(scalar @zones, 256, 'reverse_zones_list of 256 /16s');
    is_deeply($zones[7], ['7.10.in-addr.arpa.'], 'in order');
};

subtest 'sixgate stopping early while input is still being written' => sub {
    # The first line is over sixgate's 4096-byte limit, so it exits after
    # reading it, with megabytes still unsent: EPIPE, not SIGPIPE or a hang.
    my @in = ('1' x 5000, ('192.0.2.1') x 300_000);
    ok(!eval { ptr_list(\@in); 1 }, 'croaks');
    like($@, qr/stdin line 1 is longer than 4096 bytes/, "with sixgate's message");
    is(ptr('192.0.2.1'), '1.2.0.192.in-addr.arpa.', 'and the next call works');
};

done_testing;
